#!/bin/sh
# build-firmware.sh [--print-prefix|--fetch] [TRIPLE]: build the static libraries of
# fieldcam's firmware profile for one target from Debian's source packages,
# into a private prefix, and print that prefix on the last line.
#
#   TRIPLE   x86_64-linux-gnu (the default: this machine), aarch64-linux-gnu,
#            arm-linux-gnueabihf; what `gcc -dumpmachine` says for the target
#
# What is built, each as a static library only:
#   musl           the C library: a static glibc costs 650 kB before any of
#                  fieldcam's code and still loads NSS modules from the
#                  board's own glibc at run time for name look-ups; musl's
#                  resolver reads /etc/resolv.conf and /etc/hosts itself.
#                  lib/musl-gcc.specs makes the target's gcc use it (with
#                  kernel headers copied into include/); deps.cmake adds it
#   mbedtls        mbedtls, mbedx509, mbedcrypto: TLS 1.2 client only, ECDHE
#                  key exchanges, no DTLS, no legacy ciphers (see below)
#   curl           libcurl with HTTP and HTTPS only, TLS through mbedTLS,
#                  CA bundle /etc/ssl/certs/ca-certificates.crt, its threaded
#                  resolver
#   cjson          cJSON
#   libjpeg-turbo  libturbojpeg with its SIMD code (NEON on ARM, SSE2/AVX2
#                  on x86_64); the build fails if SIMD is not available
#   cmocka         for the unit tests only; never linked into fieldcam
#
# Sources come from Debian (`apt-get source`, checked against the archive's
# signed index) through a private apt configuration (firmware/apt-private.sh):
# this machine's apt sources and state are not touched, root is not needed.
# Sources and each prefix are cached under
# ${XDG_CACHE_HOME:-~/.cache}/fieldcam/firmware; a prefix is rebuilt when
# this script or a patch changes. FIELDCAM_FIRMWARE_REFRESH=1 fetches the
# newest sources again (security updates).
#
# Environment: JOBS (default: number of CPUs), FIELDCAM_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), FIELDCAM_DEBIAN_SUITE (bookworm).
# Needs: cmake make dpkg-dev autoconf automake libtool, the cross compiler
# (gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf) and nasm on x86_64
# (toolchains/install-deps.sh firmware installs them all).
set -eu

# --print-prefix: only say where TRIPLE's prefix is; --fetch: only fetch the
# sources (then several targets can build at once, e.g. JOBS=1 each).
print_only=0 fetch_only=0
case ${1:-} in
--print-prefix) print_only=1; shift ;;
--fetch) fetch_only=1; shift ;;
esac
triple=${1:-$(gcc -dumpmachine)}
here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fieldcam/firmware
prefix=$cache/$triple
if [ $print_only = 1 ]; then
	echo "$prefix"
	exit 0
fi
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
pkgs="musl mbedtls curl cjson libjpeg-turbo cmocka"

t0=$(date +%s)
say() { echo "build-firmware: [$(($(date +%s) - t0)) s] $*" >&2; }
die() { say "$*"; exit 1; }

cc=$triple-gcc
command -v "$cc" >/dev/null 2>&1 || die "no $cc: apt-get install gcc-$(echo "$triple" | tr _ -)"
for t in cmake make dpkg-source autoreconf libtoolize apt-get python3 patch; do
	command -v $t >/dev/null 2>&1 ||
		die "no $t: toolchains/install-deps.sh firmware installs what is needed"
done
build=$(gcc -dumpmachine)
toolchain=""
if [ "$triple" != "$build" ]; then
	toolchain=$here/$triple.cmake
	[ -f "$toolchain" ] || die "no toolchain file $toolchain for $triple"
fi

