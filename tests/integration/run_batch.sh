#!/bin/sh
# End to end in batch mode against the reference endpoint: see run_batch.py.
# usage: run_batch.sh FIELDCAM_BINARY   (exit 0 pass, 1 fail, 77 skip)
here=$(dirname "$0")
if [ ! -x /usr/bin/python3 ]; then
	echo "skip: /usr/bin/python3 is not installed"
	exit 77
fi
exec /usr/bin/python3 "$here/run_batch.py" "$@"
