/*
 * net/: base64, SHA-256, RS256 JWTs (verified with mbedTLS), backoff,
 * Retry-After, the status table, error envelopes, the :predict and
 * generateContent parsers, URL helpers, and the HTTP client, auth and
 * net_predict() against the real reference endpoint
 * (tests/endpoint/refendpoint.py), started here.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <turbojpeg.h>

#include "ag.h"
#include "endpoint_fixture.h"
#include "net.h"
#include "base64_bulk.h" /* net/ private: checked against mbedTLS here */

/* ---- small helpers ------------------------------------------------------ */

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static bool one_line(const char *s)
{
	return !strchr(s, '\n') && !strchr(s, '\r');
}

/* base64url without padding -> bytes (via the standard decoder). */
static int b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	char *tmp = malloc(n + 4);
	assert_non_null(tmp);
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		assert_true(c != '+' && c != '/' && c != '=');
		tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	size_t m = n;
	while (m % 4)
		tmp[m++] = '=';
	int rc = net_b64_decode(tmp, m, out, cap);
	free(tmp);
	return rc;
}

/* ---- base64 ------------------------------------------------------------- */

static const struct {
	const char *in, *std, *url;
} b64_vectors[] = { /* RFC 4648 section 10 */
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

static void test_b64_encode(void **state)
{
	(void)state;
	for (size_t i = 0; i < AG_NELEM(b64_vectors); i++) {
		size_t n = strlen(b64_vectors[i].in);
		char out[32];
		memset(out, 'x', sizeof(out));
		assert_int_equal(net_b64_len(n), strlen(b64_vectors[i].std));
		size_t el = net_b64_encode(b64_vectors[i].in, n, out);
		assert_int_equal(el, strlen(b64_vectors[i].std));
		assert_int_equal(out[el], '\0'); /* NUL-terminated, even when empty */
		assert_string_equal(out, b64_vectors[i].std);
		memset(out, 'x', sizeof(out));
		el = net_b64url_encode(b64_vectors[i].in, n, out);
		assert_int_equal(el, strlen(b64_vectors[i].url));
		assert_int_equal(out[el], '\0');
		assert_string_equal(out, b64_vectors[i].url);
	}
	/* the two alphabets differ in 62 and 63 */
	static const uint8_t hi[] = { 0xfb, 0xff, 0xbf };
	char out[16];
	net_b64_encode(hi, 3, out);
	assert_string_equal(out, "+/+/");
	net_b64url_encode(hi, 3, out);
	assert_string_equal(out, "-_-_");
	net_b64_encode(hi, 2, out);
	assert_string_equal(out, "+/8=");
	net_b64url_encode(hi, 2, out);
	assert_string_equal(out, "-_8");
	/* all 256 byte values survive a round trip */
	uint8_t all[256], back[256];
	char enc[400];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	size_t el = net_b64_encode(all, sizeof(all), enc);
	assert_int_equal(el, net_b64_len(sizeof(all)));
	assert_int_equal(net_b64_decode(enc, el, back, sizeof(back)), 256);
	assert_memory_equal(all, back, 256);
	el = net_b64url_encode(all, sizeof(all), enc);
	assert_int_equal(b64url_decode(enc, el, back, sizeof(back)), 256);
	assert_memory_equal(all, back, 256);
}

/* The bulk encoder used for image bodies equals mbedTLS's, byte for byte. */
static void test_b64_bulk_matches_mbedtls(void **state)
{
	(void)state;
	size_t big = 300 * 1024 + 2;
	unsigned char *in = malloc(big);
	char *a = malloc(net_b64_len(big) + 1), *b = malloc(net_b64_len(big) + 1);
	assert_non_null(in);
	assert_non_null(a);
	assert_non_null(b);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < big; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		in[i] = (unsigned char)x;
	}
	/* around the vector steps (12 bytes read 16 on x86-64, 48 on AArch64),
	 * from an odd address too; every byte value in the first 300 KiB */
	size_t lens[] = { 0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 15, 16, 17, 27, 28, 29, 47, 48, 49, 50, 95, 96, 97,
			  57, 58, 59, 1000, 65535, big - 1 };
	for (size_t off = 0; off < 2; off++) {
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			size_t n = lens[k];
			size_t la = net_b64_bulk(in + off, n, a);
			size_t lb = net_b64_encode(in + off, n, b);
			assert_int_equal(la, lb);
			assert_int_equal(la, net_b64_len(n));
			assert_memory_equal(a, b, la);
		}
	}
	/* every 6-bit value in every lane: bytes 0..255 in a row, then shifted */
	for (size_t i = 0; i < 768; i++)
		in[i] = (unsigned char)(i * 7 + i / 256);
	size_t la = net_b64_bulk(in, 768, a);
	assert_int_equal(la, net_b64_encode(in, 768, b));
	assert_memory_equal(a, b, la);
	free(in);
	free(a);
	free(b);
}

static void test_b64_decode(void **state)
{
	(void)state;
	uint8_t out[32];
	for (size_t i = 0; i < AG_NELEM(b64_vectors); i++) {
		const char *s = b64_vectors[i].std;
		int n = net_b64_decode(s, strlen(s), out, sizeof(out));
		assert_int_equal(n, strlen(b64_vectors[i].in));
		assert_memory_equal(out, b64_vectors[i].in, (size_t)n);
	}
	/* not base64 */
	assert_int_equal(net_b64_decode("Zm9v!", 5, out, sizeof(out)), AG_EINVAL);
	assert_int_equal(net_b64_decode("Zm9v-_", 6, out, sizeof(out)), AG_EINVAL);
	assert_int_equal(net_b64_decode("Zg=a", 4, out, sizeof(out)), AG_EINVAL);
	assert_int_equal(net_b64_decode("Z===", 4, out, sizeof(out)), AG_EINVAL);
	assert_int_equal(net_b64_decode("Zm9v\x80", 5, out, sizeof(out)), AG_EINVAL);
	/* padding is required: unpadded input would lose its partial group */
	assert_int_equal(net_b64_decode("Zm9vYg", 6, out, sizeof(out)), AG_EINVAL);
	assert_int_equal(net_b64_decode("Zm9vYg=", 7, out, sizeof(out)), AG_EINVAL);
	assert_int_equal(net_b64_decode("Zm8", 3, out, sizeof(out)), AG_EINVAL);
	/* one line: no line breaks or blanks inside */
	assert_int_equal(net_b64_decode("Zm9v\r\nYmFy", 10, out, sizeof(out)), AG_EINVAL);
	assert_int_equal(net_b64_decode("Zm9v\nYg==", 9, out, sizeof(out)), AG_EINVAL);
	assert_int_equal(net_b64_decode("Zm9v YmFy   ", 12, out, sizeof(out)), AG_EINVAL);
	/* too small: exact fits, one less does not */
	assert_int_equal(net_b64_decode("Zm9vYmFy", 8, out, 6), 6);
	assert_int_equal(net_b64_decode("Zm9vYmFy", 8, out, 5), AG_ETOOBIG);
	assert_int_equal(net_b64_decode("Zm9vYg==", 8, out, 3), AG_ETOOBIG);
	assert_int_equal(net_b64_decode("Zm9vYg==", 8, out, 0), AG_ETOOBIG);
}

/* ---- SHA-256 ------------------------------------------------------------ */

