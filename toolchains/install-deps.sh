#!/bin/sh
# install-deps.sh [build|firmware|test|bench|all]: make sure the Debian /
# Raspberry Pi OS packages fieldcam needs are installed. As root, installs
# what is missing with apt-get; otherwise prints the one apt-get line to run
# and exits 1.
#   build:    compile fieldcam
#   firmware: build + the firmware profile (toolchains/build-firmware.sh:
#             cross compilers, the dependency builds from Debian's sources,
#             qemu-user and qemu-system-aarch64 for its tests)
#   test:     firmware + everything the test suite uses (endpoint, VM, fuzzing)
#   bench:    test + the peers the benchmarks under tests/bench compare with
set -eu
what=${1:-build}

build_pkgs="cmake make gcc pkg-config libcurl4-openssl-dev libmbedtls-dev libcjson-dev
libturbojpeg0-dev libv4l-dev"
test_pkgs="libcmocka-dev python3 python3-cryptography python3-pil libjpeg-turbo-progs
cppcheck clang libclang-rt-dev valgrind openssl ca-certificates
qemu-system-x86 busybox-static cpio v4l-utils"

firmware_pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
libc6-dev-armhf-cross binutils dpkg-dev debian-archive-keyring autoconf automake libtool nasm
patch python3 qemu-user-static qemu-system-arm busybox-static cpio libjpeg-turbo-progs systemd"

bench_pkgs="python3-skimage ffmpeg nginx-light curl gstreamer1.0-tools gstreamer1.0-plugins-base
gstreamer1.0-plugins-good time util-linux strace"

case $what in
build) pkgs=$build_pkgs ;;
firmware) pkgs="$build_pkgs $firmware_pkgs" ;;
test) pkgs="$build_pkgs $firmware_pkgs $test_pkgs" ;;
bench|all) pkgs="$build_pkgs $firmware_pkgs $test_pkgs $bench_pkgs" ;;
*) echo "usage: $0 [build|firmware|test|bench|all]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "fieldcam needs these packages; run:" >&2
	echo "  sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! apt-get install -y -q --no-install-recommends $missing >/dev/null; then
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
