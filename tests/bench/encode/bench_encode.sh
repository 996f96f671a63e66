#!/bin/sh
# Encode benchmark: 1920x1080 YUYV frames of a real photograph (Debian's
# python3-skimage ships motorcycle_left.png), quality 85, 4:2:0, on one core:
# fieldcam's encode path, tjbench (libjpeg-turbo's own limit) and GStreamer
# jpegenc on the same frame, in one run. Prints a table with ratios.
# usage: bench_encode.sh BENCH_ENCODE_BINARY [FRAMES]
set -eu
bin=$1 n=${2:-100}
photo=$(/usr/bin/python3 -c 'import skimage.data, os; print(os.path.join(os.path.dirname(skimage.data.__file__), "motorcycle_left.png"))' 2>/dev/null ||
	ls /usr/lib/python3/dist-packages/skimage/data/motorcycle_left.png)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ffmpeg -loglevel error -i "$photo" -vf scale=1920:1080 -pix_fmt yuyv422 -f rawvideo "$work/frame.yuyv"
ffmpeg -loglevel error -i "$photo" -vf scale=1920:1080 -pix_fmt rgb24 "$work/frame.ppm"
# n frames in one raw file for GStreamer
i=0
while [ $i -lt "$n" ]; do cat "$work/frame.yuyv"; i=$((i + 1)); done >"$work/frames.yuyv"

fc=$(taskset -c 0 "$bin" "$work/frame.yuyv" 1920 1080 "$n")
fc_cpu=$(echo "$fc" | awk '{print $4}')
fc_rss=$(echo "$fc" | awk '{print $8}')

# tjbench: compression throughput from YUV planes (-yuv), 4:2:0, one core
tj=$(cd "$work" && taskset -c 0 tjbench frame.ppm 85 -subsamp 420 -yuv -benchtime 3 -warmup 1 -quiet 2>&1)
# -quiet -yuv prints: FORMAT (TD) 4:2:0 QUAL W H ENCODE_PERF COMP_PERF ...; COMP_PERF is
# compression from YUV planes in Mpixels/s
tj_mp=$(echo "$tj" | awk '$3 == "4:2:0" {print $8}' | tail -1)
if [ -z "$tj_mp" ]; then
	echo "$tj"
	echo "cannot read tjbench's figure" >&2
	exit 1
fi
tj_cpu=$(awk -v m="$tj_mp" 'BEGIN {printf "%.5f", 1920*1080/(m*1e6)}')

# GStreamer jpegenc on the same frames
/usr/bin/time -f "%U %S %M" -o "$work/gst.time" taskset -c 0 gst-launch-1.0 -q filesrc location="$work/frames.yuyv" \
	! rawvideoparse width=1920 height=1080 format=yuy2 framerate=30/1 ! videoconvert \
	! "video/x-raw,format=I420" ! jpegenc quality=85 ! fakesink >/dev/null 2>&1
gst_cpu=$(awk -v n="$n" '{printf "%.5f", ($1+$2)/n}' "$work/gst.time")
gst_rss=$(awk '{print $3}' "$work/gst.time")

echo "encode 1920x1080 YUYV, quality 85, 4:2:0, one core, $n frames:"
printf "  %-22s %10s %10s %12s\n" "" "CPU s/frame" "frames/s" "peak RSS"
printf "  %-22s %10s %10.1f %12s\n" "tjbench (from YUV)" "$tj_cpu" "$(awk -v c="$tj_cpu" 'BEGIN{print 1/c}')" "-"
printf "  %-22s %10s %10.1f %9s KiB\n" "fieldcam encoder" "$fc_cpu" "$(awk -v c="$fc_cpu" 'BEGIN{print 1/c}')" "$fc_rss"
printf "  %-22s %10s %10.1f %9s KiB\n" "GStreamer jpegenc" "$gst_cpu" "$(awk -v c="$gst_cpu" 'BEGIN{print 1/c}')" "$gst_rss"
awk -v f="$fc_cpu" -v t="$tj_cpu" -v g="$gst_cpu" -v fr="$fc_rss" -v gr="$gst_rss" 'BEGIN {
	printf "  fieldcam / tjbench throughput: %.2fx (goal 0.9x)\n", t / f
	printf "  fieldcam / GStreamer throughput: %.2fx (goal 1.8x)\n", g / f
	printf "  fieldcam peak RSS / GStreamer: %.2f (goal 0.25)\n", fr / gr }'
