#!/usr/bin/python3
"""Bytes of batch state written per image (an SD card's wear), measured.

usage: bench_state.py [-n IMAGES] FIELDCAM [FIELDCAM ...]

A spool of IMAGES small test-pattern frames is filled once (upload.mode
none); each binary given then drains a copy of it in batch mode against the
reference endpoint (one batch of all of them, job, results) under strace,
and the bytes written to, and the syncs of, files in spool.dir/batches are
summed. Give two binaries (an older build and this one) to compare them.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration"))
import run_online as ro  # noqa: E402  (endpoint and config harness)


def main():
    args = sys.argv[1:]
    n = 400
    if len(args) >= 2 and args[0] == "-n":
        n, args = int(args[1]), args[2:]
    if not args:
        print(__doc__)
        return 2
    bins = [os.path.abspath(b) for b in args]
    work = tempfile.mkdtemp(prefix="fc-bench-state-")
    ep = ro.Endpoint(work, "--job-duration", "1")
    try:
        agent = ro.Agent(bins[-1], work, ep)
        e = ep.info
        cam = {"device": "testpattern", "width": 64, "height": 48, "interval": "100ms"}

        def spool(d):
            return {"dir": d, "max_bytes": "64MiB", "segment_bytes": "4MiB", "sync": "batch", "sync_interval": "1s"}
        fill = os.path.join(work, "fill", "spool")
        cfg, _ = agent.config("fill", upload={"mode": "none"}, camera=cam, spool=spool(fill))
        subprocess.run([bins[-1], "run", "-c", cfg, "--frames", str(n)], check=True, stderr=subprocess.DEVNULL)
        print("batch state written while %d images go out in one batch (strace, files in spool.dir/batches):" % (n + 1))
        for i, b in enumerate(bins):
            name = "b%d" % i
            d = os.path.join(work, name, "spool")
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copytree(fill, d)
            batch = {"bucket": e["bucket"], "prefix": "bench-" + name, "model": e["batch_model"],
                     "max_items": n + 10, "max_age": "1h", "format": "automl", "poll": "200ms"}
            cfg, c = agent.config(name, device_id="cam-" + name, camera=cam, spool=spool(d), batch=batch,
                                  upload={"mode": "batch", "timeout": "5s", "shutdown_timeout": "1s"})
            tr = os.path.join(work, name + ".strace")
            subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=write,pwrite64,fsync,fdatasync", "-o", tr,
                            b, "run", "-c", cfg, "--frames", "1"], check=True, timeout=900,
                           stderr=open(os.path.join(work, name + ".log"), "w"))
            wbytes = syncs = 0
            for line in open(tr):
                if "/batches/" not in line:
                    continue
                m = re.search(r"= (\d+)$", line.strip())
                if m and ("write(" in line or "pwrite64(" in line):
                    wbytes += int(m.group(1))
                elif "sync(" in line:
                    syncs += 1
            res = len(open(c["results"]["file"]).read().splitlines())
            print("  %-40s %d results, %d bytes (%.1f per image), %d syncs" % (b[-40:], res, wbytes, wbytes / (n + 1), syncs))
    finally:
        ep.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