static void test_sha256(void **state)
{
	(void)state;
	static const struct {
		const char *in, *hex;
	} v[] = { /* FIPS 180-2 appendix B */
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	uint8_t d[32];
	char h[65];
	for (size_t i = 0; i < AG_NELEM(v); i++) {
		net_sha256(v[i].in, strlen(v[i].in), d);
		hex(d, 32, h);
		assert_string_equal(h, v[i].hex);
	}
	char *million = malloc(1000000);
	assert_non_null(million);
	memset(million, 'a', 1000000);
	net_sha256(million, 1000000, d);
	free(million);
	hex(d, 32, h);
	assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* ---- RS256 and JWTs ----------------------------------------------------- */

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static char *pem_pkcs1;   /* RSA-2048 from mbedTLS, "BEGIN RSA PRIVATE KEY" */
static char *pem_pkcs8;   /* RSA-2048 from openssl genpkey, "BEGIN PRIVATE KEY"; NULL without openssl */

/* A PEM private key written by mbedTLS: RSA of bits, or EC P-256 when bits is 0. */
static char *gen_key_pem(unsigned bits)
{
	mbedtls_pk_context pk;
	mbedtls_pk_init(&pk);
	if (bits) {
		assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
		assert_int_equal(mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), mbedtls_ctr_drbg_random, &drbg, bits, 65537), 0);
	} else {
		assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
		assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
						     mbedtls_ctr_drbg_random, &drbg), 0);
	}
	size_t cap = 16000;
	char *pem = malloc(cap);
	assert_non_null(pem);
	assert_int_equal(mbedtls_pk_write_key_pem(&pk, (unsigned char *)pem, cap), 0);
	mbedtls_pk_free(&pk);
	return pem;
}

/* Output of a shell command (NULL if it failed or printed nothing). */
static char *run_capture(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	size_t r;
	while ((r = fread(buf + n, 1, cap - 1 - n, f)) > 0)
		n += r;
	buf[n] = '\0';
	if (pclose(f) != 0 || n == 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool have_openssl(void)
{
	return system("openssl version >/dev/null 2>&1") == 0;
}

static int crypto_setup(void **state)
{
	(void)state;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	static const char pers[] = "test_net";
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, (const unsigned char *)pers,
				  sizeof(pers) - 1) != 0)
		return -1;
	pem_pkcs1 = gen_key_pem(2048);
	if (!strstr(pem_pkcs1, "-----BEGIN RSA PRIVATE KEY-----"))
		return -1;
	if (have_openssl()) {
		pem_pkcs8 = run_capture("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null");
		if (!pem_pkcs8 || !strstr(pem_pkcs8, "-----BEGIN PRIVATE KEY-----"))
			return -1;
	}
	return 0;
}

static int crypto_teardown(void **state)
{
	(void)state;
	free(pem_pkcs1);
	free(pem_pkcs8);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return 0;
}

static int verify_rs256(mbedtls_pk_context *pk, const void *data, size_t len, const uint8_t *sig, size_t slen)
{
	uint8_t h[32];
	net_sha256(data, len, h);
	return mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, h, sizeof(h), sig, slen);
}

static void parse_pub(mbedtls_pk_context *pk, const char *pem)
{
	mbedtls_pk_init(pk);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	assert_int_equal(mbedtls_pk_parse_key(pk, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0,
					      mbedtls_ctr_drbg_random, &drbg), 0);
#else
	assert_int_equal(mbedtls_pk_parse_key(pk, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0), 0);
#endif
}

/* Sign a JWT with pem, take it apart and check every piece. */
static void check_jwt(const char *pem)
{
	struct net_signer *s = NULL;
	const char *why = "unset";
	assert_int_equal(net_signer_create(pem, &s, &why), 0);
	assert_non_null(s);
	mbedtls_pk_context pk;
	parse_pub(&pk, pem);

	/* the raw signature: deterministic, verifiable, refused into a short buffer */
	uint8_t sig[512], sig2[512];
	int sl = net_signer_rs256(s, "hello", 5, sig, sizeof(sig));
	assert_int_equal(sl, 256);
	assert_int_equal(verify_rs256(&pk, "hello", 5, sig, (size_t)sl), 0);
	assert_int_equal(net_signer_rs256(s, "hello", 5, sig2, sizeof(sig2)), 256);
	assert_memory_equal(sig, sig2, 256); /* PKCS#1 v1.5 has no randomness */
	assert_int_not_equal(verify_rs256(&pk, "hellp", 5, sig, (size_t)sl), 0);
	assert_int_equal(net_signer_rs256(s, "hello", 5, sig2, 255), AG_EINVAL);

	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k-1\"}";
	static const char claims[] = "{\"iss\":\"cam@fieldcam-test.iam.gserviceaccount.com\","
				     "\"scope\":\"https://www.googleapis.com/auth/cloud-platform\","
				     "\"aud\":\"https://127.0.0.1:1/token\",\"iat\":1718000000,\"exp\":1718003600}";
	char *jwt = NULL;
	assert_int_equal(net_jwt_rs256(s, header, claims, &jwt), 0);
	assert_non_null(jwt);
	assert_null(strpbrk(jwt, "=+/ \n"));
	char *d1 = strchr(jwt, '.');
	assert_non_null(d1);
	char *d2 = strchr(d1 + 1, '.');
	assert_non_null(d2);
	assert_null(strchr(d2 + 1, '.'));

	uint8_t buf[1024];
	int n = b64url_decode(jwt, (size_t)(d1 - jwt), buf, sizeof(buf));
	assert_int_equal(n, strlen(header));
	assert_memory_equal(buf, header, (size_t)n);
	cJSON *hj = cJSON_ParseWithLength((const char *)buf, (size_t)n);
	assert_string_equal(cJSON_GetObjectItem(hj, "alg")->valuestring, "RS256");
	assert_string_equal(cJSON_GetObjectItem(hj, "kid")->valuestring, "k-1");
	cJSON_Delete(hj);

	n = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf, sizeof(buf));
	assert_int_equal(n, strlen(claims));
	assert_memory_equal(buf, claims, (size_t)n);
	cJSON *cj = cJSON_ParseWithLength((const char *)buf, (size_t)n);
	assert_int_equal((long)cJSON_GetObjectItem(cj, "exp")->valuedouble, 1718003600);
	assert_string_equal(cJSON_GetObjectItem(cj, "aud")->valuestring, "https://127.0.0.1:1/token");
	cJSON_Delete(cj);

	int slen = b64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
	assert_int_equal(slen, 256);
	assert_int_equal(verify_rs256(&pk, jwt, (size_t)(d2 - jwt), sig, (size_t)slen), 0);

	/* the same signature over other claims must not verify */
	static const char evil[] = "{\"iss\":\"evil@example.com\",\"iat\":1718000000,\"exp\":1718003600}";
	char tampered[2048];
	size_t tl = (size_t)(d1 - jwt) + 1;
	memcpy(tampered, jwt, tl);
	tl += net_b64url_encode(evil, strlen(evil), tampered + tl);
	assert_int_not_equal(verify_rs256(&pk, tampered, tl, sig, (size_t)slen), 0);
	/* nor one flipped bit of the signature */
	sig[100] ^= 0x10;
	assert_int_not_equal(verify_rs256(&pk, jwt, (size_t)(d2 - jwt), sig, (size_t)slen), 0);

	free(jwt);
	mbedtls_pk_free(&pk);
	net_signer_destroy(s);
}

static void test_jwt_pkcs1(void **state)
{
	(void)state;
	check_jwt(pem_pkcs1);
}

static void test_jwt_pkcs8(void **state)
{
	(void)state;
	if (!pem_pkcs8)
		skip(); /* no openssl to make a PKCS#8 key with */
	check_jwt(pem_pkcs8);
}

static void expect_refused(const char *pem, const char *why_part)
{
	struct net_signer *s = (struct net_signer *)&s; /* must stay untouched */
	const char *why = NULL;
	assert_int_equal(net_signer_create(pem, &s, &why), AG_EINVAL);
	assert_ptr_equal(s, (struct net_signer *)&s);
	assert_non_null(why);
	assert_non_null(strstr(why, why_part));
}

