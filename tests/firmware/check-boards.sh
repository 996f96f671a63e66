#!/bin/sh
# check-boards.sh BOARDS_DIR FIELDCAM: every board folder has its sample
# config, systemd unit and install note; the unit has the hardening the
# project promises (dedicated user in the video group, ProtectSystem=strict,
# writes only to /var/lib/fieldcam, NoNewPrivileges, restart on failure),
# the config keeps the spool and results where the unit lets it write,
# `systemd-analyze verify` accepts the unit (its ExecStart pointed at
# FIELDCAM) and `systemd-analyze security` rates it 2.0 or better.
# (`config check` on the samples is in tests/unit/test_config.c.)
set -u
boards=$1 bin=$2
fails=0 n=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
sa=$(command -v systemd-analyze || true)
[ -n "$sa" ] || echo "note: no systemd-analyze: the units are checked by their text only"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in "$boards"/*/; do
	b=$(basename "$d")
	n=$((n + 1))
	for f in fieldcam.json fieldcam.service INSTALL.md; do
		[ -f "$d/$f" ] || bad "$b: no $f"
	done
	u=$d/fieldcam.service
	[ -f "$u" ] || continue
	for line in User=fieldcam SupplementaryGroups=video ProtectSystem=strict NoNewPrivileges=yes \
		ReadWritePaths=/var/lib/fieldcam Restart=on-failure ProtectHome=yes PrivateTmp=yes \
		DevicePolicy=closed "DeviceAllow=char-video4linux rw" CapabilityBoundingSet= \
		Type=notify NotifyAccess=main WatchdogSec=60s \
		"ExecStart=/usr/local/bin/fieldcam run -c /etc/fieldcam/fieldcam.json"; do
		grep -qx "$line" "$u" || bad "$b: fieldcam.service lacks '$line'"
	done
	rw=$(grep -c '^ReadWritePaths=' "$u")
	[ "$rw" = 1 ] || bad "$b: $rw ReadWritePaths lines, expected one"
	# the config writes only where the unit allows
	where=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["spool"]["dir"], c["results"]["file"])' "$d/fieldcam.json" 2>&1)
	for p in $where; do
		case $p in
		/var/lib/fieldcam/*) ;;
		*) bad "$b: fieldcam.json writes $p, outside ReadWritePaths=/var/lib/fieldcam" ;;
		esac
	done
	if [ -n "$sa" ]; then
		mkdir -p "$tmp/$b"
		sed "s|/usr/local/bin/fieldcam|$bin|g" "$u" >"$tmp/$b/fieldcam.service"
		# it says what it does not understand (unknown keys) but exits 0 then
		if out=$("$sa" verify "$tmp/$b/fieldcam.service" 2>&1) && [ -z "$out" ]; then
			ok "$b: systemd-analyze verify"
		else
			bad "$b: systemd-analyze verify: $out"
		fi
		score=$("$sa" security --offline=yes "$tmp/$b/fieldcam.service" 2>&1 | sed -n 's/.*Overall exposure level for fieldcam.service: \([0-9.]*\).*/\1/p')
		if "$sa" security --offline=yes --threshold=20 "$tmp/$b/fieldcam.service" >/dev/null 2>&1; then
			ok "$b: systemd-analyze security: exposure $score"
		else
			bad "$b: systemd-analyze security: exposure ${score:-?}, above 2.0"
		fi
	fi
done
[ $n -ge 5 ] || bad "only $n board folders"
echo "boards: $n checked, $fails failures"
[ $fails = 0 ]
