#!/bin/sh
# run-benchmarks.sh: build with -DFIELDCAM_BENCH=ON and run every benchmark,
# printing the tables that README.md quotes. Not part of the test suite.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
"$src/toolchains/install-deps.sh" bench
b=$src/build-bench
cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFIELDCAM_BENCH=ON >/dev/null
cmake --build "$b" -j "$(nproc)" >/dev/null
echo "== spool"
"$b/tests/bench_spool" 12 "$b"
echo "== encoder"
sh "$src/tests/bench/encode/bench_encode.sh" "$b/tests/bench_encode" 100
echo "== uploads (nginx over HTTPS)"
sh "$src/tests/bench/upload/bench_upload.sh" "$b/agent/fieldcam" 400
echo "== batch state written per image (SD card wear)"
python3 "$src/tests/bench/batch/bench_state.py" "$b/agent/fieldcam"