static void test_signer_refuses(void **state)
{
	(void)state;
	expect_refused("", "not a PEM");
	expect_refused("garbage", "not a PEM");
	expect_refused("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "not a PEM");
	/* a truncated real key */
	char *cut = ag_strdup(pem_pkcs1);
	cut[strlen(cut) / 2] = '\0';
	expect_refused(cut, "not a PEM");
	free(cut);

	char *ec = gen_key_pem(0);
	assert_non_null(strstr(ec, "EC PRIVATE KEY"));
	expect_refused(ec, "not an RSA key");
	free(ec);

	char *small = gen_key_pem(1024);
	expect_refused(small, "2048");
	free(small);

	/* a public key is no private key */
	mbedtls_pk_context pk;
	parse_pub(&pk, pem_pkcs1);
	char pub[4096];
	assert_int_equal(mbedtls_pk_write_pubkey_pem(&pk, (unsigned char *)pub, sizeof(pub)), 0);
	mbedtls_pk_free(&pk);
	expect_refused(pub, "not a PEM");
}

/* ---- backoff ------------------------------------------------------------ */

struct fixed_rand {
	uint64_t v;
};

static uint64_t rand_fixed(void *ctx)
{
	return ((struct fixed_rand *)ctx)->v;
}

static uint64_t splitmix64(void *ctx)
{
	uint64_t *s = ctx;
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * The window of the next draw is exactly w: a draw of w gives w and a draw
 * of w + 1 gives 0 (the draw is r mod (window + 1)). Leaves b as after one
 * net_backoff_next(b, -1, slow).
 */
static void expect_window(struct net_backoff *b, bool slow, uint64_t w)
{
	struct fixed_rand fr;
	b->rand64 = rand_fixed;
	b->rand_ctx = &fr;
	unsigned a = b->attempt;
	fr.v = w;
	assert_int_equal(net_backoff_next(b, -1, slow), w);
	b->attempt = a;
	fr.v = w + 1;
	assert_int_equal(net_backoff_next(b, -1, slow), 0);
}

static void test_backoff_growth_cap_reset(void **state)
{
	(void)state;
	struct net_backoff b;
	net_backoff_init(&b, 1000, 60000, 2.0);
	static const uint64_t win[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000 };
	for (size_t i = 0; i < AG_NELEM(win); i++) {
		assert_int_equal(b.attempt, i);
		expect_window(&b, false, win[i]);
	}
	/* far past the cap (attempt counter saturates, pow overflows): still max */
	for (int i = 0; i < 2000; i++)
		net_backoff_next(&b, -1, false);
	expect_window(&b, false, 60000);
	net_backoff_reset(&b);
	assert_int_equal(b.attempt, 0);
	expect_window(&b, false, 1000);
	expect_window(&b, false, 2000);

	/* multiplier 1.5 */
	net_backoff_init(&b, 1000, 10000, 1.5);
	expect_window(&b, false, 1000);
	expect_window(&b, false, 1500);
	expect_window(&b, false, 2250);

	/* the default generator stays inside the window too */
	net_backoff_init(&b, 100, 800, 2.0);
	for (int i = 0; i < 1000; i++) {
		uint64_t w = 100u << (b.attempt < 3 ? b.attempt : 3);
		assert_true(net_backoff_next(&b, -1, false) <= w);
		if (i % 5 == 4)
			net_backoff_reset(&b);
	}
}

static void test_backoff_jitter_distribution(void **state)
{
	(void)state;
	uint64_t seed = 0x1234567;
	struct net_backoff b;
	net_backoff_init(&b, 500, 300000, 2.0);
	b.rand64 = splitmix64;
	b.rand_ctx = &seed;
	for (unsigned n = 0; n < 12; n++) {
		double w = fmin(300000.0, 500.0 * pow(2.0, n));
		const int draws = 10000;
		double sum = 0;
		unsigned lo = 0, hi = 0; /* bottom and top tenth */
		uint64_t maxd = 0;
		for (int i = 0; i < draws; i++) {
			b.attempt = n;
			uint64_t d = net_backoff_next(&b, -1, false);
			assert_true(d <= (uint64_t)w);
			sum += (double)d;
			if (d > maxd)
				maxd = d;
			lo += (double)d < w / 10;
			hi += (double)d > w * 9 / 10;
		}
		double mean = sum / draws;
		/* the mean's standard deviation is w / sqrt(12 * 10000) ~ 0.003 w */
		if (fabs(mean - w / 2) > 0.03 * (w / 2))
			fail_msg("attempt %u: mean %.1f, want %.1f +- 3%%", n, mean, w / 2);
		/* full jitter: the whole window is used, from 0 to the top */
		assert_in_range(lo, 800, 1200);
		assert_in_range(hi, 800, 1200);
		assert_true((double)maxd > w * 0.99);
	}
}

static void test_backoff_floor_and_slow_down(void **state)
{
	(void)state;
	struct fixed_rand fr = { 0 };
	struct net_backoff b;
	net_backoff_init(&b, 1000, 60000, 2.0);
	b.rand64 = rand_fixed;
	b.rand_ctx = &fr;

	/* Retry-After is a floor: a draw of 0 becomes it */
	assert_int_equal(net_backoff_next(&b, 5000, false), 5000);
	/* a draw above the floor stays */
	fr.v = 1500;
	assert_int_equal(net_backoff_next(&b, 1000, false), 1500);
	/* above max (60 s) it is still honoured, up to an hour */
	fr.v = 0;
	assert_int_equal(net_backoff_next(&b, 120000, false), 120000);
	assert_int_equal(net_backoff_next(&b, NET_RETRY_AFTER_CAP_MS, false), NET_RETRY_AFTER_CAP_MS);
	assert_int_equal(net_backoff_next(&b, 86400000, false), NET_RETRY_AFTER_CAP_MS);
	assert_int_equal(net_backoff_next(&b, INT64_MAX, false), NET_RETRY_AFTER_CAP_MS);
	/* no floor, or 0 */
	assert_int_equal(net_backoff_next(&b, -1, false), 0);
	assert_int_equal(net_backoff_next(&b, 0, false), 0);

	/* 429: the window grows two steps at once */
	net_backoff_reset(&b);
	expect_window(&b, true, 2000);   /* would be 1000 */
	assert_int_equal(b.attempt, 2);
	expect_window(&b, false, 4000);  /* would be 2000 */
	expect_window(&b, true, 16000);  /* 8000 skipped */
	expect_window(&b, false, 32000);
	/* capped all the same */
	expect_window(&b, true, 60000);
}

/* ---- Retry-After -------------------------------------------------------- */

static void test_retry_after(void **state)
{
	(void)state;
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	assert_int_equal(net_parse_retry_after("0", now), 0);
	assert_int_equal(net_parse_retry_after("2", now), 2000);
	assert_int_equal(net_parse_retry_after("120", now), 120000);
	assert_int_equal(net_parse_retry_after(" 30 ", now), 30000);
	/* HTTP dates (IMF-fixdate) against the injected now */
	assert_int_equal(net_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 0);
	assert_int_equal(net_parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), 30000);
	assert_int_equal(net_parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now), 86400000);
	assert_int_equal(net_parse_retry_after("Sun, 06 Nov 1994 08:49:36 GMT", now), 0); /* past */
	assert_int_equal(net_parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now), 0);
	time_t y2025 = 1735689600; /* Wed, 01 Jan 2025 00:00:00 GMT */
	assert_int_equal(net_parse_retry_after("Wed, 01 Jan 2025 00:01:00 GMT", y2025), 60000);
	/* garbage */
	static const char *bad[] = {
		"", "soon", "-1", "1.5", "12abc", "0x10", "Sun, 06 Foo 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49:37 PST", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
		"Sun, 06 Nov 1994", "99999999999999999999999",
		/* found by fuzz_vertex: a far year overflowed the ms product */
		"Sun, 06 Nov 2147483647 08:49:37 GMT", "Sun, 06 Nov 1996 08:49:37 GMT",
		"Sun, 06 No 1994 08:49:37 GMT", "Sun, 06 Nov 1994 -1:49:37 GMT", "Sun, 06 Nov 1994 08:-9:37 GMT",
	};
	for (size_t i = 0; i < AG_NELEM(bad); i++)
		if (net_parse_retry_after(bad[i], now) != -1)
			fail_msg("\"%s\" gave %lld", bad[i], (long long)net_parse_retry_after(bad[i], now));
}

/* ---- status table and error bodies --------------------------------------- */

