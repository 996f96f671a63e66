#!/usr/bin/env python3
"""frame-check.py W H JPEG...: every file decodes (djpeg) to W x H, and holds
a picture rather than a blank or half-filled buffer: no single colour (in
steps of 16 per channel, on a sample of pixels) covers more than 40% of the
frame (vivid's colour bars: about 12% each). Prints one line per bad file
and a summary; exit 1 if any is bad."""
import collections
import subprocess
import sys


def check(path, w, h):
    r = subprocess.run(["djpeg", "-pnm", path], capture_output=True)
    if r.returncode != 0:
        return "djpeg: %s" % r.stderr.decode(errors="replace").strip()
    parts = r.stdout.split(maxsplit=4)
    if len(parts) < 5 or parts[0] != b"P6":
        return "not a colour picture (%r)" % parts[:1]
    if (int(parts[1]), int(parts[2])) != (w, h):
        return "decodes as %sx%s, expected %dx%d" % (parts[1].decode(), parts[2].decode(), w, h)
    px = parts[4][:w * h * 3]
    counts = collections.Counter()
    step = 3 * 97  # a prime stride samples every column and row alike
    for i in range(0, len(px) - 2, step):
        counts[(px[i] >> 4, px[i + 1] >> 4, px[i + 2] >> 4)] += 1
    colour, n = counts.most_common(1)[0]
    share = n / sum(counts.values())
    if share > 0.40:
        return "%.0f%% of the frame is one colour %s: blank or half-filled" % (100 * share, colour)
    return None


def main():
    w, h = int(sys.argv[1]), int(sys.argv[2])
    bad = 0
    for path in sys.argv[3:]:
        err = check(path, w, h)
        if err:
            print("FAIL %s: %s" % (path, err))
            bad += 1
    print("frames: %d checked, %d bad" % (len(sys.argv) - 3, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
