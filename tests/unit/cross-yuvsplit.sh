#!/bin/sh
# The NEON row kernels: check_yuvsplit.c and drivers/yuvsplit.c built for
# AArch64 (static) and run under qemu-user. Exits 77 (skipped) without
# aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu) or qemu-aarch64-static
# (qemu-user-static).
# usage: cross-yuvsplit.sh SOURCE_DIR WORK_DIR
set -eu
src=$1 work=$2
for t in aarch64-linux-gnu-gcc qemu-aarch64-static; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "skipped: $t not installed"
		exit 77
	fi
done
mkdir -p "$work"
aarch64-linux-gnu-gcc -std=c11 -O2 -Wall -Wextra -Werror -static -I "$src/drivers" \
	"$src/drivers/yuvsplit.c" "$src/tests/unit/check_yuvsplit.c" -o "$work/check_yuvsplit-aarch64"
out=$(qemu-aarch64-static "$work/check_yuvsplit-aarch64")
echo "$out"
# the NEON versions must be the ones that ran
case $out in *"neon and c kernels match"*) ;; *) echo "not the NEON kernels" >&2; exit 1 ;; esac