static void test_classify_status(void **state)
{
	(void)state;
	static const struct {
		long status;
		enum net_verdict v;
	} t[] = { /* vertex-api.md 0.3 */
		{ 200, NET_DONE }, { 201, NET_DONE }, { 204, NET_DONE },
		{ 400, NET_REJECT }, { 413, NET_REJECT },                     /* payload at fault */
		{ 501, NET_FAIL },                                            /* UNIMPLEMENTED */
		{ 401, NET_FAIL },                                            /* after the one repeat */
		{ 403, NET_FAIL }, { 404, NET_FAIL },                         /* config: retry.max */
		{ 409, NET_FAIL }, { 412, NET_FAIL },                         /* the caller decides */
		{ 429, NET_RETRY }, { 499, NET_RETRY },
		{ 500, NET_RETRY }, { 503, NET_RETRY }, { 504, NET_RETRY },
		{ 408, NET_RETRY }, { 502, NET_RETRY },
		{ 418, NET_FAIL }, { 505, NET_RETRY },                        /* others by class */
	};
	for (size_t i = 0; i < AG_NELEM(t); i++)
		if (net_classify_status(t[i].status) != t[i].v)
			fail_msg("%ld: %s, want %s", t[i].status, net_verdict_name(net_classify_status(t[i].status)),
				 net_verdict_name(t[i].v));
	assert_string_equal(net_verdict_name(NET_DONE), "done");
	assert_string_equal(net_verdict_name(NET_RETRY), "retry");
	assert_string_equal(net_verdict_name(NET_REJECT), "reject");
	assert_string_equal(net_verdict_name(NET_FAIL), "fail");
}

static void fake_reply(struct net_response *rs, long status, const char *body)
{
	memset(rs, 0, sizeof(*rs));
	rs->status = status;
	rs->body = body;
	rs->len = strlen(body);
	rs->retry_after_ms = -1;
}

static void test_outcome_from_reply(void **state)
{
	(void)state;
	struct net_outcome oc;
	struct net_response rs;

	/* Google's envelope, message with a newline */
	fake_reply(&rs, 400,
		   "{\"error\": {\"code\": 400, \"status\": \"INVALID_ARGUMENT\", \"message\": \"Invalid JSON payload "
		   "received.\\nUnknown name \\\"foo\\\"\", \"details\": [{\"@type\": "
		   "\"type.googleapis.com/google.rpc.BadRequest\", \"fieldViolations\": [{\"description\": \"x\"}]}]}}");
	net_outcome_from_reply(&oc, "predict", 0, &rs);
	assert_int_equal(oc.verdict, NET_REJECT);
	assert_int_equal(oc.status, 400);
	assert_string_equal(oc.msg, "predict: HTTP 400: INVALID_ARGUMENT: Invalid JSON payload received. "
				    "Unknown name \"foo\"");
	assert_int_equal(oc.retry_after_ms, -1);
	assert_false(oc.slow_down);

	/* 400s that are not the payload's fault keep the record; a 413 stays its fault */
	static const struct {
		long status;
		const char *body;
		enum net_verdict v;
	} kinds[] = {
		{ 400, "{\"error\": {\"code\": 400, \"message\": \"API key not valid. Please pass a valid API key.\", "
		       "\"status\": \"INVALID_ARGUMENT\", \"details\": [{\"@type\": \"type.googleapis.com/google.rpc.ErrorInfo\", "
		       "\"reason\": \"API_KEY_INVALID\", \"domain\": \"googleapis.com\"}]}}", NET_FAIL },
		{ 400, "{\"error\": {\"code\": 400, \"message\": \"The endpoint has no deployed model.\", "
		       "\"status\": \"FAILED_PRECONDITION\"}}", NET_FAIL },
		/* ErrorInfo with another reason, or API_KEY_ outside an ErrorInfo */
		{ 400, "{\"error\": {\"code\": 400, \"status\": \"INVALID_ARGUMENT\", \"message\": \"m\", \"details\": "
		       "[{\"@type\": \"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"IMAGE_UNREADABLE\"}, "
		       "{\"@type\": \"type.googleapis.com/google.rpc.BadRequest\", \"reason\": \"API_KEY_INVALID\"}]}}",
		  NET_REJECT },
		{ 413, "{\"error\": {\"code\": 413, \"status\": \"FAILED_PRECONDITION\", \"message\": \"m\"}}", NET_REJECT },
	};
	for (size_t i = 0; i < AG_NELEM(kinds); i++) {
		fake_reply(&rs, kinds[i].status, kinds[i].body);
		net_outcome_from_reply(&oc, "generateContent", 0, &rs);
		if (oc.verdict != kinds[i].v)
			fail_msg("case %zu: verdict %s", i, net_verdict_name(oc.verdict));
	}
	fake_reply(&rs, 400, kinds[0].body);
	net_outcome_from_reply(&oc, "generateContent", 0, &rs);
	assert_string_equal(oc.msg, "generateContent: HTTP 400: INVALID_ARGUMENT: API key not valid. Please pass a valid "
				    "API key.");

	/* Cloud Storage: no status */
	fake_reply(&rs, 412,
		   "{\"error\": {\"code\": 412, \"message\": \"At least one of the pre-conditions you specified did "
		   "not hold.\", \"errors\": [{\"domain\": \"global\", \"reason\": \"conditionNotMet\"}]}}");
	net_outcome_from_reply(&oc, "upload", 0, &rs);
	assert_int_equal(oc.verdict, NET_FAIL);
	assert_string_equal(oc.msg, "upload: HTTP 412: At least one of the pre-conditions you specified did not hold.");

	/* OAuth */
	fake_reply(&rs, 400, "{\"error\": \"invalid_grant\", \"error_description\": \"Invalid JWT Signature.\"}");
	net_outcome_from_reply(&oc, "token", 0, &rs);
	assert_int_equal(oc.verdict, NET_REJECT);
	assert_string_equal(oc.msg, "token: HTTP 400: invalid_grant: Invalid JWT Signature.");

	/* a one-element array around Google's envelope */
	fake_reply(&rs, 429,
		   "[{\"error\": {\"code\": 429, \"message\": \"Resource exhausted. Please try again later.\", "
		   "\"status\": \"RESOURCE_EXHAUSTED\"}}]");
	net_outcome_from_reply(&oc, "generateContent", 0, &rs);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_true(oc.slow_down);
	assert_string_equal(oc.msg, "generateContent: HTTP 429: RESOURCE_EXHAUSTED: Resource exhausted. Please try "
				    "again later.");

	/* plain text (a proxy's page): one line, bounded */
	fake_reply(&rs, 502, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n\t<body>\x01\x1b</body></html>\n");
	net_outcome_from_reply(&oc, "predict", 0, &rs);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_true(one_line(oc.msg));
	assert_non_null(strstr(oc.msg, "502 Bad Gateway"));
	assert_null(strchr(oc.msg, '\x1b'));
	char big[3000];
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = i % 50 == 49 ? '\n' : 'a' + (char)(i % 26);
	big[sizeof(big) - 1] = '\0';
	fake_reply(&rs, 500, big);
	net_outcome_from_reply(&oc, "predict", 0, &rs);
	assert_true(one_line(oc.msg));
	assert_true(strlen(oc.msg) < sizeof(oc.msg));
	/* an empty body */
	fake_reply(&rs, 503, "");
	net_outcome_from_reply(&oc, "predict", 0, &rs);
	assert_string_equal(oc.msg, "predict: HTTP 503");

	/* transport errors retry, with curl's one line */
	fake_reply(&rs, 0, "");
	ag_strlcpy(rs.error, "Connection reset by peer", sizeof(rs.error));
	net_outcome_from_reply(&oc, "predict", AG_ENET, &rs);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_int_equal(oc.status, 0);
	assert_string_equal(oc.msg, "predict: Connection reset by peer");
	fake_reply(&rs, 0, "");
	net_outcome_from_reply(&oc, "predict", AG_ETIMEDOUT, &rs);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_non_null(strstr(oc.msg, ag_strerror(AG_ETIMEDOUT)));

	/* RetryInfo when no Retry-After came; the header wins when both do */
	static const char ri[] =
		"{\"error\": {\"code\": 503, \"status\": \"UNAVAILABLE\", \"message\": \"busy\", \"details\": ["
		"{\"@type\": \"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"X\"},"
		"{\"@type\": \"type.googleapis.com/google.rpc.RetryInfo\", \"retryDelay\": \"2.5s\"}]}}";
	fake_reply(&rs, 503, ri);
	net_outcome_from_reply(&oc, "predict", 0, &rs);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_int_equal(oc.retry_after_ms, 2500);
	fake_reply(&rs, 503, ri);
	rs.retry_after_ms = 7000;
	net_outcome_from_reply(&oc, "predict", 0, &rs);
	assert_int_equal(oc.retry_after_ms, 7000);
	fake_reply(&rs, 503, "{\"error\": {\"details\": [{\"@type\": \"type.googleapis.com/google.rpc.RetryInfo\", "
			     "\"retryDelay\": \"soon\"}]}}");
	net_outcome_from_reply(&oc, "predict", 0, &rs);
	assert_int_equal(oc.retry_after_ms, -1);
}

/* ---- :predict replies ---------------------------------------------------- */

static int parse_predict(const char *body, struct net_prediction *p, const char **why)
{
	/* an exact-size copy: the parser must not read past len */
	size_t n = strlen(body);
	char *copy = malloc(n ? n : 1);
	memcpy(copy, body, n);
	int rc = net_predict_parse(copy, n, p, why);
	free(copy);
	if (rc == 0)
		assert_null(*why);
	else
		assert_non_null(*why);
	return rc;
}

static void test_predict_parse_good(void **state)
{
	(void)state;
	struct net_prediction p;
	const char *why;
	/* vertex-api.md 1 */
	assert_int_equal(parse_predict("{\"predictions\": [{\"ids\": [\"8420011357000000000\", \"1152921504606846976\"],\n"
				       "   \"displayNames\": [\"apple_scab\", \"healthy\"], \"confidences\": [0.91, 0.07]}],\n"
				       " \"deployedModelId\": \"5349204950000000000\"}",
				       &p, &why), 0);
	assert_int_equal(p.nlabels, 2);
	assert_string_equal(p.labels[0].id, "8420011357000000000");
	assert_string_equal(p.labels[0].name, "apple_scab");
	assert_true(p.labels[0].confidence == 0.91);
	assert_string_equal(p.labels[1].id, "1152921504606846976");
	assert_string_equal(p.labels[1].name, "healthy");
	assert_true(p.labels[1].confidence == 0.07);
	assert_string_equal(p.deployed_model_id, "5349204950000000000");
	assert_string_equal(p.model, "");

	/* Google's own example has small numeric ids; model copied */
	assert_int_equal(parse_predict("{\"predictions\":[{\"ids\":[1,2],\"displayNames\":[\"a\",\"b\"],"
				       "\"confidences\":[1,0]}],\"deployedModelId\":\"77\","
				       "\"model\":\"projects/1/locations/us-central1/models/9\"}", &p, &why), 0);
	assert_int_equal(p.nlabels, 2);
	assert_string_equal(p.labels[0].id, "1");
	assert_string_equal(p.labels[1].id, "2");
	assert_string_equal(p.deployed_model_id, "77");
	assert_string_equal(p.model, "projects/1/locations/us-central1/models/9");

	/* 19-digit numbers stay exact (a double would round them) */
	assert_int_equal(parse_predict("{\"predictions\":[{\"ids\": [ 8420011357000000001 ,\n\t1152921504606846977],"
				       "\"displayNames\":[\"x\",\"y\"],\"confidences\":[0.5,0.25]}]}", &p, &why), 0);
	assert_string_equal(p.labels[0].id, "8420011357000000001");
	assert_string_equal(p.labels[1].id, "1152921504606846977");
	/* the arrays in another order, strings before the ids key */
	assert_int_equal(parse_predict("{\"predictions\":[{\"displayNames\":[\"say \\\"ids\\\": [1]\"],"
				       "\"confidences\":[0.5],\"ids\":[9223372036854775807]}]}", &p, &why), 0);
	assert_string_equal(p.labels[0].id, "9223372036854775807");
	assert_string_equal(p.labels[0].name, "say \"ids\": [1]");

	/*
	 * Numeric ids are read from the raw text: another "ids" array (nested
	 * elsewhere, or after the JSON value, which cJSON ignores) must never
	 * lend its numbers. The right id or a refusal, not a wrong id.
	 */
	static const char *other_ids[] = {
		"{\"meta\":{\"ids\":[5]},\"predictions\":[{\"ids\":[8420011357000000001],\"displayNames\":[\"a\"],"
		"\"confidences\":[0.5]}]}",
		"{\"predictions\":[{\"ids\":\x01[8420011357000000001],\"displayNames\":[\"a\"],\"confidences\":[0.5]}]}"
		" {\"ids\":[5]}",
		/* and when the only raw match runs to the end of the buffer */
		"{\"predictions\":[{\"ids\":\x01[8420011357000000001],\"displayNames\":[\"a\"],\"confidences\":[0.5]}]}"
		" {\"ids\": [",
	};
	for (size_t i = 0; i < AG_NELEM(other_ids); i++) {
		int rc = parse_predict(other_ids[i], &p, &why);
		if (rc == 0 && strcmp(p.labels[0].id, "8420011357000000001") != 0)
			fail_msg("case %zu: id %s taken from another array", i, p.labels[0].id);
	}

	/* empty arrays: no labels, not an error */
	assert_int_equal(parse_predict("{\"predictions\":[{\"ids\":[],\"displayNames\":[],\"confidences\":[]}],"
				       "\"deployedModelId\":\"5\"}", &p, &why), 0);
	assert_int_equal(p.nlabels, 0);
	assert_string_equal(p.deployed_model_id, "5");

	/* more labels than fit: the first NET_MAX_LABELS */
	char big[8192];
	size_t n = (size_t)snprintf(big, sizeof(big), "{\"predictions\":[{\"ids\":[");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"%d\"", i ? "," : "", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "],\"displayNames\":[");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"l%d\"", i ? "," : "", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "],\"confidences\":[");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s0.%02d", i ? "," : "", 99 - i);
	snprintf(big + n, sizeof(big) - n, "]}]}");
	assert_int_equal(parse_predict(big, &p, &why), 0);
	assert_int_equal(p.nlabels, NET_MAX_LABELS);
	assert_string_equal(p.labels[NET_MAX_LABELS - 1].name, "l31");
}

