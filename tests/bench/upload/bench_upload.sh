#!/bin/sh
# bench_upload.sh FIELDCAM_BINARY [N]: uploads per second over HTTPS against a
# local nginx (a `return 200` location answering like :predict), with the same
# ~320 KB 1080p JPEG as the body, for
#   1. fieldcam's uploader: `fieldcam run` draining a backlog of N images
#      from its spool (results written and synced, acks made durable),
#   2. one `curl` process per image (the shell-script way),
#   3. one `curl` process sending all N over one connection (--next),
# plus the TLS handshakes each made per 1,000 uploads (nginx's $connection),
# and the peak RSS of `fieldcam run` capturing 1080p and uploading.
# Not a test: prints a table. Needs nginx (nginx-light), curl, openssl.
set -eu
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
n=${2:-200}
work=$(mktemp -d)
nginx_pid=""
cleanup() {
	[ -z "$nginx_pid" ] || kill "$nginx_pid" 2>/dev/null || true
	[ -z "${KEEP:-}" ] || { echo "kept $work"; return; }
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
cd "$work"

for t in nginx curl openssl python3; do
	command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || { echo "bench_upload: $t is not installed"; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# --- certificates: a CA and a server certificate for 127.0.0.1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out srv.pem 2>/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reply='{"predictions":[{"ids":["8420011357000000001"],"displayNames":["bench"],"confidences":[0.9]}],"deployedModelId":"1"}'
mkdir -p logs tmp
cat >nginx.conf <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 256; }
http {
  log_format bench '\$connection \$connection_requests \$request_length \$status \$msec \$request_time';
  access_log $work/logs/access.log bench;
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  client_max_body_size 4m;
  client_body_buffer_size 1m;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $work/srv.pem;
    ssl_certificate_key $work/srv.key;
    location / { default_type application/json; return 200 '$reply'; }
  }
}
EOF
"$NGINX" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' 2>logs/nginx.stderr &
nginx_pid=$!
i=0
while ! curl -s -o /dev/null --cacert ca.pem "https://127.0.0.1:$port/" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

# --- the image and the request body the others send (fieldcam builds its own)
mkdir -p img
"$bin" capture -d testpattern -s 1920x1080 -q 85 -o img/frame.jpg 2>/dev/null
size=$(wc -c <img/frame.jpg)
{
	printf '{"instances":[{"content":"'
	base64 -w0 img/frame.jpg
	printf '","mimeType":"image/jpeg"}],"parameters":{"confidenceThreshold":0.5,"maxPredictions":5}}'
} >body.json
path=/v1/projects/p/locations/us-central1/endpoints/1:predict
url=https://127.0.0.1:$port$path
echo "bench-token" >token

