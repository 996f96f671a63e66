#!/bin/sh
# run-fuzzer.sh BINARY CORPUS SECONDS: fuzz for SECONDS starting from a
# scratch copy of CORPUS (the committed corpus is never written to).
set -eu
bin=$1 corpus=$2 secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 "$work"
