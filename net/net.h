/*
 * fieldcam net: HTTP client on libcurl, TLS settings, auth, backoff and
 * the Vertex AI / Cloud Storage protocol code. Uses only the base (ag.h).
 */
#pragma once

#include "ag.h"

/* Run-time versions of the libraries net/ is linked with. Borrowed
 * strings, valid for the life of the process. */
struct net_versions {
	const char *curl;        /* "7.88.1" */
	const char *tls_backend; /* what libcurl reports: "OpenSSL/3.0.x", "mbedTLS/2.28.3" */
	const char *mbedtls;     /* "2.28.3" */
};
void net_versions_get(struct net_versions *v);
