#!/bin/sh
# Spool benchmark (not a test): build bench_spool with FIELDCAM_BENCH=ON and
# run it on the file system that holds DIR.
# usage: tests/bench/spool/run.sh [SECONDS] [DIR] [BUILD_DIR]
#   SECONDS    total append time, split into 3 alternating rounds (default 10)
#   DIR        a folder on the file system to measure (default: a new temp dir)
#   BUILD_DIR  where to build (default: build-bench beside the sources)
set -eu
src=$(cd "$(dirname "$0")/../../.." && pwd)
secs=${1:-10}
dir=${2:-}
build=${3:-$src/build-bench}
cleanup=
if [ -z "$dir" ]; then
	dir=$(mktemp -d "${TMPDIR:-/var/tmp}/fieldcam-bench.XXXXXX")
	cleanup=$dir
fi
cmake -S "$src" -B "$build" -DFIELDCAM_BENCH=ON >/dev/null
cmake --build "$build" --target bench_spool -j2 >/dev/null
echo "file system: $(df -T "$dir" | awk 'NR == 2 { print $2 " on " $1 }')"
rc=0
"$build/tests/bench_spool" "$secs" "$dir" || rc=$?
[ -n "$cleanup" ] && rm -rf "$cleanup"
exit $rc
