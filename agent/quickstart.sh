#!/bin/sh
# quickstart.sh: build fieldcam and run its main job on the embedded
# default, with no camera and no cloud account needed:
#   * the camera is /dev/video0 when there is one, else the test pattern;
#   * the endpoint is the local reference endpoint (tests/endpoint/) when
#     it is present, else the agent runs spool-only (upload.mode "none").
# Everything it writes goes under ./build-quickstart. Installs missing
# Debian packages when run as root, else prints the apt-get line.
# Environment: FRAMES (default 10), INTERVAL (default "1s").
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/build-quickstart
frames=${FRAMES:-10}
interval=${INTERVAL:-1s}

if [ -t 1 ]; then
	say() { printf '\033[1mquickstart:\033[0m %s\n' "$*"; }
else
	say() { printf 'quickstart: %s\n' "$*"; }
fi

deps=build
[ -f "$src/tests/endpoint/refendpoint.py" ] && deps=test
say "checking packages"
"$src/toolchains/install-deps.sh" "$deps"

say "building fieldcam (Release) in $out/build"
cmake -S "$src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DFIELDCAM_TESTS=OFF >"$out.cmake.log" 2>&1 ||
	{ cat "$out.cmake.log"; exit 1; }
cmake --build "$out/build" -j "$(nproc 2>/dev/null || echo 2)" >"$out.build.log" 2>&1 ||
	{ grep -E 'error' "$out.build.log"; exit 1; }
bin=$out/build/agent/fieldcam
"$bin" version

device=testpattern
if [ -c /dev/video0 ] && "$bin" devices 2>/dev/null | grep -q '^/dev/video0:'; then
	device=/dev/video0
fi
say "camera: $device"

mkdir -p "$out/run"
endpoint_pid=""
cleanup() { [ -z "$endpoint_pid" ] || kill "$endpoint_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

upload='"upload": { "mode": "none" }'
extra=''
# online mode comes with `predict`; until this build has it, spool only
if [ -f "$src/tests/endpoint/refendpoint.py" ] && "$bin" help predict >/dev/null 2>&1; then
	say "starting the local reference endpoint (a strict stand-in for Vertex AI)"
	rm -rf "$out/endpoint"
	mkdir -p "$out/endpoint"
	/usr/bin/python3 "$src/tests/endpoint/refendpoint.py" --state-dir "$out/endpoint" \
		>"$out/endpoint.log" 2>&1 &
	endpoint_pid=$!
	i=0
	while ! grep -q '^ready ' "$out/endpoint.log" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$out/endpoint/endpoint.json" ] || { cat "$out/endpoint.log"; exit 1; }
	e=$out/endpoint/endpoint.json
	# a key of endpoint.json; dots walk into objects (api.aiplatform)
	val() { /usr/bin/python3 -c "import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'): v=v[k]
print(v)" "$e" "$1"; }
	upload='"upload": { "mode": "online" }'
	extra=",
  \"online\": { \"endpoint\": \"$(val online_endpoint)\" },
  \"auth\": { \"type\": \"service_account\", \"key_file\": \"$(val key_file)\" },
  \"tls\": { \"ca_file\": \"$(val ca_cert)\" },
  \"api\": { \"aiplatform\": \"$(val api.aiplatform)\", \"storage\": \"$(val api.storage)\", \"oauth_token_uri\": \"$(val api.oauth_token_uri)\" }"
	say "endpoint up: $(val api.aiplatform)"
else
	say "this build has no online upload yet: running spool-only (upload.mode none)"
fi

cat >"$out/run/fieldcam.json" <<JSON
{
  "device_id": "quickstart",
  "camera": { "device": "$device", "width": 1280, "height": 720, "interval": "$interval" },
  "spool": { "dir": "$out/run/spool", "max_bytes": "64MiB", "segment_bytes": "4MiB" },
  "results": { "file": "$out/run/results.jsonl" },
  $upload$extra
}
JSON
say "config: $out/run/fieldcam.json"
"$bin" config check -q -c "$out/run/fieldcam.json"
say "config OK"

if "$bin" help run >/dev/null 2>&1; then
	say "running: fieldcam run -c $out/run/fieldcam.json --frames $frames (one frame every $interval)"
	"$bin" run -c "$out/run/fieldcam.json" --frames "$frames"
	say "done; spool status:"
	"$bin" status -c "$out/run/fieldcam.json" || true
	[ ! -s "$out/run/results.jsonl" ] || { say "results ($out/run/results.jsonl):"; tail -n 5 "$out/run/results.jsonl"; }
elif "$bin" help capture >/dev/null 2>&1; then
	say "this build has no 'run' yet: capturing $frames frames with 'fieldcam capture'"
	"$bin" capture -d "$device" -s 1280x720 -n "$frames" -o "$out/run/frames"
	say "frames in $out/run/frames"
else
	say "this build has neither 'run' nor 'capture' yet: the config above is all it can check"
fi
