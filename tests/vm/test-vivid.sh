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
# converted formats: the right size, and the same picture as a native capture
# (vivid's colour bars, which do not move): YVYU and YV12 as YUYV, the RGB
# family (RGB565, XRGB32, Bayer) as RGB24. Mean difference per sample of
# the decoded images under 6; seen: 0.2 (YVYU, YV12), 2.8 (RGB565), 0.2
# (XRGB32), 3.5 (Bayer); a red/blue swap gives about 50. (HSV is left out:
# after an RGB format vivid reports the default hue encoding, which V4L2 and
# libv4lconvert take as 0..179, but sends 0..255.)
same_picture() { # A.jpg B.jpg
	djpeg -pnm "$1" >"$work/a.ppm" && djpeg -pnm "$2" >"$work/b.ppm" &&
		python3 - "$work/a.ppm" "$work/b.ppm" <<'EOF'
import sys
def pixels(path):
    data = open(path, "rb").read()
    parts = data.split(maxsplit=4)  # P6 W H MAX pixels
    return parts[4] if len(parts) == 5 else b""
a, b = pixels(sys.argv[1]), pixels(sys.argv[2])
if len(a) != len(b) or not a:
    print("sizes differ")
    sys.exit(1)
d = sum(abs(x - y) for x, y in zip(a, b)) / len(a)
print("%.1f" % d)
sys.exit(0 if d < 6 else 1)
EOF
}
like_native() { # WHAT DIR NATIVE: DIR's first JPEG shows what native NATIVE capture does
	ref=$(ls "$work/cap-$3-640x480"/*.jpg 2>/dev/null | head -1)
	got=$(ls "$2"/*.jpg 2>/dev/null | head -1)
	if [ -n "$ref" ] && [ -n "$got" ] && diff=$(same_picture "$ref" "$got"); then
		echo "$1: mean difference from native $3 $diff"
	else
		echo "FAIL $1: not the picture native $3 gives (${diff:-no files})"
		fails=$((fails + 1))
	fi
}
for fcc in YVYU YV12 RGBP XR24 BA81; do
	[ -f "$work/conv-$fcc.unbuilt" ] && { echo "conversion of $fcc: not in this build"; continue; }
	check_dir "$work/conv-$fcc" 640 480 3
	native=rgb24
	case $fcc in YVYU | YV12) native=yuyv ;; esac
	like_native "conversion of $fcc" "$work/conv-$fcc" $native
done
# vivid's YUV is in the limited range (V4L2's default for its sRGB
# colorspace), its RGB in the full range: stretched to JPEG's full range,
# the YUV captures show the RGB capture's picture (before the stretch: 13
# apart)
for fmt in yuyv nv12 yu12; do
	like_native "$fmt against rgb24 (limited range stretched)" "$work/cap-$fmt-640x480" rgb24
	grep -q "limited range" "$work/cap-$fmt-640x480.log" ||
		{ echo "FAIL capture $fmt: the log does not say the camera's range: $(head -2 "$work/cap-$fmt-640x480.log")"; fails=$((fails + 1)); }
done
# vivid's GREY is full range (Rec. 709 luma of the bars, its darkest 0)
# under the same default: kept as it is, it matches the RGB capture's luma
ref=$(ls "$work/cap-rgb24-640x480"/*.jpg 2>/dev/null | head -1)
got=$(ls "$work/cap-grey-640x480"/*.jpg 2>/dev/null | head -1)
if [ -n "$ref" ] && [ -n "$got" ] && djpeg -pnm "$ref" >"$work/a.ppm" && djpeg -pnm "$got" >"$work/g.pgm" &&
	diff=$(python3 - "$work/a.ppm" "$work/g.pgm" <<'EOF'
import sys
rgb = open(sys.argv[1], "rb").read().split(maxsplit=4)[4]
grey = open(sys.argv[2], "rb").read().split(maxsplit=4)[4]
if len(rgb) != 3 * len(grey) or not grey:
    print("sizes differ")
    sys.exit(1)
d = sum(abs(grey[i] - (0.2126 * rgb[3 * i] + 0.7152 * rgb[3 * i + 1] + 0.0722 * rgb[3 * i + 2]))
        for i in range(len(grey))) / len(grey)
print("%.1f" % d)
sys.exit(0 if d < 4 else 1)
EOF
	); then
	echo "grey against the luma of rgb24 (full range, kept): mean difference $diff"
else
	echo "FAIL grey: not the luma of the rgb24 capture (${diff:-no files})"
	fails=$((fails + 1))
fi
# `fieldcam run` with camera.format "YVYU" in its config: the spool's JPEGs
if [ ! -f "$work/conv-YVYU.unbuilt" ]; then
	n=$(python3 "$here/../firmware/spool-jpegs.py" "$work/spool-YVYU" "$work/run-YVYU") ||
		{ echo "FAIL run with camera.format YVYU: spool unreadable"; fails=$((fails + 1)); }
	check_dir "$work/run-YVYU" 640 480 3
	like_native "run with camera.format YVYU ($n records)" "$work/run-YVYU" yuyv
fi
for d in "$work"/fault-*; do
	[ -d "$d" ] && check_dir "$d" 640 480 150
done
echo "vivid: guest exit $rc, $checked JPEG files checked on the host, $fails bad"
[ $rc = 0 ] && [ $fails = 0 ]