static void test_predict_parse_bad(void **state)
{
	(void)state;
	static const char *bad[] = {
		"",
		"not json",
		"[1,2]",
		"{}",
		"{\"predictions\": {}}",
		"{\"predictions\": []}",
		"{\"predictions\": [1]}",
		/* two predictions for one image */
		"{\"predictions\":[{\"ids\":[],\"displayNames\":[],\"confidences\":[]},"
		"{\"ids\":[],\"displayNames\":[],\"confidences\":[]}]}",
		/* missing arrays */
		"{\"predictions\":[{\"displayNames\":[\"a\"],\"confidences\":[0.5]}]}",
		"{\"predictions\":[{\"ids\":[\"1\"],\"confidences\":[0.5]}]}",
		"{\"predictions\":[{\"ids\":[\"1\"],\"displayNames\":[\"a\"]}]}",
		"{\"predictions\":[{\"ids\":\"1\",\"displayNames\":[\"a\"],\"confidences\":[0.5]}]}",
		/* mismatched lengths */
		"{\"predictions\":[{\"ids\":[\"1\",\"2\"],\"displayNames\":[\"a\"],\"confidences\":[0.5]}]}",
		"{\"predictions\":[{\"ids\":[\"1\"],\"displayNames\":[\"a\"],\"confidences\":[0.5,0.1]}]}",
		/* confidence outside [0, 1] or not a number */
		"{\"predictions\":[{\"ids\":[\"1\"],\"displayNames\":[\"a\"],\"confidences\":[1.5]}]}",
		"{\"predictions\":[{\"ids\":[\"1\"],\"displayNames\":[\"a\"],\"confidences\":[-0.01]}]}",
		"{\"predictions\":[{\"ids\":[\"1\"],\"displayNames\":[\"a\"],\"confidences\":[\"0.5\"]}]}",
		/* names and ids of the wrong kind */
		"{\"predictions\":[{\"ids\":[\"1\"],\"displayNames\":[7],\"confidences\":[0.5]}]}",
		"{\"predictions\":[{\"ids\":[null],\"displayNames\":[\"a\"],\"confidences\":[0.5]}]}",
		"{\"predictions\":[{\"ids\":[1.5],\"displayNames\":[\"a\"],\"confidences\":[0.5]}]}",
		"{\"predictions\":[{\"ids\":[\"123456789012345678901234567890123\"],\"displayNames\":[\"a\"],"
		"\"confidences\":[0.5]}]}",
	};
	for (size_t i = 0; i < AG_NELEM(bad); i++) {
		struct net_prediction p;
		const char *why = NULL;
		if (parse_predict(bad[i], &p, &why) != AG_EPROTO)
			fail_msg("accepted: %s", bad[i]);
		assert_true(why && why[0] && one_line(why));
	}
}

