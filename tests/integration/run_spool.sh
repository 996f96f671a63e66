#!/bin/sh
# Integration: `fieldcam run` in spool-only mode with the real binary and a
# real file system: frames in, records in the spool; SIGTERM and SIGKILL in
# the middle; restart goes on with new sequence numbers; `status` reports. usage: run_spool.sh FIELDCAM_BINARY
set -u
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0 passes=0
ok() { echo "ok   $*"; passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

cat >"$work/c.json" <<JSON
{"device_id":"it-cam","camera":{"device":"testpattern","interval":"100ms","width":320,"height":240},
 "spool":{"dir":"$work/spool","max_bytes":"8MiB","segment_bytes":"256KiB","sync":"batch","sync_interval":"100ms"},
 "upload":{"mode":"none"},"results":{"file":"$work/results.jsonl"}}
JSON

# 1. --frames: exactly N records
"$bin" run -c "$work/c.json" --frames 12 2>"$work/log1"
rc=$?
[ $rc = 0 ] && ok "run --frames 12 exits 0" || bad "run --frames 12 exit $rc: $(cat "$work/log1")"
"$bin" status -c "$work/c.json" --json >"$work/st1" 2>&1
grep -q '"records":	12' "$work/st1" && ok "status: 12 records waiting" || bad "status after 12 frames: $(cat "$work/st1")"
grep -q '"daemon":	"stopped"' "$work/st1" && ok "status: daemon stopped" || bad "status daemon: $(cat "$work/st1")"

# 2. SIGTERM in the middle: exit 0, status shows it stopped cleanly
"$bin" run -c "$work/c.json" 2>"$work/log2" &
pid=$!
sleep 1.5
"$bin" status -c "$work/c.json" >"$work/st2" 2>&1
grep -q 'daemon:    running' "$work/st2" && ok "status sees the running daemon" || bad "status while running: $(cat "$work/st2")"
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 0 ] && ok "SIGTERM: exit 0" || bad "SIGTERM: exit $rc"
grep -q 'stopping on SIGTERM' "$work/log2" && ok "SIGTERM logged" || bad "no SIGTERM line: $(cat "$work/log2")"

# 3. SIGKILL in the middle: status says so; restart recovers and continues
"$bin" run -c "$work/c.json" 2>"$work/log3" &
pid=$!
sleep 1.2
kill -KILL $pid
wait $pid 2>/dev/null
"$bin" status -c "$work/c.json" >"$work/st3" 2>&1
grep -q 'stopped unexpectedly' "$work/st3" && ok "status after SIGKILL: stopped unexpectedly" || bad "status after kill: $(cat "$work/st3")"
before=$("$bin" status -c "$work/c.json" --json | sed -n 's/.*"records":	\([0-9]*\).*/\1/p')
"$bin" run -c "$work/c.json" --frames 3 2>"$work/log4"
rc=$?
after=$("$bin" status -c "$work/c.json" --json | sed -n 's/.*"records":	\([0-9]*\).*/\1/p')
[ $rc = 0 ] && [ "$after" = $((before + 3)) ] && ok "restart after SIGKILL: $before + 3 = $after records" ||
	bad "restart after kill: exit $rc, $before then $after records: $(cat "$work/log4")"
next=$("$bin" status -c "$work/c.json" --json | sed -n 's/.*"next_seq":	\([0-9]*\).*/\1/p')
[ "$next" -gt "$after" ] && ok "sequence numbers keep growing ($next)" || bad "next_seq $next"

# 4. recovery after the kill found nothing corrupt
n=$("$bin" status -c "$work/c.json" --json | sed -n 's/.*"corrupt":	\([0-9]*\).*/\1/p' | head -1)
[ "$n" = 0 ] && ok "no corrupt records" || bad "corrupt records: $n"

# 5. bad input gets one clear line and the right exit status
"$bin" run -c "$work/missing.json" 2>"$work/log5"
rc=$?
[ $rc = 2 ] && grep -q "missing.json: cannot read" "$work/log5" && ok "missing config: exit 2" || bad "missing config: exit $rc $(cat "$work/log5")"
sed 's/"mode":"none"/"mode":"online"/' "$work/c.json" >"$work/online.json"
"$bin" run -c "$work/online.json" --frames 1 2>"$work/log6"
rc=$?
[ $rc = 2 ] && grep -q "online.endpoint: missing" "$work/log6" && ok "online without endpoint: exit 2" || bad "online without endpoint: exit $rc $(cat "$work/log6")"
sed 's|"device":"testpattern"|"device":"files:/nonexistent"|' "$work/c.json" >"$work/nodev.json"
"$bin" run -c "$work/nodev.json" --duration 1s 2>"$work/log7"
rc=$?
[ $rc = 0 ] && grep -q "cannot open" "$work/log7" && ok "missing camera: keeps retrying, one line, stops on --duration" ||
	bad "missing camera: exit $rc $(cat "$work/log7")"
"$bin" run -c "$work/c.json" --frames 0 2>"$work/log8"
rc=$?
[ $rc = 2 ] && ok "--frames 0: exit 2" || bad "--frames 0: exit $rc"

# 6. the file system fills up under the daemon: it drops by policy and runs on
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	mkdir -p "$work/small"
	sed -e "s|$work/spool|$work/small/spool|" -e 's|"max_bytes":"8MiB","segment_bytes":"256KiB"|"max_bytes":"64MiB","segment_bytes":"128KiB"|' \
		-e 's|"interval":"100ms","width":320,"height":240|"interval":"100ms","width":1280,"height":720|' \
		"$work/c.json" >"$work/small.json"
	unshare -m sh -c "mount -t tmpfs -o size=1m tmpfs '$work/small' && exec '$bin' run -c '$work/small.json' --duration 3s" 2>"$work/log9"
	rc=$?
	lines=$(wc -l <"$work/log9")
	if [ $rc = 0 ] && grep -q "dropped the oldest" "$work/log9" && [ "$lines" -lt 15 ]; then
		ok "full file system: runs on, drops the oldest ($lines log lines)"
	else
		bad "full file system: exit $rc, $lines lines: $(cat "$work/log9")"
	fi
else
	echo "skip full file system test: needs root and unshare"
fi

echo "$passes passed, $fails failed"
[ $fails = 0 ]
