#!/bin/sh
# Runs inside the vivid VM: sh guest-capture.sh OUTDIR FIELDCAM
# 1. vivid offers what we expect; 2. `fieldcam capture` at 640x480 and
# 1280x720 in YUYV, NV12, YU12, GREY and RGB24 into OUTDIR/FMT-SIZE/;
# 3. camera formats the encoder cannot take (YVYU, YV12, RGB565, XRGB32,
# Bayer), asked for by fourcc and converted by libv4lconvert, into
# OUTDIR/conv-FOURCC/ (in a build without libv4lconvert: the error that says
# so), and once more through `fieldcam run` with YVYU as the config file's
# camera.format; one libv4lconvert does not know (NV21) and one vivid does not offer
# (ABCD), refused with the list of what vivid offers; 4. faults pressed with
# v4l2-ctl while a long capture streams. The host checks the JPEGs (djpeg)
# afterwards.
out=$1 bin=$2
fails=0
say() { echo "guest: $*"; }
v4l2-ctl -d /dev/video0 --list-formats >"$out/formats.txt" 2>&1
for f in YUYV NV12 YU12 GREY RGB3 YVYU YV12 RGBP XR24 BA81 NV21; do
	grep -q "'$f'" "$out/formats.txt" || { say "vivid does not offer $f"; fails=$((fails + 1)); }
done
"$bin" devices --json >"$out/devices.json" 2>&1 && "$bin" devices >"$out/devices.txt" 2>&1
if grep -q '"fourcc":	"YUYV"' "$out/devices.json" && grep -q '/dev/video0: vivid' "$out/devices.txt"; then
	say "devices: lists vivid with YUYV"
else
	say "devices: $(cat "$out/devices.txt")"
	fails=$((fails + 1))
fi
for size in 640x480 1280x720; do
	for fmt in yuyv nv12 yu12 grey rgb24; do
		d=$out/cap-$fmt-$size
		if "$bin" capture -d /dev/video0 -s "$size" -f "$fmt" -n 3 -o "$d" 2>"$d.log"; then
			say "capture $fmt $size: ok"
		else
			say "capture $fmt $size: exit $?: $(cat "$d.log")"
			fails=$((fails + 1))
		fi
	done
done
# conversion: the same colour bars as the native captures, through libv4lconvert
for fcc in YVYU YV12 RGBP XR24 BA81; do
	d=$out/conv-$fcc
	if "$bin" capture -d /dev/video0 -s 640x480 -f "$fcc" -n 3 -o "$d" 2>"$d.log"; then
		say "convert $fcc: ok"
	elif grep -q "needs conversion by libv4lconvert, which this build does not have" "$d.log"; then
		say "convert $fcc: not in this build, said so: $(cat "$d.log")"
		touch "$d.unbuilt"
	else
		say "convert $fcc: exit $?: $(cat "$d.log")"
		fails=$((fails + 1))
	fi
done
# the config file's camera.format takes a fourcc as -f does: `fieldcam run`
# (upload.mode none) asks for YVYU; the host reads the spool back
if [ ! -f "$out/conv-YVYU.unbuilt" ]; then
	cat >"$out/run-YVYU.json" <<JSON
{"device_id":"vivid-vm","camera":{"device":"/dev/video0","width":640,"height":480,"format":"YVYU","interval":"200ms"},
 "spool":{"dir":"/run/spool-YVYU"},"upload":{"mode":"none"},"results":{"file":"/run/results-YVYU.jsonl"}}
JSON
	if "$bin" run -c "$out/run-YVYU.json" --frames 3 2>"$out/run-YVYU.log" && cp -R /run/spool-YVYU "$out/"; then
		say "run with camera.format YVYU: ok"
	else
		say "run with camera.format YVYU: $(tail -3 "$out/run-YVYU.log")"
		fails=$((fails + 1))
	fi
fi
for refuse in "ABCD:does not offer ABCD; it offers: YUYV" \
	"NV21:libv4lconvert cannot convert NV21; fieldcam takes MJPG YUYV UYVY NV12 YU12 GREY RGB3 BGR3; the device offers: YUYV"; do
	fcc=${refuse%%:*} want=${refuse#*:}
	[ -f "$out/conv-YVYU.unbuilt" ] && [ "$fcc" = NV21 ] && want="NV21 needs conversion by libv4lconvert, which this build does not have"
	if "$bin" capture -d /dev/video0 -s 640x480 -f "$fcc" -n 1 -o "$out/conv-$fcc" 2>"$out/conv-$fcc.log" ||
		! grep -q "$want" "$out/conv-$fcc.log"; then
		say "fourcc $fcc: $(cat "$out/conv-$fcc.log")"
		fails=$((fails + 1))
	else
		say "fourcc $fcc: refused, listing what vivid offers"
	fi
done
# faults from a second process while a long capture streams
v4l2-ctl -d /dev/video0 --list-ctrls >"$out/ctrls.txt" 2>&1
n=150
for ctrl in inject_vidioc_streamon_error inject_vidioc_qbuf_error inject_v4l2_buf_flag_error inject_fatal_streaming_error percentage_of_dropped_buffers disconnect; do
	d=$out/fault-$ctrl
	if [ $ctrl = inject_vidioc_streamon_error ]; then
		# pressed before the capture starts: the next STREAMON fails
		v4l2-ctl -d /dev/video0 -c "$ctrl=1" >"$d.ctl" 2>&1
	fi
	"$bin" capture -d /dev/video0 -s 640x480 -f yuyv -n $n -o "$d" 2>"$d.log" &
	pid=$!
	sleep 1.5
	case $ctrl in
	inject_vidioc_streamon_error) ;;
	percentage_of_dropped_buffers) v4l2-ctl -d /dev/video0 -c "$ctrl=50" ;;
	*) v4l2-ctl -d /dev/video0 -c "$ctrl=1" ;;
	esac >"$d.ctl" 2>&1
	before=$(ls "$d" 2>/dev/null | wc -l)
	wait $pid
	rc=$?
	[ "$ctrl" = percentage_of_dropped_buffers ] && v4l2-ctl -d /dev/video0 -c "$ctrl=0" >/dev/null 2>&1
	after=$(ls "$d" 2>/dev/null | wc -l)
	echo "$before $after" >"$d.count"
	if [ $rc = 0 ] && [ "$after" -eq $n ] && [ "$before" -lt $n ]; then
		say "fault $ctrl: capture went on ($before frames before the fault, $n in all)"
	else
		say "fault $ctrl: exit $rc, $before frames before, $after in all: $(tail -3 "$d.log")"
		fails=$((fails + 1))
	fi
	# after a disconnect vivid's node comes back once every handle is closed
	[ "$ctrl" = disconnect ] && sleep 1
done
say "$fails failures"
[ $fails = 0 ]
