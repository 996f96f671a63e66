#!/bin/sh
# Encode benchmark: 1920x1080 YUYV frames of a real photograph (Debian's
# python3-skimage ships motorcycle_left.png), quality 85, 4:2:0, on one core
# (taskset -c 0), in one run:
#   fieldcam   its encode path (bench_encode), CPU seconds, frame in memory;
#              again with the frame marked limited range (a YUV webcam's),
#              stretched to JPEG's full range on the way
#   TurboJPEG  tjCompressFromYUVPlanes() alone on the same planes, CPU seconds
#              (bench_encode): the library's limit, measured like fieldcam,
#              the two taking turns in 5 rounds, the fastest round counting
#   tjbench    libjpeg-turbo's own benchmark, -yuv: its "Comp Perf" column
#              times tjCompressFromYUV() alone (the RGB->YUV step is timed
#              apart and left out), on planes it made from the same photo
#              as RGB, with a WALL clock (gettimeofday): on a busy core it
#              reads slow, so the CPU share of its run is printed with it;
#              the best of 3 runs counts
#   GStreamer  filesrc (one frame) ! rawvideoparse ! imagefreeze ! videoconvert
#              to I420 ! jpegenc quality=85 ! fakesink: the same frame from
#              memory, the same 4:2:0 and quality; jpegenc's default DCT is
#              ifast, as TurboJPEG's below quality 96. CPU seconds (user+sys)
#              of a run of N frames minus one of N/10 frames, so start-up
#              (plugin loading) is not charged per frame, the least CPU of 3
#              runs of each counting; peak RSS of the long runs. The old single-run figure (400 MB of frames through
#              filesrc, start-up included) is printed too.
# All four use libjpeg-turbo's default (non-optimised) Huffman tables.
# usage: bench_encode.sh BENCH_ENCODE_BINARY [FRAMES]
set -eu
bin=$1 n=${2:-100}
photo=$(/usr/bin/python3 -c 'import skimage.data, os; print(os.path.join(os.path.dirname(skimage.data.__file__), "motorcycle_left.png"))' 2>/dev/null ||
	ls /usr/lib/python3/dist-packages/skimage/data/motorcycle_left.png)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ffmpeg -loglevel error -i "$photo" -vf scale=1920:1080 -pix_fmt yuyv422 -f rawvideo "$work/frame.yuyv"
ffmpeg -loglevel error -i "$photo" -vf scale=1920:1080 -pix_fmt rgb24 "$work/frame.ppm"

out=$(taskset -c 0 "$bin" "$work/frame.yuyv" 1920 1080 "$n")
fc_cpu=$(echo "$out" | awk '$1 == "fieldcam" {print $4}')
fcl_cpu=$(echo "$out" | awk '$1 == "fieldcam_limited" {print $4}')
fcl_bytes=$(echo "$out" | awk '$1 == "fieldcam_limited" {print $6}')
fc_med=$(echo "$out" | awk '$1 == "fieldcam" {print $12}')
tjp_med=$(echo "$out" | awk '$1 == "turbojpeg" {print $8}')
fc_bytes=$(echo "$out" | awk '$1 == "fieldcam" {print $6}')
fc_rss=$(echo "$out" | awk '$1 == "fieldcam" {print $8}')
fc_frame_rss=$(echo "$out" | awk '$1 == "fieldcam" {print $10}')
tjp_cpu=$(echo "$out" | awk '$1 == "turbojpeg" {print $4}')
tjp_bytes=$(echo "$out" | awk '$1 == "turbojpeg" {print $6}')

# tjbench -quiet prints: FORMAT (TD) 4:2:0 QUAL W H ENCODE_PERF COMP_PERF RATIO ...
# (Mpixels/s); COMP_PERF is compression from YUV planes
tj_mp=0
for run in 1 2 3; do
	tj=$(cd "$work" && /usr/bin/time -f "%U %S %e" -o "$work/tj.time" taskset -c 0 tjbench frame.ppm 85 \
		-subsamp 420 -yuv -benchtime 2 -warmup 1 -componly -nowrite -quiet 2>&1)
	mp=$(echo "$tj" | awk '$3 == "4:2:0" {print $8}' | tail -1)
	if [ -z "$mp" ]; then
		echo "$tj"
		echo "cannot read tjbench's figure" >&2
		exit 1
	fi
	if awk -v a="$mp" -v b="$tj_mp" 'BEGIN {exit !(a > b)}'; then
		tj_mp=$mp
		tj_ratio=$(echo "$tj" | awk '$3 == "4:2:0" {print $9}' | tail -1)
		tj_share=$(awk '{printf "%.2f", ($1+$2)/$3}' "$work/tj.time")
	fi
done
tj_cpu=$(awk -v m="$tj_mp" 'BEGIN {printf "%.5f", 1920*1080/(m*1e6)}')
tj_bytes=$(awk -v r="$tj_ratio" 'BEGIN {printf "%d", 1920*1080*3/r}')