/* ---- generateContent replies --------------------------------------------- */

static int parse_gemini(const char *body, char *const *allowed, struct net_prediction *p, const char **why)
{
	size_t n = strlen(body);
	char *copy = malloc(n ? n : 1);
	memcpy(copy, body, n);
	int rc = net_gemini_parse(copy, n, allowed, p, why);
	free(copy);
	if (rc == 0)
		assert_null(*why);
	else
		assert_non_null(*why);
	return rc;
}

static void test_gemini_parse(void **state)
{
	(void)state;
	struct net_prediction p;
	const char *why;
	char *allowed[] = { "apple_scab", "healthy", NULL };

	/* vertex-api.md 3 */
	assert_int_equal(parse_gemini("{\"candidates\": [{\"content\": {\"role\": \"model\", \"parts\": [{\"text\": "
				      "\"{\\\"labels\\\":[{\\\"name\\\":\\\"apple_scab\\\",\\\"confidence\\\":0.8}]}\"}]},"
				      "\"finishReason\": \"STOP\", \"safetyRatings\": []}],"
				      "\"usageMetadata\": {\"promptTokenCount\": 270}, \"modelVersion\": \"gemini-2.5-flash\","
				      "\"responseId\": \"abc123\"}",
				      allowed, &p, &why), 0);
	assert_int_equal(p.nlabels, 1);
	assert_string_equal(p.labels[0].name, "apple_scab");
	assert_true(p.labels[0].confidence == 0.8);
	assert_string_equal(p.model, "gemini-2.5-flash");
	assert_string_equal(p.blocked, "");

	/* text across parts, a thought part skipped, unlisted labels and "none" dropped, clamped */
	static const char split[] =
		"{\"candidates\":[{\"content\":{\"parts\":["
		"{\"text\":\"I think it is healthy\",\"thought\":true},"
		"{\"text\":\"{\\\"labels\\\":[{\\\"name\\\":\\\"healthy\\\",\\\"confi\"},"
		"{\"text\":\"dence\\\":1.7},{\\\"name\\\":\\\"rust\\\",\\\"confidence\\\":0.5},"
		"{\\\"name\\\":\\\"none\\\",\\\"confidence\\\":0.3},"
		"{\\\"name\\\":\\\"apple_scab\\\",\\\"confidence\\\":-2}]}\"}]},\"finishReason\":\"STOP\"}]}";
	assert_int_equal(parse_gemini(split, allowed, &p, &why), 0);
	assert_int_equal(p.nlabels, 2);
	assert_string_equal(p.labels[0].name, "healthy");
	assert_true(p.labels[0].confidence == 1.0);
	assert_string_equal(p.labels[1].name, "apple_scab");
	assert_true(p.labels[1].confidence == 0.0);
	/* without a list every name but "none" is kept */
	assert_int_equal(parse_gemini(split, NULL, &p, &why), 0);
	assert_int_equal(p.nlabels, 3);
	assert_string_equal(p.labels[1].name, "rust");

	/* blocked answers: 0 with the reason, no labels */
	static const struct {
		const char *body, *reason;
	} blocked[] = {
		{ "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"safetyRatings\":[]}]}", "SAFETY" },
		{ "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"labels\\\":[{\\\"name\\\":\\\"heal\"}]},"
		  "\"finishReason\":\"MAX_TOKENS\"}]}", "MAX_TOKENS" },
		{ "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"}}", "PROHIBITED_CONTENT" },
		{ "{\"candidates\":[],\"promptFeedback\":{\"blockReason\":\"OTHER\"}}", "OTHER" },
		{ "{\"candidates\":[{\"finishReason\":\"SOMETHING_NEW\"}]}", "SOMETHING_NEW" },
	};
	for (size_t i = 0; i < AG_NELEM(blocked); i++) {
		assert_int_equal(parse_gemini(blocked[i].body, allowed, &p, &why), 0);
		assert_string_equal(p.blocked, blocked[i].reason);
		assert_int_equal(p.nlabels, 0);
	}

	/* an empty labels array is an answer */
	assert_int_equal(parse_gemini("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"labels\\\":[]}\"}]},"
				      "\"finishReason\":\"STOP\"}]}", allowed, &p, &why), 0);
	assert_int_equal(p.nlabels, 0);
	assert_string_equal(p.blocked, "");

	static const char *bad[] = {
		"", "nope", "[]", "{}",
		"{\"candidates\":[]}",
		/* STOP but the text is no JSON, or no labels array */
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"It is a healthy leaf.\"}]},\"finishReason\":\"STOP\"}]}",
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"label\\\":\\\"healthy\\\"}\"}]},"
		"\"finishReason\":\"STOP\"}]}",
		/* only a thought */
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"labels\\\":[]}\",\"thought\":true}]},"
		"\"finishReason\":\"STOP\"}]}",
		"{\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":\"STOP\"}]}",
		/* a label without a number confidence */
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"labels\\\":[{\\\"name\\\":\\\"healthy\\\","
		"\\\"confidence\\\":\\\"high\\\"}]}\"}]},\"finishReason\":\"STOP\"}]}",
	};
	for (size_t i = 0; i < AG_NELEM(bad); i++) {
		if (parse_gemini(bad[i], allowed, &p, &why) != AG_EPROTO)
			fail_msg("accepted: %s", bad[i]);
		assert_true(one_line(why));
	}
}

/* ---- URL helpers ---------------------------------------------------------- */

