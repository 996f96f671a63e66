#!/bin/sh
# build-firmware.sh [--print-prefix] [TRIPLE]: build the static libraries of
# fieldcam's firmware profile for one target from Debian's source packages,
# into a private prefix, and print that prefix on the last line.
#
#   TRIPLE   x86_64-linux-gnu (the default: this machine), aarch64-linux-gnu,
#            arm-linux-gnueabihf; what `gcc -dumpmachine` says for the target
#
# What is built, each as a static library only:
#   mbedtls        mbedtls, mbedx509, mbedcrypto (Debian's threading options)
#   c-ares         the resolver libcurl uses, so a static binary never needs
#                  glibc's NSS modules at run time (getaddrinfo would)
#   curl           libcurl with HTTP and HTTPS only, TLS through mbedTLS,
#                  CA bundle /etc/ssl/certs/ca-certificates.crt
#   cjson          cJSON
#   libjpeg-turbo  libturbojpeg with its SIMD code (NEON on ARM, SSE2/AVX2
#                  on x86_64); the build fails if SIMD is not available
#   cmocka         for the unit tests only; never linked into fieldcam
#
# Sources come from Debian (`apt-get source`, checked against the archive's
# signed index) through a private apt configuration: this machine's apt
# sources and state are not touched, and root is not needed. Sources and
# each prefix are cached under ${XDG_CACHE_HOME:-~/.cache}/fieldcam/firmware;
# a prefix is rebuilt when this script changes. FIELDCAM_FIRMWARE_REFRESH=1
# fetches the newest sources again (security updates).
#
# Environment: JOBS (default: number of CPUs), FIELDCAM_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), FIELDCAM_DEBIAN_SUITE (bookworm).
# Needs: cmake make dpkg-dev autoconf automake libtool, the cross compiler
# (gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf) and nasm on x86_64
# (toolchains/install-deps.sh firmware installs them all).
set -eu

print_only=0
if [ "${1:-}" = --print-prefix ]; then
	print_only=1
	shift
fi
triple=${1:-$(gcc -dumpmachine)}
here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fieldcam/firmware
prefix=$cache/$triple
if [ $print_only = 1 ]; then
	echo "$prefix"
	exit 0