# GStreamer, the same frame from memory; start-up taken out by a second, short run
gst() { # FRAMES OUTPUT_TIME_FILE (appended to)
	/usr/bin/time -a -f "%U %S %M" -o "$2" taskset -c 0 gst-launch-1.0 -q filesrc location="$work/frame.yuyv" \
		! rawvideoparse width=1920 height=1080 format=yuy2 framerate=30/1 ! imagefreeze num-buffers="$1" \
		! videoconvert ! "video/x-raw,format=I420" ! jpegenc quality=85 ! fakesink >/dev/null 2>&1
}
short=$((n / 10 > 0 ? n / 10 : 1))
for run in 1 2 3; do
	gst "$n" "$work/gst.long"
	gst "$short" "$work/gst.short"
done
least() { awk 'NR == 1 || $1 + $2 < m {m = $1 + $2} END {print m}' "$1"; }
gst_cpu=$(awk -v n="$n" -v s="$short" -v l="$(least "$work/gst.long")" -v t="$(least "$work/gst.short")" \
	'BEGIN {printf "%.5f", (l - t) / (n - s)}')
gst_rss=$(awk 'NR == 1 || $3 < m {m = $3} END {print m}' "$work/gst.long")
taskset -c 0 gst-launch-1.0 -q filesrc location="$work/frame.yuyv" ! rawvideoparse width=1920 height=1080 \
	format=yuy2 framerate=30/1 ! videoconvert ! "video/x-raw,format=I420" ! jpegenc quality=85 \
	! filesink location="$work/gst.jpg" >/dev/null 2>&1
gst_bytes=$(wc -c <"$work/gst.jpg")
# the former measurement: N frames through filesrc, start-up included
i=0
while [ $i -lt "$n" ]; do cat "$work/frame.yuyv"; i=$((i + 1)); done >"$work/frames.yuyv"
/usr/bin/time -f "%U %S %M" -o "$work/gst.file" taskset -c 0 gst-launch-1.0 -q filesrc location="$work/frames.yuyv" \
	! rawvideoparse width=1920 height=1080 format=yuy2 framerate=30/1 ! videoconvert \
	! "video/x-raw,format=I420" ! jpegenc quality=85 ! fakesink >/dev/null 2>&1
gstf_cpu=$(awk -v n="$n" '{printf "%.5f", ($1+$2)/n}' "$work/gst.file")
gstf_rss=$(awk '{print $3}' "$work/gst.file")

fps() { awk -v c="$1" 'BEGIN {printf "%.1f", 1/c}'; }
echo "encode 1920x1080 YUYV, quality 85, 4:2:0, one core, $n frames:"
printf "  %-34s %11s %9s %11s %10s\n" "" "s/frame" "frames/s" "JPEG bytes" "peak RSS"
printf "  %-34s %11s %9s %11s %10s\n" "tjbench -yuv (wall; CPU share $tj_share)" "$tj_cpu" "$(fps "$tj_cpu")" "~$tj_bytes" "-"
printf "  %-34s %11s %9s %11s %10s\n" "TurboJPEG from planes (CPU)" "$tjp_cpu" "$(fps "$tjp_cpu")" "$tjp_bytes" "-"
printf "  %-34s %11s %9s %11s %6s KiB\n" "fieldcam encoder (CPU)" "$fc_cpu" "$(fps "$fc_cpu")" "$fc_bytes" "$fc_rss"
printf "  %-34s %11s %9s %11s %10s\n" "fieldcam, limited range stretched" "$fcl_cpu" "$(fps "$fcl_cpu")" "$fcl_bytes" "-"
printf "  %-34s %11s %9s %11s %6s KiB\n" "GStreamer jpegenc (CPU)" "$gst_cpu" "$(fps "$gst_cpu")" "$gst_bytes" "$gst_rss"
printf "  %-34s %11s %9s %11s %6s KiB\n" "GStreamer, filesrc, start-up in" "$gstf_cpu" "$(fps "$gstf_cpu")" "" "$gstf_rss"
echo "  (median rounds: fieldcam $fc_med, TurboJPEG $tjp_med s/frame; fieldcam's peak RSS with the"
echo "  1080p input frame loaded, before encoding: $fc_frame_rss KiB)"
awk -v f="$fc_cpu" -v fl="$fcl_cpu" -v t="$tj_cpu" -v p="$tjp_cpu" -v g="$gst_cpu" -v gf="$gstf_cpu" -v fr="$fc_rss" -v gr="$gst_rss" \
	-v gfr="$gstf_rss" 'BEGIN {
	printf "  fieldcam / tjbench throughput: %.2fx (goal 0.9x)\n", t / f
	printf "  fieldcam / TurboJPEG from planes, same clock: %.2fx\n", p / f
	printf "  stretching a limited-range frame to full range costs %.2f ms a frame\n", (fl - f) * 1000
	printf "  fieldcam / GStreamer throughput: %.2fx (goal 1.8x); against the filesrc run: %.2fx\n", g / f, gf / f
	printf "  fieldcam peak RSS / GStreamer: %.2f (goal 0.25); against the filesrc run: %.2f\n", fr / gr, fr / gfr }'