static void test_url_helpers(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(net_url_escape("AZaz09-._~", out, sizeof(out)), 10);
	assert_string_equal(out, "AZaz09-._~");
	assert_int_equal(net_url_escape("fc/cam 07+x=y&z?\xc3\xa9%", out, sizeof(out)), 37);
	assert_string_equal(out, "fc%2Fcam%2007%2Bx%3Dy%26z%3F%C3%A9%25");
	assert_int_equal(net_url_escape("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* room for the NUL is needed */
	assert_int_equal(net_url_escape("ab", out, 3), 2);
	assert_int_equal(net_url_escape("ab", out, 2), AG_ETOOBIG);
	assert_int_equal(net_url_escape("a b", out, 6), 5);
	assert_int_equal(net_url_escape("a b", out, 5), AG_ETOOBIG);
	assert_int_equal(net_url_escape("", out, 0), AG_ETOOBIG);

	const char *ep = "projects/p/locations/us-central1/endpoints/123";
	const struct {
		const char *conf, *res, *want;
	} base[] = {
		{ "https://127.0.0.1:8443/", ep, "https://127.0.0.1:8443" },
		{ "https://127.0.0.1:8443//", "anything", "https://127.0.0.1:8443" },
		{ "https://x.example", ep, "https://x.example" },
		{ NULL, ep, "https://us-central1-aiplatform.googleapis.com" },
		{ NULL, "projects/p/locations/europe-west4", "https://europe-west4-aiplatform.googleapis.com" },
		{ NULL, "projects/p/locations/global/publishers/google/models/gemini-2.5-flash",
		  "https://aiplatform.googleapis.com" },
	};
	for (size_t i = 0; i < AG_NELEM(base); i++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(net_aiplatform_base(base[i].conf, base[i].res, out, sizeof(out)), strlen(base[i].want));
		assert_string_equal(out, base[i].want);
	}
	/* malformed resources */
	static const char *bad[] = {
		"projects/p/endpoints/1", "projects/p/locations//endpoints/1", "projects/p/locations/", "",
	};
	for (size_t i = 0; i < AG_NELEM(bad); i++)
		assert_int_equal(net_aiplatform_base(NULL, bad[i], out, sizeof(out)), AG_EINVAL);
	/* too small, by one */
	size_t need = strlen("https://us-central1-aiplatform.googleapis.com");
	assert_int_equal(net_aiplatform_base(NULL, ep, out, need), AG_ETOOBIG);
	assert_int_equal(net_aiplatform_base(NULL, ep, out, need + 1), need);
	assert_int_equal(net_aiplatform_base("https://127.0.0.1:8443", ep, out, 10), AG_ETOOBIG);
}

/* ---- against the reference endpoint -------------------------------------- */

static struct {
	bool up;
	struct fc_endpoint fx;
	char endpoint[256], gemini[256];
	uint8_t *jpeg;                 /* a red 64x64 frame */
	unsigned long jpeg_len;
} ep;

static int endpoint_setup(void **state)
{
	(void)state;
	memset(&ep, 0, sizeof(ep));
	int rc = fc_endpoint_start(&ep.fx, "fc-net", NULL);
	if (rc <= 0)
		return rc; /* 0: no Python, the tests skip */
	const cJSON *j = ep.fx.info;
	ag_strlcpy(ep.endpoint, fc_json_str(j, "online_endpoint"), sizeof(ep.endpoint));
	snprintf(ep.gemini, sizeof(ep.gemini), "projects/%s/locations/%s/publishers/google/models/%s",
		 fc_json_str(j, "project"), fc_json_str(j, "location"), fc_json_str(j, "gemini_model"));
	if (!ep.endpoint[0])
		return -1;

	/* a small red JPEG */
	enum { W = 64, H = 64 };
	static uint8_t rgb[W * H * 3];
	for (size_t i = 0; i < sizeof(rgb); i += 3) {
		rgb[i] = 220;
		rgb[i + 1] = 30;
		rgb[i + 2] = 20;
	}
	tjhandle tj = tjInitCompress();
	if (!tj || tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, &ep.jpeg, &ep.jpeg_len, TJSAMP_420, 85, 0) != 0)
		return -1;
	tjDestroy(tj);
	ep.up = true;
	return 0;
}

static int endpoint_teardown(void **state)
{
	(void)state;
	tjFree(ep.jpeg);
	return fc_endpoint_stop(&ep.fx);
}

/* A /_control request; returns the HTTP status. */
static long control(const char *method, const char *what, const char *json)
{
	return fc_endpoint_control(&ep.fx, method, what, json);
}

static void faults(const char *json)
{
	fc_endpoint_faults(&ep.fx, json);
}

static struct net_http *new_http(const char *ca, const atomic_bool *abort_flag)
{
	struct net_http_config hc;
	net_http_config_defaults(&hc);
	hc.ca_file = ca;
	hc.timeout_ms = 15000;
	hc.abort = abort_flag;
	struct net_http *h = NULL;
	assert_int_equal(net_http_create(&hc, &h), 0);
	return h;
}

static struct net_auth *new_auth(void)
{
	struct net_auth_config ac = { .type = NET_AUTH_SERVICE_ACCOUNT, .key_file = ep.fx.key_file };
	struct net_auth *a = NULL;
	char why[256];
	if (net_auth_create(&ac, &a, why, sizeof(why)) != 0)
		fail_msg("net_auth_create: %s", why);
	return a;
}

static void predict_cfg(struct net_predict_config *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->resource = ep.endpoint;
	pc->confidence_threshold = 0.0;
	pc->max_predictions = 3;
}

#define NEED_ENDPOINT() do { if (!ep.up) skip(); } while (0)

static void test_http_auth_and_predict(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	struct net_http *h = new_http(ep.fx.ca, NULL);
	struct net_auth *a = new_auth();
	struct net_outcome oc;
	char hdr[2100];
	assert_int_equal(net_auth_token_fetches(a), 0);
	if (net_auth_header(a, h, hdr, sizeof(hdr), &oc) != 0)
		fail_msg("token: %s", oc.msg);
	assert_int_equal(net_auth_token_fetches(a), 1);
	assert_true(strncmp(hdr, "Bearer ya29.", 12) == 0);
	char again[2100];
	assert_int_equal(net_auth_header(a, h, again, sizeof(again), &oc), 0);
	assert_int_equal(net_auth_token_fetches(a), 1); /* cached */
	assert_string_equal(hdr, again);

	struct net_client cl = { .http = h, .auth = a, .aiplatform = ep.fx.base };
	struct net_predict_config pc;
	predict_cfg(&pc);
	struct net_prediction p;
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	if (oc.verdict != NET_DONE)
		fail_msg("predict: %s: %s", net_verdict_name(oc.verdict), oc.msg);
	assert_int_equal(oc.status, 200);
	assert_int_equal(p.nlabels, 3);
	assert_string_equal(p.labels[0].name, "red");
	assert_int_equal(strlen(p.labels[0].id), 19);
	assert_true(p.labels[0].confidence > 0.5 && p.labels[0].confidence <= 1);
	assert_true(p.labels[1].confidence <= p.labels[0].confidence);
	assert_int_equal(net_auth_token_fetches(a), 1);

	/* Gemini, limited to a list without "red" */
	char *allowed[] = { "blue", "green", "bright", NULL };
	pc.gemini = true;
	pc.resource = ep.gemini;
	pc.labels = allowed;
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	if (oc.verdict != NET_DONE)
		fail_msg("generateContent: %s: %s", net_verdict_name(oc.verdict), oc.msg);
	assert_true(p.nlabels >= 1);
	for (size_t i = 0; i < p.nlabels; i++)
		assert_true(strcmp(p.labels[i].name, "blue") == 0 || strcmp(p.labels[i].name, "green") == 0 ||
			    strcmp(p.labels[i].name, "bright") == 0);

	/* a scripted SAFETY stop: blocked, no labels, done */
	faults("{\"faults\":[{\"route\":\"generateContent\",\"nth\":1,\"finishReason\":\"SAFETY\"}]}");
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_DONE);
	assert_string_equal(p.blocked, "SAFETY");
	assert_int_equal(p.nlabels, 0);
	/* MAX_TOKENS: rejected, not retried */
	faults("{\"faults\":[{\"route\":\"generateContent\",\"nth\":1,\"finishReason\":\"MAX_TOKENS\"}]}");
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_REJECT);
	faults(NULL);

	/* an unknown endpoint: 404 is a configuration error */
	pc.gemini = false;
	pc.labels = NULL;
	pc.resource = "projects/fieldcam-test/locations/us-central1/endpoints/999";
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_FAIL);
	assert_int_equal(oc.status, 404);
	assert_true(one_line(oc.msg));

	/* not a JPEG: the server refuses the payload for good */
	predict_cfg(&pc);
	static const uint8_t png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0 };
	assert_int_equal(net_predict(&cl, &pc, png, sizeof(png), &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_REJECT);
	assert_int_equal(oc.status, 400);

	net_auth_destroy(a);
	net_http_destroy(h);
}

static void test_http_connection_reuse(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	struct net_http *h = new_http(ep.fx.ca, NULL);
	struct net_auth *a = new_auth();
	struct net_client cl = { .http = h, .auth = a, .aiplatform = ep.fx.base };
	struct net_predict_config pc;
	predict_cfg(&pc);
	for (int i = 0; i < 5; i++) {
		struct net_prediction p;
		struct net_outcome oc;
		assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
		assert_int_equal(oc.verdict, NET_DONE);
		assert_string_equal(p.labels[0].name, "red");
	}
	/* the token fetch and five predictions on one connection */
	assert_int_equal(net_auth_token_fetches(a), 1);
	assert_int_equal(net_http_connections(h), 1);
	net_auth_destroy(a);
	net_http_destroy(h);
}

