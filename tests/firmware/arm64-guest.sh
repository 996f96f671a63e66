#!/bin/sh
# Runs inside the arm64 board VM (busybox sh): sh arm64-guest.sh OUT
# OUT/fieldcam is the static aarch64 binary. 1. it runs and finds vivid;
# 2. `fieldcam capture` 20 frames into OUT/capture; 3. `fieldcam run
# --frames N` (upload.mode none) into a spool on the guest's tmpfs, under
# `time -v` for the peak RSS, then the spool is copied to OUT/spool. The
# host decodes every JPEG afterwards.
out=$1
fc=$out/fieldcam
frames=${FC_RUN_FRAMES:-12}
fails=0
say() { echo "guest: $*"; }
uname -m >"$out/uname.txt"
"$fc" version >"$out/version.txt" 2>&1 || { say "version: exit $?"; fails=$((fails + 1)); }
dev=""
for n in /sys/class/video4linux/video*; do
	[ -e "$n/name" ] || continue
	if grep -q vivid "$n/name"; then
		dev=/dev/${n##*/}
		break
	fi
done
[ -n "$dev" ] || { say "no vivid video node: $(ls /sys/class/video4linux 2>&1)"; exit 1; }
echo "$dev" >"$out/device.txt"
"$fc" devices >"$out/devices.txt" 2>&1
grep -q "$dev: vivid" "$out/devices.txt" && say "devices: $dev is vivid" ||
	{ say "devices: $(cat "$out/devices.txt")"; fails=$((fails + 1)); }

start=$(date +%s)
if "$fc" capture -d "$dev" -s 1280x720 -n 20 -o "$out/capture" 2>"$out/capture.log"; then
	say "capture: 20 frames from $dev in $(($(date +%s) - start)) s"
else
	say "capture: exit $?: $(tail -3 "$out/capture.log")"
	fails=$((fails + 1))
fi

cat >"$out/run.json" <<JSON
{"device_id":"arm64-vm","camera":{"device":"$dev","width":1280,"height":720,"interval":"200ms"},
 "spool":{"dir":"/tmp/spool","max_bytes":"16MiB","segment_bytes":"1MiB","sync":"batch","sync_interval":"1s"},
 "upload":{"mode":"none"},"results":{"file":"/tmp/results.jsonl"}}
JSON
start=$(date +%s)
time -v "$fc" run -c "$out/run.json" --frames "$frames" 2>"$out/run.log"
rc=$?
sed -n 's/.*Maximum resident set size (kbytes): *//p' "$out/run.log" >"$out/run-maxrss-kb.txt"
if [ $rc = 0 ]; then
	say "run: $frames frames in $(($(date +%s) - start)) s, peak RSS $(cat "$out/run-maxrss-kb.txt") kB"
else
	say "run: exit $rc: $(tail -5 "$out/run.log")"
	fails=$((fails + 1))
fi
"$fc" status -c "$out/run.json" --json >"$out/status.json" 2>&1
grep -q "\"records\":	$frames" "$out/status.json" && say "status: $frames records in the spool" ||
	{ say "status: $(cat "$out/status.json")"; fails=$((fails + 1)); }
cp -R /tmp/spool "$out/spool"
say "$fails failures"
[ $fails = 0 ]
