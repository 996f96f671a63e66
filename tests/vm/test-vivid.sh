#!/bin/sh
# ctest entry: capture from the kernel's vivid driver in a QEMU guest
# (vivid-vm.sh + guest-capture.sh), then check on this side that every JPEG
# written decodes (djpeg) at the size asked for.
# usage: test-vivid.sh FIELDCAM WORKDIR     exit 77 = skipped (no QEMU/kernel)
set -u
bin=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
sh "$here/vivid-vm.sh" "$here/guest-capture.sh" "$work" "$bin"
rc=$?
[ $rc = 77 ] && exit 77
fails=0 checked=0
check_dir() { # DIR W H COUNT
	n=0
	for j in "$1"/*.jpg; do
		[ -f "$j" ] || continue
		dims=$(djpeg -pnm "$j" 2>/dev/null | head -c 64 | tr '\n' ' ' | awk '{print $2"x"$3}')
		if [ "$dims" != "$2x$3" ]; then
			echo "FAIL $j: decodes as '$dims', expected $2x$3"
			fails=$((fails + 1))
		fi
		n=$((n + 1))
	done
	checked=$((checked + n))
	[ "$n" = "$4" ] || { echo "FAIL $1: $n JPEG files, expected $4"; fails=$((fails + 1)); }
}
for size in 640x480 1280x720; do
	for fmt in yuyv nv12 yu12 grey rgb24; do
		check_dir "$work/cap-$fmt-$size" "${size%x*}" "${size#*x}" 3
	done
done
for d in "$work"/fault-*; do
	[ -d "$d" ] && check_dir "$d" 640 480 150
done
echo "vivid: guest exit $rc, $checked JPEG files checked on the host, $fails bad"
[ $rc = 0 ] && [ $fails = 0 ]
