#!/bin/sh
# run-all.sh: build fieldcam and run every test, as CI does.
#   1. the ordinary build (warnings are errors) and the whole ctest suite
#   2. the sanitizer build (ASan + UBSan), every test but the slow ones
#   3. the fuzz targets under libFuzzer (clang), for a bounded time each
#   4. the firmware profile (static, musl, libcurl on mbedTLS; toolchains/):
#      on this machine, every test but the slow ones (so the online end to
#      end test runs against the firmware binary); cross-compiled for
#      aarch64 and armhf, the unit and firmware tests under qemu-user, and
#      for aarch64 the ARM board test (Debian's arm64 kernel with vivid in
#      qemu-system-aarch64). Its libraries are built from Debian's sources
#      once per target into ~/.cache/fieldcam/firmware (about 2 min each).
# Installs missing Debian packages when run as root (else says what to
# install). Ends with one line: "N passed, N failed".
# Environment: JOBS (default: number of CPUs), FUZZ_SECONDS (default 20),
# BUILD_ROOT (default: ./build-tests under the source tree).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
fuzz_seconds=${FUZZ_SECONDS:-20}
root=${BUILD_ROOT:-$src/build-tests}
passed=0 failed=0 phases_failed=""

"$src/toolchains/install-deps.sh" test || exit 1

# phase NAME CMAKE_ARGS CTEST_ARGS
phase() {
	name=$1 cargs=$2 targs=$3
	dir=$root/$name
	echo "=== $name: configure and build"
	# shellcheck disable=SC2086
	if ! cmake -S "$src" -B "$dir" $cargs >"$dir.configure.log" 2>&1; then
		cat "$dir.configure.log"
		failed=$((failed + 1)); phases_failed="$phases_failed $name(configure)"
		return
	fi
	if ! cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1; then
		grep -E 'error|warning' "$dir.build.log" | head -40
		failed=$((failed + 1)); phases_failed="$phases_failed $name(build)"
		return
	fi
	echo "=== $name: test"
	# shellcheck disable=SC2086
	(cd "$dir" && ctest --output-on-failure -j "$jobs" $targs) 2>&1 | tee "$dir.ctest.log"
	line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$dir.ctest.log" | tail -1)
	if [ -z "$line" ]; then
		if grep -q 'No tests were found' "$dir.ctest.log"; then
			return
		fi
		failed=$((failed + 1)); phases_failed="$phases_failed $name(ctest)"
		return
	fi
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
	t=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/')
	passed=$((passed + t - f))
	failed=$((failed + f))
	[ "$f" = 0 ] || phases_failed="$phases_failed $name"
}

mkdir -p "$root"
phase normal "-DCMAKE_BUILD_TYPE=RelWithDebInfo" ""
phase sanitize "-DCMAKE_BUILD_TYPE=Debug -DFIELDCAM_SANITIZE=address,undefined" "-LE slow"
if command -v clang >/dev/null 2>&1; then
	phase fuzz "-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIELDCAM_SANITIZE=address,undefined -DFIELDCAM_FUZZ=ON -DFIELDCAM_FUZZ_SECONDS=$fuzz_seconds" "-L fuzz"
else
	echo "=== fuzz: skipped (clang not installed)"
fi

fw_start=$(date +%s)
# its libraries: sources fetched once, then the three targets built at once
# (much of each build is a configure script on one core)
echo "=== firmware: libraries (toolchains/build-firmware.sh)"
host=$(gcc -dumpmachine)
if sh "$src/toolchains/build-firmware.sh" --fetch >"$root/firmware-fetch.log" 2>&1; then
	for t in "$host" aarch64-linux-gnu arm-linux-gnueabihf; do
		sh "$src/toolchains/build-firmware.sh" "$t" >"$root/firmware-libs-$t.log" 2>&1 &
	done
	wait
else
	tail -20 "$root/firmware-fetch.log"
fi
echo "=== firmware: libraries ready after $(($(date +%s) - fw_start)) s"
phase firmware-x86_64 "-DFIELDCAM_FIRMWARE=ON" "-LE slow"
phase firmware-aarch64 "-DFIELDCAM_FIRMWARE=ON -DCMAKE_TOOLCHAIN_FILE=$src/toolchains/aarch64-linux-gnu.cmake" "-L unit|firmware"
phase firmware-armhf "-DFIELDCAM_FIRMWARE=ON -DCMAKE_TOOLCHAIN_FILE=$src/toolchains/arm-linux-gnueabihf.cmake" "-L unit|firmware"
echo "=== firmware: $(($(date +%s) - fw_start)) s"

[ -z "$phases_failed" ] || echo "failed in:$phases_failed"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