# The key of a built prefix: this script (comments aside), the patches, the
# source versions.
key_of() { # SRCDIR
	{ grep -v '^[[:space:]]*#' "$0"; cat "$here"/firmware/*.patch "$1/versions"; echo "$triple"; } |
		cksum | cut -d" " -f1
}

# --- sources ---------------------------------------------------------------
fetch() {
	say "fetching sources ($pkgs) from ${FIELDCAM_DEBIAN_SUITE:-bookworm}"
	rm -rf "$cache/src.tmp" "$cache/apt/updated"
	mkdir -p "$cache/src.tmp"
	# shellcheck disable=SC2086
	(cd "$cache/src.tmp" && sh "$here/firmware/apt-private.sh" "$cache/apt" src apt-get source $pkgs) \
		>"$cache/source.log" 2>&1 || { tail -20 "$cache/source.log" >&2; die "apt-get source failed"; }
	s=$cache/src.tmp
	: >"$s/versions"
	for p in $pkgs; do
		dsc=$(ls "$s"/${p}_*.dsc | head -1)
		v=$(sed -n 's/^Version: //p' "$dsc")
		d=$(find "$s" -maxdepth 1 -type d -name "$p-*" | head -1)
		[ -n "$d" ] || die "apt-get source $p: no source tree"
		mv "$d" "$s/$p"
		echo "$p $v" >>"$s/versions"
	done
	rm -f "$s"/*.tar.* "$s"/*.dsc "$s"/*.asc
	# curl: Debian's source has its GnuTLS and NSS flavours patched in last
	# (debian/rules pops them for the OpenSSL build, as we do), and its
	# patches touch configure.ac and Makefile.am: regenerate.
	for pt in 99_nss 90_gnutls; do
		(cd "$s/curl" && patch -R -s -p1 <debian/patches/$pt.patch) || die "curl: cannot take back $pt"
	done
	(cd "$s/curl" && autoreconf -fi) >"$s/curl-autoreconf.log" 2>&1 ||
		{ tail -20 "$s/curl-autoreconf.log" >&2; die "curl: autoreconf failed"; }
	rm -rf "$cache/src"
	mv "$s" "$cache/src"
}

mkdir -p "$cache"
# Several builds may run at once (CI phases, a developer's two trees): the
# sources are fetched under an exclusive lock and read under a shared one,
# and one build per target runs at a time (flock(1), util-linux).
have_flock=0
command -v flock >/dev/null 2>&1 && have_flock=1
[ $have_flock = 0 ] || { exec 8>"$cache/src.lock"; flock -s 8; }
need_fetch() {
	[ "${FIELDCAM_FIRMWARE_REFRESH:-0}" = 0 ] || return 0
	for p in $pkgs; do
		grep -q "^$p " "$cache/src/versions" 2>/dev/null || return 0
	done
	return 1
}
if need_fetch; then
	# exclusive for the fetch (flock trades the shared lock in), then
	# shared again; another process may have fetched in between
	[ $have_flock = 0 ] || flock -x 8
	if need_fetch; then
		fetch
	fi
	[ $have_flock = 0 ] || flock -s 8
fi
[ $fetch_only = 0 ] || exit 0
[ $have_flock = 0 ] || { exec 9>"$cache/$triple.lock"; flock -x 9; }
src=$cache/src
key=$(key_of "$src")
if [ -f "$prefix/key" ] && [ "$(cat "$prefix/key")" = "$key" ]; then
	say "$triple: up to date"
	echo "$prefix"
	exit 0
fi

# --- build -----------------------------------------------------------------
say "$triple: building into $prefix"
start=$(date +%s)
out=$prefix.tmp
work=$cache/build-$triple
rm -rf "$out" "$work"
mkdir -p "$out" "$work"
# Sections per function so the final link drops what fieldcam never calls.
# No unwind tables: C code that never unwinds (musl's thread cancellation
# does not either); they were 110 kB of the aarch64 binary.
cflags="-O2 -g0 -ffunction-sections -fdata-sections -fstack-protector-strong
	-fno-asynchronous-unwind-tables -fno-unwind-tables"
# mbedTLS, libcurl and cJSON are optimised for size: they run for a TLS
# handshake, a request and a small JSON reply per frame, and signing a JWT
# once an hour; the C library and the JPEG codec stay at -O2.
cflags=$(echo $cflags)
cflags_small=$(echo "$cflags" | sed 's/-O2/-Os/')

# musl first; everything after it is compiled and linked against it through
# its specs file (the target's gcc with another C library and crt files).
say "$triple: musl"
mkdir -p "$work/musl"
(cd "$work/musl" && "$src/musl/configure" --target="$triple" CROSS_COMPILE="$triple-" CC="$cc" \
	CFLAGS="$cflags" --prefix="$out" --disable-shared --enable-wrapper=gcc &&
	make -j "$jobs" && make install) >"$work/musl.log" 2>&1 ||
	{ tail -30 "$work/musl.log" >&2; die "$triple: musl failed (log: $work/musl.log)"; }
specs=$out/lib/musl-gcc.specs
[ -f "$specs" ] || die "$triple: musl installed no specs file"
rm -f "$out/bin/musl-gcc"
# musl has no kernel headers; V4L2 needs linux/videodev2.h: the cross
# compiler's own copies (linux-libc-dev), as Debian's musl-tools does.
incs=$($cc -xc -E -v /dev/null 2>&1 | sed -n '/search starts here:/,/End of search list/p' | grep '^ /')
for d in linux asm asm-generic; do
	for i in $incs; do
		if [ -d "$i/$d" ]; then
			cp -R "$i/$d" "$out/include/$d"
			break
		fi
	done
	[ -d "$out/include/$d" ] || die "$triple: no kernel headers ($d/) for $cc: apt-get install linux-libc-dev"
done
# -static everywhere: configure's link tests then get libgcc and libc in
# one group (armhf's libgcc calls raise() from libc).
mcflags="-specs=$specs -static"

cmake_dep() { # NAME SRCDIR CFLAGS TARGET|"" [CMAKE ARGS...]
	n=$1 s=$2 opt=$3 target=$4
	shift 4
	say "$triple: $n"
	# shellcheck disable=SC2086
	cmake -S "$s" -B "$work/$n" ${toolchain:+-DCMAKE_TOOLCHAIN_FILE=$toolchain} \
		-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$mcflags" \
		-DCMAKE_C_FLAGS_RELEASE="$opt -DNDEBUG" \
		-DCMAKE_INSTALL_PREFIX="$out" -DCMAKE_INSTALL_LIBDIR=lib \
		-DCMAKE_C_COMPILER="$cc" \
		-DCMAKE_POSITION_INDEPENDENT_CODE=OFF "$@" >"$work/$n.log" 2>&1 &&
		cmake --build "$work/$n" -j "$jobs" ${target:+--target $target} >>"$work/$n.log" 2>&1 &&
		{ [ -n "${target:-}" ] || cmake --install "$work/$n" >>"$work/$n.log" 2>&1; } ||
		{ tail -30 "$work/$n.log" >&2; die "$triple: $n failed (log: $work/$n.log)"; }
}

# mbedTLS: the options Debian turns on for threads (libcurl and the uploader
# threads share the entropy and DRBG contexts); what a TLS 1.2 client of
# Google's front ends (and of a local test endpoint) never uses is left
# out: the server side, DTLS, TLS 1.0/1.1, key exchanges other than ECDHE,
# legacy ciphers and rare curves, the built-in test certificates. A copy of
# the tree because the options live in its config header.
cp -R "$src/mbedtls" "$work/mbedtls-src"
# mbedTLS 2.28 checks only DNS names in a certificate's subjectAltName, so a
# URL with an address literal (https://127.0.0.1:8443, a gateway by address)
# never verifies; the patch compares iPAddress entries as mbedTLS 3.x does.
(cd "$work/mbedtls-src" && patch -s -p1 <"$here/firmware/mbedtls-2.28-san-ip.patch") ||
	die "mbedtls: cannot apply firmware/mbedtls-2.28-san-ip.patch"
(cd "$work/mbedtls-src" && for o in MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD; do
	python3 scripts/config.py set $o || exit 1
done && for o in MBEDTLS_SSL_SRV_C MBEDTLS_CERTS_C MBEDTLS_SSL_COOKIE_C MBEDTLS_SSL_TICKET_C \
	MBEDTLS_SSL_PROTO_DTLS MBEDTLS_SSL_DTLS_ANTI_REPLAY MBEDTLS_SSL_DTLS_HELLO_VERIFY \
	MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE MBEDTLS_SSL_DTLS_BADMAC_LIMIT \
	MBEDTLS_SSL_PROTO_TLS1 MBEDTLS_SSL_PROTO_TLS1_1 MBEDTLS_SSL_CBC_RECORD_SPLITTING \
	MBEDTLS_KEY_EXCHANGE_PSK_ENABLED MBEDTLS_KEY_EXCHANGE_DHE_PSK_ENABLED \
	MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED MBEDTLS_KEY_EXCHANGE_RSA_PSK_ENABLED \
	MBEDTLS_KEY_EXCHANGE_RSA_ENABLED MBEDTLS_KEY_EXCHANGE_DHE_RSA_ENABLED \
	MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA_ENABLED MBEDTLS_KEY_EXCHANGE_ECDH_RSA_ENABLED MBEDTLS_DHM_C \
	MBEDTLS_BLOWFISH_C MBEDTLS_CAMELLIA_C MBEDTLS_ARIA_C MBEDTLS_DES_C MBEDTLS_XTEA_C \
	MBEDTLS_RIPEMD160_C MBEDTLS_CCM_C MBEDTLS_PADLOCK_C MBEDTLS_PKCS12_C \
	MBEDTLS_ECP_DP_SECP192R1_ENABLED MBEDTLS_ECP_DP_SECP224R1_ENABLED \
	MBEDTLS_ECP_DP_SECP192K1_ENABLED MBEDTLS_ECP_DP_SECP224K1_ENABLED \
	MBEDTLS_ECP_DP_SECP256K1_ENABLED MBEDTLS_ECP_DP_BP256R1_ENABLED \
	MBEDTLS_ECP_DP_BP384R1_ENABLED MBEDTLS_ECP_DP_BP512R1_ENABLED MBEDTLS_ECP_DP_CURVE448_ENABLED \
	MBEDTLS_X509_CSR_PARSE_C MBEDTLS_X509_CSR_WRITE_C MBEDTLS_X509_CRT_WRITE_C MBEDTLS_X509_CREATE_C; do
	python3 scripts/config.py unset $o || exit 1
done) || die "mbedtls: config.py failed"
cmake_dep mbedtls "$work/mbedtls-src" "$cflags_small" "" -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
	-DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DMBEDTLS_FATAL_WARNINGS=OFF

# libcurl: HTTP and HTTPS only, nothing that reads files the agent did not
# name (netrc, alt-svc and HSTS caches), no compression libraries, no
# authentication schemes beyond Basic and Bearer.
say "$triple: curl"
mkdir -p "$work/curl"
(cd "$work/curl" && "$src/curl/configure" --build="$build" --host="$triple" --prefix="$out" \
	CC="$cc $mcflags" CFLAGS="$cflags_small" CPPFLAGS="-I$out/include" LDFLAGS="-L$out/lib" \
	--disable-shared --enable-static --disable-dependency-tracking \
	--with-mbedtls="$out" --without-openssl --without-gnutls --without-wolfssl \
	--without-nss --without-rustls --without-bearssl \
	--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path --without-ca-fallback \
	--enable-threaded-resolver --disable-ares \
	--disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
	--disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp \
	--disable-gopher --disable-mqtt --disable-manual --disable-ntlm --disable-ntlm-wb \
	--disable-crypto-auth --disable-tls-srp --disable-doh --disable-progress-meter \
	--disable-get-easy-options --disable-dnsshuffle \
	--disable-netrc --disable-alt-svc --disable-hsts --disable-cookies --disable-unix-sockets \
	--disable-libcurl-option --disable-websockets \
	--without-zlib --without-brotli --without-zstd --without-libpsl --without-libidn2 \
	--without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-librtmp --without-libssh2 \
	--without-libssh --without-libgsasl --without-gssapi) >"$work/curl.log" 2>&1 ||
	{ tail -30 "$work/curl.log" >&2; die "$triple: curl configure failed (log: $work/curl.log)"; }
grep -q '^#define USE_MBEDTLS 1' "$work/curl/lib/curl_config.h" || die "$triple: curl is not configured for mbedTLS"
if grep -q '^#define USE_OPENSSL 1' "$work/curl/lib/curl_config.h"; then
	die "$triple: curl configured with OpenSSL"
fi
grep -q '^#define USE_THREADS_POSIX 1' "$work/curl/lib/curl_config.h" || die "$triple: curl without its threaded resolver"
(cd "$work/curl/lib" && make -j "$jobs" && make install) >>"$work/curl.log" 2>&1 &&
	(cd "$work/curl/include" && make install) >>"$work/curl.log" 2>&1 ||
	{ tail -30 "$work/curl.log" >&2; die "$triple: curl build failed (log: $work/curl.log)"; }

cmake_dep cjson "$src/cjson" "$cflags_small" "" -DBUILD_SHARED_LIBS=OFF -DENABLE_CJSON_TEST=OFF \
	-DENABLE_CJSON_UTILS=OFF -DENABLE_TARGET_EXPORT=OFF -DENABLE_CUSTOM_COMPILER_FLAGS=OFF

# libjpeg-turbo: only the TurboJPEG library (it holds the codec), SIMD
# required, no arithmetic coding (not baseline JPEG; nothing decodes it).
# On x86 its C Huffman coders each carry a 64 kB bit-count table where ARM
# counts with clz; the SIMD coder (used here) has its own table anyway.
n=libjpeg-turbo
jflags=$cflags
case $triple in x86_64-*|i?86-*) jflags="$cflags -DUSE_CLZ_INTRINSIC" ;; esac
cmake_dep $n "$src/$n" "$jflags" turbojpeg-static -DENABLE_SHARED=OFF -DENABLE_STATIC=ON \
	-DWITH_TURBOJPEG=ON -DREQUIRE_SIMD=ON -DWITH_JAVA=OFF -DWITH_ARITH_ENC=OFF -DWITH_ARITH_DEC=OFF
grep -q 'SIMD extensions: .*(WITH_SIMD = 1)' "$work/$n.log" || die "$triple: libjpeg-turbo without SIMD"
mkdir -p "$out/lib" "$out/include"
cp "$work/$n/libturbojpeg.a" "$out/lib/"
cp "$src/$n/turbojpeg.h" "$out/include/"
# libturbojpeg.a holds the whole libjpeg codec; its headers let the strip
# encoder (drivers/jpegraw_libjpeg.c) use the raw-data API from the same
# library, so packed 4:2:2 and NV12 frames need no whole-frame planes.
for h in jpeglib.h jmorecfg.h jerror.h; do cp "$src/$n/$h" "$out/include/"; done
cp "$work/$n/jconfig.h" "$out/include/"

# cmocka for the unit tests; its static library is libcmocka-static.a.
# cmocka 1.1.5 guesses uintptr_t from glibc's __WORDSIZE, wrong on musl:
# take it from <stdint.h> (as cmocka 1.1.6 does), in a copy of the tree.
cp -R "$src/cmocka" "$work/cmocka-src"
h=$work/cmocka-src/include/cmocka.h
sed -e 's|^#if !defined(_UINTPTR_T) && !defined(_UINTPTR_T_DEFINED)$|#include <stdint.h>\n#if 0 /* fieldcam: uintptr_t from <stdint.h> */|' "$h" >"$h.new"
grep -q 'fieldcam: uintptr_t' "$h.new" || die "cmocka: cmocka.h is not the one expected"
mv "$h.new" "$h"
cmake_dep cmocka "$work/cmocka-src" "$cflags" "" -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF
mv "$out/lib/libcmocka-static.a" "$out/lib/libcmocka.a"
rm -f "$out"/lib/libcmocka.so*

# What deps.cmake reads: the versions, one "name version" a line.
cp "$src/versions" "$out/versions"
turbo=$(sed -n 's/^libjpeg-turbo [0-9]*:*\([0-9.]*\).*/\1/p' "$src/versions")
echo "libjpeg-turbo-upstream $turbo" >>"$out/versions"
sed "s|$out|$prefix|g" "$specs" >"$specs.new" && mv "$specs.new" "$specs"
rm -rf "$out/share" "$out/bin" "$out/lib/pkgconfig" "$out/lib/cmake" "$out"/lib/*.la
echo "$key" >"$out/key"
rm -rf "$prefix" "$work"
mv "$out" "$prefix"
say "$triple: done in $(($(date +%s) - start)) s"
echo "$prefix"
