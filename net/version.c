#include <curl/curl.h>
#include <mbedtls/version.h>

#include "net.h"

void net_versions_get(struct net_versions *v)
{
	static char mbed[32];
	const curl_version_info_data *ci = curl_version_info(CURLVERSION_NOW);
	v->curl = ci->version;
	v->tls_backend = ci->ssl_version ? ci->ssl_version : "none";
	if (!mbed[0])
		mbedtls_version_get_string(mbed);
	v->mbedtls = mbed;
}
