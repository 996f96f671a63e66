#!/usr/bin/env python3
"""spool-jpegs.py SPOOL_DIR OUT_DIR: write the JPEG payload of every record
in the spool's segment files (seg-*.fcs, format in storage/README.md) to
OUT_DIR/<seq>.jpg and print how many. Records are 40-byte headers (magic
FCR1, version, flags, metadata length, payload length, sequence, capture
time, CRCs; little-endian) followed by metadata and payload; a segment ends
at its first position without the magic (the preallocated tail)."""
import glob
import os
import struct
import sys


def main():
    spool, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    n = 0
    for seg in sorted(glob.glob(os.path.join(spool, "seg-*.fcs"))):
        data = open(seg, "rb").read()
        off = 0
        while off + 40 <= len(data) and data[off:off + 4] == b"FCR1":
            meta_len, length, seq = struct.unpack_from("<IIQ", data, off + 8)
            body = off + 40
            payload = data[body + meta_len:body + meta_len + length]
            if len(payload) != length:
                print("%s: record %d truncated" % (seg, seq), file=sys.stderr)
                return 1
            with open(os.path.join(out, "%d.jpg" % seq), "wb") as f:
                f.write(payload)
            n += 1
            off = body + meta_len + length
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
