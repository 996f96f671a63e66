#!/bin/sh
# peer-sizes.sh [WORKDIR]: for the README's side-by-side, the size on disk of
# what a board would run for ustreamer, fswebcam and motion from Debian's
# arm64 packages: the program plus every shared library it loads (the
# closure of DT_NEEDED, resolved in the unpacked packages, libc included),
# next to fieldcam's single static file. Downloads the packages and their
# dependencies (Depends, recursively) through a private apt configuration
# (toolchains/firmware/apt-private.sh: this machine's apt setup and dpkg
# architectures stay as they are). Not a test: prints a table.
# Environment: FIELDCAM_AARCH64 (a static aarch64 fieldcam to list beside).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/fieldcam/peers-arm64}
apt() { sh "$here/../../toolchains/firmware/apt-private.sh" "$work/apt" arm64 "$@"; }
mkdir -p "$work/debs"
peers="ustreamer:/usr/bin/ustreamer fswebcam:/usr/bin/fswebcam motion:/usr/bin/motion"

printf '%-10s %-9s %10s %5s %12s %14s\n' program version binary libs "libs bytes" "total bytes"
for pb in $peers; do
	p=${pb%%:*} path=${pb#*:}
	list=$(apt apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "$p" 2>/dev/null | grep -v '^ ' | grep -v '^<' | sort -u)
	(cd "$work/debs" && for d in $list; do
		ls "${d}"_*.deb >/dev/null 2>&1 || apt apt-get download "$d" >/dev/null 2>&1 || true
	done)
	root=$work/root-$p
	if [ ! -d "$root" ]; then
		mkdir -p "$root.tmp"
		for d in $list; do
			for f in "$work/debs/${d}"_*.deb; do
				[ -f "$f" ] && dpkg -x "$f" "$root.tmp"
			done
		done
		mv "$root.tmp" "$root"
	fi
	ver=$(apt apt-cache show "$p" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
	# DT_NEEDED closure, breadth first
	todo=$(readelf -d "$root$path" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	seen=" "
	bytes=0 n=0
	while [ -n "$todo" ]; do
		next=""
		for lib in $todo; do
			case "$seen" in *" $lib "*) continue ;; esac
			seen="$seen$lib "
			f=""
			for dir in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib usr/lib; do
				[ -e "$root/$dir/$lib" ] && { f=$root/$dir/$lib; break; }
			done
			[ -n "$f" ] || f=$(find "$root" -name "$lib" | head -1)
			if [ -z "$f" ]; then
				echo "  $p: $lib not found in the unpacked packages" >&2
				continue
			fi
			f=$(readlink -f "$f")
			bytes=$((bytes + $(wc -c <"$f")))
			n=$((n + 1))
			next="$next $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
		done
		todo=$next
	done
	bin=$(wc -c <"$(readlink -f "$root$path")")
	printf '%-10s %-9s %10d %5d %12d %14d\n' "$p" "$ver" "$bin" "$n" "$bytes" $((bin + bytes))
done
if [ -n "${FIELDCAM_AARCH64:-}" ]; then
	b=$(wc -c <"$FIELDCAM_AARCH64")
	printf '%-10s %-9s %10d %5d %12d %14d\n' fieldcam static "$b" 0 0 "$b"
fi