conf() { # conf MODE CAMERA WxH
	cat >"$work/c-$1.json" <<EOF
{"device_id":"bench","camera":{"device":"$2","width":${3%x*},"height":${3#*x},"interval":"100ms","quality":85},
 "spool":{"dir":"$work/spool-$1","max_bytes":"512MiB","segment_bytes":"8MiB"},
 "upload":{"mode":"$1"},
 "online":{"endpoint":"projects/p/locations/us-central1/endpoints/1"},
 "auth":{"type":"token_file","token_file":"$work/token"},
 "tls":{"ca_file":"$work/ca.pem"},
 "api":{"aiplatform":"https://127.0.0.1:$port"},
 "results":{"file":"$work/results-$1.jsonl"},"log":{"level":"warn"}}
EOF
}

conns() { # distinct connections in the access log since line $1
	tail -n +"$1" logs/access.log | awk '{print $1}' | sort -u | wc -l
}
span() { # seconds from the first request's start to the last one's end, since line $1
	tail -n +"$1" logs/access.log | awk 'NR == 1 { first = $5 - $6 } { last = $5 } END { printf "%.4f\n", last - first }'
}
lines() { wc -l <logs/access.log; }
now() { python3 -c 'import time; print(time.monotonic())'; }

rounds=${ROUNDS:-5}
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a + b }'; }
# 1. fill a spool with N images once (spool only); each round drains a copy
conf none "files:$work/img" 1920x1080
"$bin" run -c c-none.json --frames "$n" 2>/dev/null
sed -e 's/"mode":"none"/"mode":"online"/' -e "s/spool-none/spool-online/; s/results-none/results-online/" c-none.json >c-online.json

# the curl command line for all N over one connection
set --
i=0
while [ $i -lt "$n" ]; do
	[ $i = 0 ] || set -- "$@" --next
	set -- "$@" -s -o /dev/null --cacert ca.pem -H 'Authorization: Bearer bench-token' \
		-H 'Content-Type: application/json' --data-binary @body.json "$url"
	i=$((i + 1))
done

: >rounds.txt
r=0
while [ $r -lt "$rounds" ]; do
	# fieldcam: drain the backlog (+1 frame it captures itself)
	rm -rf spool-online results-online.jsonl
	cp -a spool-none spool-online
	sync
	l0=$(lines)
	/usr/bin/time -f '%e %U %S %M' -o fc.time "$bin" run -c c-online.json --frames 1 2>fc.log
	read -r fc_wall fc_user fc_sys fc_rss <fc.time
	fc_n=$(wc -l <results-online.jsonl)
	echo "fc $fc_n $(span $((l0 + 1))) $fc_wall $(add "$fc_user" "$fc_sys") $(conns $((l0 + 1)))" >>rounds.txt
	# one curl, one connection, all images
	l0=$(lines)
	/usr/bin/time -f '%e %U %S' -o curl.time curl "$@"
	read -r c2_wall c2_user c2_sys <curl.time
	echo "one $n $(span $((l0 + 1))) $c2_wall $(add "$c2_user" "$c2_sys") $(conns $((l0 + 1)))" >>rounds.txt
	# a curl process per image (fewer images: its rate is per process anyway)
	m=$((n / 4))
	l0=$(lines)
	t0=$(now)
	i=0
	while [ $i -lt "$m" ]; do
		curl -s -o /dev/null --cacert ca.pem -H 'Authorization: Bearer bench-token' \
			-H 'Content-Type: application/json' --data-binary @body.json "$url"
		i=$((i + 1))
	done
	t1=$(now)
	echo "each $m $(span $((l0 + 1))) $(add "$t1" "-$t0") 0 $(conns $((l0 + 1)))" >>rounds.txt
	r=$((r + 1))
done

# 4. peak RSS of `fieldcam run` at 1080p, capturing and uploading
conf online testpattern 1920x1080
sed -i "s/spool-online/spool-rss/; s/results-online/results-rss/" c-online.json
/usr/bin/time -f '%M' -o rss.time "$bin" run -c c-online.json --frames 50 2>rss.log
rss=$(cat rss.time)
rss_n=$(wc -l <results-rss.jsonl)

python3 - "$size" "$rss" "$rss_n" rounds.txt <<'EOF'
import statistics, sys
size, rss_kb, rss_n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rows = {}
for line in open(sys.argv[4]):
    who, n, span, wall, cpu, conns = line.split()
    rows.setdefault(who, []).append((int(n), float(span), float(wall), float(cpu), int(conns)))
def med(who, f):
    return statistics.median(f(r) for r in rows[who])
# uploads/s on the wire: nginx's span from the first request in to the last reply out
rate = {w: med(w, lambda r: r[0] / r[1]) for w in rows}
# uploads/s of the whole process, start to exit
prate = {w: med(w, lambda r: r[0] / r[2]) for w in rows}
hs = {w: med(w, lambda r: r[4] * 1000.0 / r[0]) for w in rows}
n = rows["fc"][0][0]
print("upload benchmark: %d rounds, each draining %d images of %d bytes (1080p JPEG, JSON + base64 body)"
      " to nginx over HTTPS; medians" % (len(rows["fc"]), n, size))
print("| uploader | uploads/s on the wire | fieldcam's ratio to it | uploads/s, whole process | TLS handshakes per 1,000 uploads |")
print("|---|---|---|---|---|")
names = {"fc": "fieldcam run (spool backlog, results synced, acks durable)",
         "one": "curl, one process, one connection (--next)", "each": "curl, one process per image"}
for w in ("fc", "one", "each"):
    print("| %s | %.0f | %.2fx | %.0f | %.1f |" % (names[w], rate[w], rate["fc"] / rate[w], prate[w], hs[w]))
print("CPU per upload (user + sys, whole process): fieldcam %.2f ms, one curl %.2f ms"
      % (med("fc", lambda r: r[3] * 1000 / r[0]), med("one", lambda r: r[3] * 1000 / r[0])))
pairs = [(f[0] / f[1]) / (o[0] / o[1]) for f, o in zip(rows["fc"], rows["one"])]
print("fieldcam / one curl, round by round (same moment, same load): %s; median %.2fx" % (
    " ".join("%.2f" % x for x in pairs), statistics.median(pairs)))
print("per round (uploads/s on the wire): fieldcam %s; one curl %s" % (
    " ".join("%.0f" % (r[0] / r[1]) for r in rows["fc"]), " ".join("%.0f" % (r[0] / r[1]) for r in rows["one"])))
print("peak RSS of fieldcam run, 1080p test pattern, capturing and uploading %d frames: %.1f MB" % (rss_n, rss_kb / 1024))
EOF
