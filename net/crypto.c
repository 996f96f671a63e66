/*
 * Crypto through mbedTLS: base64, SHA-256, RS256 signatures and JWTs.
 */
#define AG_LOG_TAG "crypto"
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

size_t net_b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t net_b64_encode(const void *in, size_t n, char *out)
{
	size_t olen = 0;
	if (mbedtls_base64_encode((unsigned char *)out, net_b64_len(n) + 1, &olen, in, n) != 0)
		AG_CHECK(!"base64 buffer sized by net_b64_len");
	out[olen] = '\0'; /* mbedTLS writes none for empty input */
	return olen;
}

size_t net_b64url_encode(const void *in, size_t n, char *out)
{
	size_t olen = net_b64_encode(in, n, out);
	while (olen && out[olen - 1] == '=')
		olen--;
	out[olen] = '\0';
	for (size_t i = 0; i < olen; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return olen;
}

int net_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	/* mbedTLS 2.28 takes unpadded input (dropping the partial group) and line breaks */
	if (n % 4 != 0 || memchr(in, '\n', n) || memchr(in, '\r', n) || memchr(in, ' ', n))
		return AG_EINVAL;
	size_t olen = 0;
	int rc = mbedtls_base64_decode(out, cap, &olen, (const unsigned char *)in, n);
	if (rc == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
		return AG_ETOOBIG;
	if (rc != 0 || olen > (size_t)INT32_MAX)
		return AG_EINVAL;
	return (int)olen;
}

void net_sha256(const void *data, size_t len, uint8_t out[32])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_sha256(data, len, out, 0);
#else
	mbedtls_sha256_ret(data, len, out, 0);
#endif
}

struct net_signer {
	mbedtls_pk_context pk;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

int net_signer_create(const char *pem, struct net_signer **out, const char **why)
{
	*why = NULL;
	struct net_signer *s = calloc(1, sizeof(*s));
	if (!s)
		return AG_ENOMEM;
	mbedtls_pk_init(&s->pk);
	mbedtls_entropy_init(&s->entropy);
	mbedtls_ctr_drbg_init(&s->drbg);
	static const char pers[] = "fieldcam-rs256";
	if (mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy,
				  (const unsigned char *)pers, sizeof(pers) - 1) != 0) {
		*why = "cannot seed the random generator";
		goto fail;
	}
	/* PEM input must include its NUL in the length */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	int rc = mbedtls_pk_parse_key(&s->pk, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0,
				      mbedtls_ctr_drbg_random, &s->drbg);
#else
	int rc = mbedtls_pk_parse_key(&s->pk, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0);
#endif
	if (rc != 0) {
		*why = "private_key is not a PEM private key";
		goto fail;
	}
	if (!mbedtls_pk_can_do(&s->pk, MBEDTLS_PK_RSA)) {
		*why = "private_key is not an RSA key (RS256 needs one)";
		goto fail;
	}
	if (mbedtls_pk_get_bitlen(&s->pk) < 2048) {
		*why = "private_key is shorter than 2048 bits";
		goto fail;
	}
	*out = s;
	return 0;
fail:
	net_signer_destroy(s);
	return AG_EINVAL;
}

void net_signer_destroy(struct net_signer *s)
{
	if (!s)
		return;
	mbedtls_pk_free(&s->pk);
	mbedtls_ctr_drbg_free(&s->drbg);
	mbedtls_entropy_free(&s->entropy);
	free(s);
}

int net_signer_rs256(struct net_signer *s, const void *data, size_t len, uint8_t *sig, size_t cap)
{
	uint8_t hash[32];
	net_sha256(data, len, hash);
	size_t slen = 0;
	if (cap < mbedtls_pk_get_len(&s->pk))
		return AG_EINVAL;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	int rc = mbedtls_pk_sign(&s->pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, cap, &slen,
				 mbedtls_ctr_drbg_random, &s->drbg);
#else
	int rc = mbedtls_pk_sign(&s->pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, &slen,
				 mbedtls_ctr_drbg_random, &s->drbg);
#endif
	if (rc != 0)
		return AG_EINVAL;
	return (int)slen;
}

int net_jwt_rs256(struct net_signer *s, const char *header_json, const char *claims_json, char **out)
{
	size_t hl = strlen(header_json), cl = strlen(claims_json);
	size_t cap = net_b64_len(hl) + net_b64_len(cl) + net_b64_len(512) + 4;
	char *jwt = malloc(cap);
	if (!jwt)
		return AG_ENOMEM;
	size_t n = net_b64url_encode(header_json, hl, jwt);
	jwt[n++] = '.';
	n += net_b64url_encode(claims_json, cl, jwt + n);
	uint8_t sig[512];
	int sl = net_signer_rs256(s, jwt, n, sig, sizeof(sig));
	if (sl < 0) {
		free(jwt);
		return sl;
	}
	jwt[n++] = '.';
	n += net_b64url_encode(sig, (size_t)sl, jwt + n);
	jwt[n] = '\0';
	*out = jwt;
	return 0;
}