fi
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
mirror=${FIELDCAM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${FIELDCAM_DEBIAN_SUITE:-bookworm}
pkgs="mbedtls c-ares curl cjson libjpeg-turbo cmocka"

say() { echo "build-firmware: $*" >&2; }
die() { say "$*"; exit 1; }

cc=$triple-gcc
command -v "$cc" >/dev/null 2>&1 || die "no $cc: apt-get install gcc-$(echo "$triple" | tr _ -)"
for t in cmake make dpkg-source autoreconf libtool apt-get; do
	command -v $t >/dev/null 2>&1 || [ $t = libtool ] ||
		die "no $t: toolchains/install-deps.sh firmware installs what is needed"
done
build=$(gcc -dumpmachine)
toolchain=""
if [ "$triple" != "$build" ]; then
	toolchain=$here/$triple.cmake
	[ -f "$toolchain" ] || die "no toolchain file $toolchain for $triple"
fi

# The key of a built prefix: this script and the exact source versions.
key_of() { # SRCDIR
	{ cat "$0"; cat "$1/versions"; echo "$triple"; } | cksum | cut -d' ' -f1
}

# --- sources ---------------------------------------------------------------
fetch() {
	say "fetching sources ($pkgs) from $suite"
	apt=$cache/apt
	rm -rf "$apt" "$cache/src.tmp"
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$cache/src.tmp"
	kr=/usr/share/keyrings/debian-archive-keyring.gpg
	opt=""
	[ -f $kr ] && opt="[signed-by=$kr] "
	{
		echo "deb-src $opt$mirror $suite main"
		echo "deb-src $opt$mirror $suite-updates main"
		case $mirror in
		*deb.debian.org*) echo "deb-src $opt${mirror%/debian}/debian-security $suite-security main" ;;
		esac
	} >"$apt/sources.list"
	: >"$apt/status"
	aptopts="-q -o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=/nonexistent
		-o Dir::State::Lists=$apt/lists -o Dir::State::Status=$apt/status -o Dir::Cache=$apt/cache
		-o Debug::NoLocking=1 -o APT::Sandbox::User=$(id -un)"
	# shellcheck disable=SC2086
	apt-get $aptopts update >"$apt/update.log" 2>&1 || { cat "$apt/update.log" >&2; die "apt-get update failed"; }
	# shellcheck disable=SC2086
	(cd "$cache/src.tmp" && apt-get $aptopts source $pkgs) >"$apt/source.log" 2>&1 ||
		{ tail -20 "$apt/source.log" >&2; die "apt-get source failed"; }
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
if [ "${FIELDCAM_FIRMWARE_REFRESH:-0}" = 1 ] || [ ! -f "$cache/src/versions" ]; then
	fetch
fi
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
cflags="-O2 -g0 -ffunction-sections -fdata-sections -fstack-protector-strong"

cmake_dep() { # NAME SRCDIR [CMAKE ARGS...]
	n=$1 s=$2
	shift 2
	say "$triple: $n"
	# shellcheck disable=SC2086
	cmake -S "$s" -B "$work/$n" ${toolchain:+-DCMAKE_TOOLCHAIN_FILE=$toolchain} \
		-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="$cflags -DNDEBUG" \
		-DCMAKE_INSTALL_PREFIX="$out" -DCMAKE_INSTALL_LIBDIR=lib \
		-DCMAKE_C_COMPILER="$cc" \
		-DCMAKE_POSITION_INDEPENDENT_CODE=OFF "$@" >"$work/$n.log" 2>&1 &&
		cmake --build "$work/$n" -j "$jobs" >>"$work/$n.log" 2>&1 &&
		cmake --install "$work/$n" >>"$work/$n.log" 2>&1 ||
		{ tail -30 "$work/$n.log" >&2; die "$triple: $n failed (log: $work/$n.log)"; }
}

# mbedTLS with the options Debian turns on for threads (libcurl and the
# uploader threads share the entropy and DRBG contexts), without the TLS
# server side and the built-in test certificates that a client never uses;
# a copy of the tree because the options are set in its config header.
cp -R "$src/mbedtls" "$work/mbedtls-src"
(cd "$work/mbedtls-src" && for o in MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD; do
	python3 scripts/config.py set $o || exit 1
done && for o in MBEDTLS_SSL_SRV_C MBEDTLS_CERTS_C; do
	python3 scripts/config.py unset $o || exit 1
done) || die "mbedtls: config.py failed"
cmake_dep mbedtls "$work/mbedtls-src" -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
	-DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DMBEDTLS_FATAL_WARNINGS=OFF

cmake_dep c-ares "$src/c-ares" -DCARES_STATIC=ON -DCARES_SHARED=OFF \
	-DCARES_BUILD_TOOLS=OFF -DCARES_BUILD_TESTS=OFF

# libcurl: HTTP and HTTPS only, nothing that reads files the agent did not
# name (netrc, alt-svc and HSTS caches), no compression libraries.
say "$triple: curl"
mkdir -p "$work/curl"
(cd "$work/curl" && "$src/curl/configure" --build="$build" --host="$triple" --prefix="$out" \
	CC="$cc" CFLAGS="$cflags" CPPFLAGS="-I$out/include" LDFLAGS="-L$out/lib" LIBS="-lpthread" \
	--disable-shared --enable-static --disable-dependency-tracking \
	--with-mbedtls="$out" --without-openssl --without-gnutls --without-wolfssl \
	--without-nss --without-rustls --without-bearssl \
	--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path --without-ca-fallback \
	--enable-ares="$out" --disable-threaded-resolver \
	--disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
	--disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp \
	--disable-gopher --disable-mqtt --disable-manual --disable-ntlm --disable-ntlm-wb \
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
(cd "$work/curl/lib" && make -j "$jobs" && make install) >>"$work/curl.log" 2>&1 &&
	(cd "$work/curl/include" && make install) >>"$work/curl.log" 2>&1 ||
	{ tail -30 "$work/curl.log" >&2; die "$triple: curl build failed (log: $work/curl.log)"; }

cmake_dep cjson "$src/cjson" -DBUILD_SHARED_LIBS=OFF -DENABLE_CJSON_TEST=OFF \
	-DENABLE_CJSON_UTILS=OFF -DENABLE_TARGET_EXPORT=OFF -DENABLE_CUSTOM_COMPILER_FLAGS=OFF

# libjpeg-turbo: only the TurboJPEG library (it holds the codec), SIMD required.
say "$triple: libjpeg-turbo"
n=libjpeg-turbo
# shellcheck disable=SC2086
cmake -S "$src/$n" -B "$work/$n" ${toolchain:+-DCMAKE_TOOLCHAIN_FILE=$toolchain} \
	-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="$cflags -DNDEBUG" -DCMAKE_C_COMPILER="$cc" \
	-DENABLE_SHARED=OFF -DENABLE_STATIC=ON -DWITH_TURBOJPEG=ON -DREQUIRE_SIMD=ON -DWITH_JAVA=OFF \
	-DCMAKE_POSITION_INDEPENDENT_CODE=OFF >"$work/$n.log" 2>&1 &&
	cmake --build "$work/$n" -j "$jobs" --target turbojpeg-static >>"$work/$n.log" 2>&1 ||
	{ tail -30 "$work/$n.log" >&2; die "$triple: $n failed (log: $work/$n.log)"; }
grep -q 'SIMD extensions: .*(WITH_SIMD = 1)' "$work/$n.log" || die "$triple: libjpeg-turbo without SIMD"
mkdir -p "$out/lib" "$out/include"
cp "$work/$n/libturbojpeg.a" "$out/lib/"
cp "$src/$n/turbojpeg.h" "$out/include/"

# cmocka for the unit tests; its static library is libcmocka-static.a
cmake_dep cmocka "$src/cmocka" -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF
mv "$out/lib/libcmocka-static.a" "$out/lib/libcmocka.a"
rm -f "$out"/lib/libcmocka.so*

# What deps.cmake reads: the versions, one "name version" a line.
cp "$src/versions" "$out/versions"
turbo=$(sed -n 's/^libjpeg-turbo [0-9]*:*\([0-9.]*\).*/\1/p' "$src/versions")
echo "libjpeg-turbo-upstream $turbo" >>"$out/versions"
rm -rf "$out/share" "$out/bin" "$out/lib/pkgconfig" "$out/lib/cmake" "$out"/lib/*.la
echo "$key" >"$out/key"
rm -rf "$prefix" "$work"
mv "$out" "$prefix"
say "$triple: done in $(($(date +%s) - start)) s"
echo "$prefix"
