/* net/ private: base64 for bulk, non-secret data (image bytes). */
#pragma once

#include <stddef.h>

/*
 * Standard base64 with padding of n bytes into out (4 * ceil(n / 3)
 * bytes, no NUL). SSSE3 (x86-64, when the CPU has it) or NEON (AArch64)
 * for the bulk; elsewhere and for the tail, two output characters per
 * table lookup.
 * mbedTLS's encoder is constant-time (made for key material) and costs
 * about ten times as much, which on an image body is most of the CPU of
 * an upload; images are not secrets, so they go through this one. The
 * unit tests check it against mbedTLS byte for byte.
 */
size_t net_b64_bulk(const unsigned char *in, size_t n, char *out);
