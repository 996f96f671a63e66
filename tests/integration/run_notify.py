#!/usr/bin/python3
"""run_notify.py FIELDCAM: `fieldcam run` under systemd's notify protocol.

A real AF_UNIX datagram socket stands where systemd's would be
($NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID, as systemd sets them for
Type=notify and WatchdogSec=). Checks READY=1, STATUS=, STOPPING=1, the
watchdog pings while all is well, their stop while the capture thread is
blocked (a camera whose open never returns: a FIFO nobody writes), their
return when it moves again, and a SIGTERM that does not hang on it.
Prints "N passed, N failed"; exit 1 on any failure.
"""
import json, os, signal, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_online import check, harness, summary  # noqa: E402  the same checks and closing line


class Notify:
    """The listening end of $NOTIFY_SOCKET: every datagram with its arrival time."""

    def __init__(self, addr):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + addr[1:] if addr.startswith("@") else addr)
        self.addr = addr
        self.got = []
        self.t0 = time.monotonic()

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return
            self.got.append((time.monotonic() - self.t0, data.decode()))

    def times(self, state, since=0.0):
        return [t for t, d in self.got if state in d.split("\n") and t >= since]

    def close(self):
        self.sock.close()


def config(work, name, device):
    c = {"device_id": "notify-cam",
         "camera": {"device": device, "width": 160, "height": 120, "interval": "100ms"},
         "spool": {"dir": os.path.join(work, name, "spool"), "max_bytes": "4MiB", "segment_bytes": "256KiB"},
         "upload": {"mode": "none", "shutdown_timeout": "500ms"},
         "log": {"level": "info"}}
    os.makedirs(os.path.join(work, name), exist_ok=True)
    path = os.path.join(work, name, "config.json")
    with open(path, "w") as f:
        json.dump(c, f)
    return path


def start(binary, cfg, work, name, env):
    log = os.path.join(work, name + ".log")
    e = dict(os.environ)
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        e.pop(k, None)
    e.update(env)
    p = subprocess.Popen([binary, "run", "-c", cfg], stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=e)
    p.logfile = log
    return p


def stop(p, timeout=20):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


def t_healthy(binary, work):
    """READY, STATUS and a ping every half interval while capture runs; STOPPING on SIGTERM."""
    n = Notify(os.path.join(work, "notify.sock"))
    p = start(binary, config(work, "healthy", "testpattern"), work, "healthy",
              {"NOTIFY_SOCKET": n.addr, "WATCHDOG_USEC": "1000000"})
    n.pump(4.0)
    rc = stop(p)
    n.pump(0.5)
    n.close()
    ready, pings = n.times("READY=1"), n.times("WATCHDOG=1")
    check(len(ready) == 1 and (not pings or ready[0] <= pings[0]), "READY=1 once, before the first ping",
          str(n.got[:3]))
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    check(len(pings) >= 5 and max(gaps) < 0.9, "WATCHDOG=1 every half of WATCHDOG_USEC (1 s): %d pings in 4 s, "
          "largest gap %.2f s" % (len(pings), max(gaps) if gaps else -1))
    status = [d for _, d in n.got if d.startswith("STATUS=")]
    check(any(" captured" in s and not s.startswith("STATUS=0 captured") for s in status),
          "STATUS= tells what was captured", str(status[-2:]))
    check(rc == 0 and n.times("STOPPING=1"), "SIGTERM: STOPPING=1, exit 0", "exit %s" % rc)
    log = open(p.logfile).read()
    check("systemd watchdog" in log, "the log says the watchdog is on", log[-300:])


def t_not_ours(binary, work):
    """WATCHDOG_PID naming another process: no pings (the watchdog is not ours); an abstract socket."""
    n = Notify("@fieldcam-notify-%d" % os.getpid())
    p = start(binary, config(work, "notours", "testpattern"), work, "notours",
              {"NOTIFY_SOCKET": n.addr, "WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"})
    n.pump(2.0)
    rc = stop(p)
    n.close()
    check(n.times("READY=1") and not n.times("WATCHDOG=1") and rc == 0,
          "abstract socket: READY=1; WATCHDOG_PID of another process: no pings", str(n.got[:4]))


def t_no_systemd(binary, work):
    """Outside systemd nothing changes: no socket, no error."""
    p = start(binary, config(work, "plain", "testpattern"), work, "plain", {})
    time.sleep(1.0)
    rc = stop(p)
    log = open(p.logfile).read()
    check(rc == 0 and "systemd" not in log.lower() and "watchdog" not in log.lower(),
          "without NOTIFY_SOCKET: exit 0, nothing said of systemd", log[-300:])


def t_stuck(binary, work):
    """A capture thread blocked in open(): the pings stop, the log says why, they come back when it
    moves, and SIGTERM does not wait for it forever."""
    d = os.path.join(work, "frames")
    os.makedirs(d)
    fifo = os.path.join(d, "a.jpg")
    os.mkfifo(fifo)
    jpeg = os.path.join(work, "one.jpg")
    subprocess.run([binary, "capture", "-d", "testpattern", "-s", "160x120", "-o", jpeg], check=True,
                   stderr=subprocess.DEVNULL)
    n = Notify(os.path.join(work, "stuck.sock"))
    cfg = config(work, "stuck", "files:" + d)
    p = start(binary, cfg, work, "stuck", {"NOTIFY_SOCKET": n.addr, "WATCHDOG_USEC": "1000000"})
    # due: 2 s grab timeout + 2 intervals + 1 s grace after the first grab began
    n.pump(6.0)
    pings = n.times("WATCHDOG=1")
    check(n.times("READY=1") and pings and max(pings) < 4.0 and not n.times("WATCHDOG=1", since=4.5),
          "capture blocked: the pings stop (last at %.1f s)" % (max(pings) if pings else -1), str(pings))
    log = open(p.logfile).read()
    check("capture: no progress" in log and "watchdog is no longer told" in log,
          "the log says capture is blocked and the watchdog is no longer told", log[-400:])
    # the camera answers once: one frame, capture moves, pings come back
    t_write = time.monotonic() - n.t0
    with open(fifo, "wb") as f:
        f.write(open(jpeg, "rb").read())
    n.pump(1.5)
    check(n.times("WATCHDOG=1", since=t_write), "capture moving again: the pings come back")
    check("capture: moving again" in open(p.logfile).read(), "the log says capture moves again")
    # it blocks again on the next open of the FIFO; SIGTERM must not hang on it
    n.pump(4.0)
    t = time.monotonic()
    rc = stop(p, timeout=30)
    took = time.monotonic() - t
    n.close()
    log = open(p.logfile).read()
    check(rc == 0 and took < 10 and "exiting without it" in log,
          "SIGTERM with capture blocked: exits in %.1f s without it" % took, "exit %s: %s" % (rc, log[-300:]))
    r = subprocess.run([binary, "status", "-c", cfg, "--json"], stdout=subprocess.PIPE, text=True)
    st = json.loads(r.stdout) if r.returncode == 0 else {}
    check(st.get("spool", {}).get("records") == 1 and st.get("spool", {}).get("corrupt") == 0,
          "the frame captured in between is in the spool, nothing corrupt", r.stdout[:300])


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="fc-notify-")
    with harness(lambda: None):
        t_healthy(binary, work)
        t_not_ours(binary, work)
        t_no_systemd(binary, work)
        t_stuck(binary, work)
    return summary(work)

if __name__ == "__main__":
    sys.exit(main())