static void test_http_wrong_ca(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	if (!have_openssl())
		skip();
	char other[128], cmd[512];
	snprintf(other, sizeof(other), "%s/other-ca.pem", ep.fx.dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=other "
		 "-keyout '%s/other-ca.key' -out '%s' >/dev/null 2>&1", ep.fx.dir, other);
	assert_int_equal(system(cmd), 0);
	struct net_http *h = new_http(other, NULL);
	char url[512];
	snprintf(url, sizeof(url), "%s/v1/%s:predict", ep.fx.base, ep.endpoint);
	struct net_request rq = { .method = "GET", .url = url };
	struct net_response rs;
	assert_int_equal(net_http_do(h, &rq, &rs), AG_ENET);
	assert_int_equal(rs.status, 0);
	assert_true(rs.error[0] && one_line(rs.error));
	struct net_outcome oc;
	net_outcome_from_reply(&oc, "predict", AG_ENET, &rs);
	assert_int_equal(oc.verdict, NET_RETRY);
	net_http_destroy(h);

	/* the right CA on the same kind of request: a reply (401, no token) */
	h = new_http(ep.fx.ca, NULL);
	assert_int_equal(net_http_do(h, &rq, &rs), 0);
	assert_int_equal(rs.status, 401);
	net_http_destroy(h);
}

static void test_http_faults(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	struct net_http *h = new_http(ep.fx.ca, NULL);
	struct net_auth *a = new_auth();
	struct net_client cl = { .http = h, .auth = a, .aiplatform = ep.fx.base };
	struct net_predict_config pc;
	predict_cfg(&pc);
	struct net_prediction p;
	struct net_outcome oc;

	/* 503 with Retry-After: 2 */
	faults("{\"faults\":[{\"route\":\"predict\",\"nth\":1,\"status\":503,\"retryAfter\":2}]}");
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_int_equal(oc.status, 503);
	assert_int_equal(oc.retry_after_ms, 2000);
	assert_false(oc.slow_down);
	assert_true(one_line(oc.msg));
	assert_non_null(strstr(oc.msg, "HTTP 503"));
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_DONE);

	/* 429: slow down */
	faults("{\"faults\":[{\"route\":\"predict\",\"nth\":1,\"status\":429}]}");
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_true(oc.slow_down);
	assert_non_null(strstr(oc.msg, "RESOURCE_EXHAUSTED"));

	/* connection reset (libcurl may retry once on a reused connection: reset that too) */
	faults("{\"faults\":[{\"route\":\"predict\",\"nth\":1,\"times\":2,\"reset\":true}]}");
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_int_equal(oc.status, 0);
	assert_true(oc.msg[0] && one_line(oc.msg));
	faults(NULL);
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_DONE);

	/* a cut 200: retry */
	faults("{\"faults\":[{\"route\":\"predict\",\"nth\":1,\"truncate\":20}]}");
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_RETRY);
	faults(NULL);

	/* expired tokens: one 401, one new token, success */
	uint64_t f = net_auth_token_fetches(a);
	assert_int_equal(control("POST", "expire", "{}"), 200);
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	if (oc.verdict != NET_DONE)
		fail_msg("after expire: %s", oc.msg);
	assert_int_equal(net_auth_token_fetches(a), f + 1);
	assert_string_equal(p.labels[0].name, "red");
	/* revoked for good: the repeat fails too, and only one repeat is made */
	faults("{\"faults\":[{\"route\":\"predict\",\"every\":true,\"nth\":1,\"revokeTokens\":true}]}");
	f = net_auth_token_fetches(a);
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_FAIL);
	assert_int_equal(oc.status, 401);
	assert_int_equal(net_auth_token_fetches(a), f + 1);
	faults(NULL);

	/* a reply over max_response */
	struct net_http_config hc;
	net_http_config_defaults(&hc);
	hc.ca_file = ep.fx.ca;
	hc.max_response = 64;
	struct net_http *small = NULL;
	assert_int_equal(net_http_create(&hc, &small), 0);
	char url[512];
	snprintf(url, sizeof(url), "%s/v1/%s:predict", ep.fx.base, ep.endpoint);
	struct net_request rq = { .method = "GET", .url = url };
	struct net_response rs;
	assert_int_equal(net_http_do(small, &rq, &rs), AG_ETOOBIG);
	assert_true(one_line(rs.error));
	net_http_destroy(small);

	net_auth_destroy(a);
	net_http_destroy(h);
}

struct raiser {
	atomic_bool *flag;
	unsigned ms;
};

static void *raise_later(void *arg)
{
	struct raiser *r = arg;
	ag_sleep_ms(r->ms);
	atomic_store(r->flag, true);
	return NULL;
}

static void test_http_abort(void **state)
{
	(void)state;
	NEED_ENDPOINT();
	atomic_bool stop = false;
	struct net_http *h = new_http(ep.fx.ca, &stop);
	struct net_auth *a = new_auth();
	struct net_client cl = { .http = h, .auth = a, .aiplatform = ep.fx.base };
	struct net_predict_config pc;
	predict_cfg(&pc);
	struct net_prediction p;
	struct net_outcome oc;
	char hdr[2100];
	assert_int_equal(net_auth_header(a, h, hdr, sizeof(hdr), &oc), 0);

	/* the server sits on the request for 5 s; the flag goes up after 0.3 s */
	faults("{\"faults\":[{\"route\":\"predict\",\"nth\":1,\"delay\":5}]}");
	struct raiser r = { &stop, 300 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, raise_later, &r), 0);
	uint64_t t0 = ag_now_ms();
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	uint64_t took = ag_now_ms() - t0;
	pthread_join(t, NULL);
	assert_int_equal(oc.verdict, NET_RETRY);
	assert_non_null(strstr(oc.msg, "stopped"));
	if (took < 250 || took > 2500)
		fail_msg("abort took %llu ms", (unsigned long long)took);

	/* already raised: nothing goes out */
	char url[512];
	snprintf(url, sizeof(url), "%s/v1/%s:predict", ep.fx.base, ep.endpoint);
	struct net_request rq = { .method = "GET", .url = url };
	struct net_response rs;
	assert_int_equal(net_http_do(h, &rq, &rs), AG_ECANCELED);
	atomic_store(&stop, false);
	faults(NULL);
	assert_int_equal(net_predict(&cl, &pc, ep.jpeg, ep.jpeg_len, &p, &oc), 0);
	assert_int_equal(oc.verdict, NET_DONE);
	net_auth_destroy(a);
	net_http_destroy(h);
}

int main(void)
{
	ag_log_set_level(AG_LOG_ERR);
	if (net_global_init() != 0)
		return 1;
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_b64_encode),
		cmocka_unit_test(test_b64_bulk_matches_mbedtls),
		cmocka_unit_test(test_b64_decode),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_backoff_growth_cap_reset),
		cmocka_unit_test(test_backoff_jitter_distribution),
		cmocka_unit_test(test_backoff_floor_and_slow_down),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_classify_status),
		cmocka_unit_test(test_outcome_from_reply),
		cmocka_unit_test(test_predict_parse_good),
		cmocka_unit_test(test_predict_parse_bad),
		cmocka_unit_test(test_gemini_parse),
		cmocka_unit_test(test_url_helpers),
	};
	const struct CMUnitTest crypto[] = {
		cmocka_unit_test(test_jwt_pkcs1),
		cmocka_unit_test(test_jwt_pkcs8),
		cmocka_unit_test(test_signer_refuses),
	};
	const struct CMUnitTest endpoint[] = {
		cmocka_unit_test(test_http_auth_and_predict),
		cmocka_unit_test(test_http_connection_reuse),
		cmocka_unit_test(test_http_wrong_ca),
		cmocka_unit_test(test_http_faults),
		cmocka_unit_test(test_http_abort),
	};
	int rc = cmocka_run_group_tests_name("net", pure, NULL, NULL);
	rc += cmocka_run_group_tests_name("crypto", crypto, crypto_setup, crypto_teardown);
	rc += cmocka_run_group_tests_name("endpoint", endpoint, endpoint_setup, endpoint_teardown);
	net_global_cleanup();
	return rc ? 1 : 0;
}
