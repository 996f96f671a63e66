#!/bin/sh
# check-binary.sh FIELDCAM MAX_BYTES [RUNNER]: the firmware binary is an
# ELF executable with no program interpreter and no dynamic section (fully
# static), no symbol table (stripped), no OpenSSL inside, at most MAX_BYTES,
# and `fieldcam version` (through RUNNER, e.g. a qemu-user wrapper, when
# given) names mbedTLS as libcurl's TLS backend.
set -u
bin=$1 max=$2 run=${3:-$1}
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
command -v readelf >/dev/null 2>&1 || { echo "skip: no readelf (apt-get install binutils)"; exit 77; }

hdr=$(readelf -h "$bin" 2>&1)
machine=$(echo "$hdr" | sed -n 's/^ *Machine: *//p')
echo "$hdr" | grep -q 'Type: *EXEC' && ok "ELF executable ($machine)" || bad "not an ELF executable: $(echo "$hdr" | grep Type)"
if readelf -lW "$bin" | grep -q -e INTERP -e DYNAMIC; then
	bad "dynamically linked: $(readelf -lW "$bin" | grep -e INTERP -e 'interpreter')"
else
	ok "static: no interpreter, no dynamic section"
fi
if readelf -SW "$bin" | grep -q -e '\.symtab' -e '\.debug_'; then
	bad "not stripped (.symtab or .debug_* present)"
else
	ok "stripped"
fi
size=$(wc -c <"$bin" | tr -d ' ')
[ "$size" -le "$max" ] && ok "size $size bytes (at most $max)" || bad "size $size bytes, more than $max"
# OpenSSL leaves its name in its error strings and version text
if grep -a -q -e 'OpenSSL [0-9]' -e 'libssl' -e 'OPENSSL_init' "$bin"; then
	bad "OpenSSL strings inside"
else
	ok "no OpenSSL inside"
fi
v=$("$run" version 2>&1)
rc=$?
echo "$v" | sed 's/^/     /'
if [ $rc = 0 ] && echo "$v" | grep -q '^libcurl .*(TLS: mbedTLS/' && echo "$v" | grep -q '^mbedTLS '; then
	ok "fieldcam version: libcurl on mbedTLS"
else
	bad "fieldcam version: exit $rc"
fi
echo "firmware binary: $fails failures"
[ $fails = 0 ]
