#!/usr/bin/python3
"""End to end, online mode: the real fieldcam binary against the reference
endpoint over HTTPS (tests/endpoint/refendpoint.py).

usage: run_online.py FIELDCAM_BINARY   (exit 0 pass, 1 fail, 77 skip)

Each check prints "ok ..." or "FAIL ..."; the last line counts them.
Environment: FIELDCAM_VALGRIND=1 also runs predict and a short run under
valgrind (the ordinary build only: not with sanitizers).
"""
import base64
import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ENDPOINT = os.path.join(HERE, "..", "endpoint", "refendpoint.py")

passes = 0
fails = 0


def ok(msg):
    global passes
    passes += 1
    print("ok   " + msg, flush=True)


def bad(msg):
    global fails
    fails += 1
    print("FAIL " + msg, flush=True)


def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        bad(msg + (": " + detail if detail else ""))
    return cond


@contextlib.contextmanager
def harness(stop):
    """Around a test run: a crash of the harness is a failure with its reason; stop() always runs."""
    try:
        yield
    except Exception as e:
        traceback.print_exc()
        bad("harness: %s" % e)
    finally:
        stop()


def summary(work):
    """The closing line; the work folder kept only when something failed. Returns the exit status."""
    if fails == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("logs kept in " + work)
    print("%d passed, %d failed" % (passes, fails))
    return 1 if fails else 0


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Endpoint:
    def __init__(self, work, *args):
        self.dir = os.path.join(work, "endpoint")
        os.makedirs(self.dir, exist_ok=True)
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", ENDPOINT, "--state-dir", self.dir] + list(args),
            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "endpoint.log"), "w"), text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError("reference endpoint did not start: " + line)
        self.info = json.load(open(os.path.join(self.dir, "endpoint.json")))
        self.ctx = ssl.create_default_context(cafile=self.info["ca_cert"])

    def control(self, what, body=None, method="POST"):
        data = json.dumps(body).encode() if body is not None else b""
        rq = urllib.request.Request(self.info["control"] + "/" + what, data=data, method=method,
                                    headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(rq, context=self.ctx, timeout=10) as r:
            return r.read()

    def faults(self, rules):
        self.control("faults", method="DELETE")
        if rules:
            self.control("faults", {"faults": rules})

    def requests(self, route=None):
        out = []
        try:
            with open(self.info["requests_log"]) as f:
                for line in f:
                    if line.endswith("\n"):
                        r = json.loads(line)
                        if route is None or r.get("route") == route:
                            out.append(r)
        except FileNotFoundError:
            pass
        return out

    def reset_log(self):
        open(self.info["requests_log"], "w").close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)


class Agent:
    def __init__(self, binary, work, ep):
        self.bin = binary
        self.work = work
        self.ep = ep
        self.n = 0

    def config(self, name, **over):
        e = self.ep.info
        c = {
            "device_id": "e2e-cam",
            "camera": {"device": "testpattern", "width": 320, "height": 240, "interval": "100ms"},
            "spool": {"dir": os.path.join(self.work, name, "spool"), "max_bytes": "16MiB",
                      "segment_bytes": "1MiB", "sync": "batch", "sync_interval": "100ms"},
            "upload": {"mode": "online", "timeout": "3s", "shutdown_timeout": "500ms"},
            "online": {"endpoint": e["online_endpoint"], "confidence_threshold": 0.1, "max_predictions": 3},
            "auth": {"type": "service_account", "key_file": e["key_file"]},
            "tls": {"ca_file": e["ca_cert"]},
            "retry": {"initial": "100ms", "max": "1s", "multiplier": 2.0},
            "results": {"file": os.path.join(self.work, name, "results.jsonl")},
            "api": e["api"],
            "log": {"level": "info"},
        }
        for k, v in over.items():
            sect, _, key = k.partition("__")
            if key:
                c[sect][key] = v
            else:
                c[sect] = v
        os.makedirs(os.path.join(self.work, name), exist_ok=True)
        path = os.path.join(self.work, name, "config.json")
        with open(path, "w") as f:
            json.dump(c, f)
        return path, c

    def log_path(self):
        self.n += 1
        return os.path.join(self.work, "agent-%02d.log" % self.n)

    def run(self, cfg, *args, timeout=120, valgrind=False):
        log = self.log_path()
        cmd = [self.bin] + list(args[:1]) + ["-c", cfg] + list(args[1:])
        if valgrind:
            cmd = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite"] + cmd
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True, timeout=timeout)
        return p.returncode, p.stdout, open(log).read()

    def start(self, cfg, *args):
        log = self.log_path()
        p = subprocess.Popen([self.bin, "run", "-c", cfg] + list(args), stdout=subprocess.DEVNULL,
                             stderr=open(log, "w"))
        p.logfile = log
        return p


def results(c):
    out = []
    try:
        with open(c["results"]["file"]) as f:
            for line in f:
                out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def seq_of(rid):
    return int(rid.rsplit("-", 1)[1])


def status(agent, cfg):
    rc, out, _ = agent.run(cfg, "status", "--json")
    return json.loads(out) if rc == 0 else {}


def wait_for(pred, timeout, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def jpeg_file(work, agent, name="img.jpg", size="320x240"):
    path = os.path.join(work, name)
    subprocess.run([agent.bin, "capture", "-d", "testpattern", "-s", size, "-o", path],
                   check=True, stderr=subprocess.DEVNULL)
    return path


# ---------------------------------------------------------------------------

def t_basic(agent, ep):
    """N frames in, N results out, requests valid, nothing secret logged."""
    cfg, c = agent.config("basic")
    ep.reset_log()
    rc, _, log = agent.run(cfg, "run", "--frames", "20")
    check(rc == 0, "run --frames 20 exits 0", "exit %d: %s" % (rc, log[-400:]))
    res = results(c)
    ids = [r["id"] for r in res]
    check(len(res) == 20 and len(set(ids)) == 20, "20 frames in, 20 distinct results out", "%d results" % len(res))
    check([seq_of(i) for i in ids] == list(range(1, 21)), "results in capture order, sequence 1..20")
    good = all(r["mode"] == "online" and r["labels"] and r["deployed_model_id"] and r["captured_at"]
               and all(set(l) == {"id", "name", "confidence"} for l in r["labels"]) for r in res)
    check(good, "every result line has the SPEC.md fields and labels")
    check(all(len(l["id"]) == 19 for r in res for l in r["labels"]), "19-digit label ids kept exactly")
    preds = ep.requests("predict")
    check(len(preds) == 20 and all(p["status"] == 200 and p["instances"] == 1 and p["tls"] for p in preds),
          "the endpoint saw 20 valid predict requests over TLS, one instance each",
          str([(p["status"], p.get("error")) for p in preds if p["status"] != 200][:3]))
    check(len(ep.requests("token")) == 1, "one token for the whole run")
    st = status(agent, cfg)
    check(st.get("spool", {}).get("records") == 0, "status: spool empty afterwards", json.dumps(st)[:300])
    return log


def t_faults(agent, ep):
    """Retry-After, 429 bursts, 500s, resets, a slow reply, a lost reply, token expiry."""
    cfg, c = agent.config("faults")
    ep.reset_log()
    ep.faults([
        {"route": "predict", "nth": 2, "status": 503, "retryAfter": 2},
        {"route": "predict", "nth": 5, "times": 3, "status": 429},
        {"route": "predict", "nth": 10, "times": 2, "status": 500},
        {"route": "predict", "nth": 13, "reset": True},
        {"route": "predict", "nth": 15, "delay": 4.5},
        {"route": "predict", "nth": 17, "storeThenDrop": True},
        {"route": "predict", "nth": 19, "expireToken": True},
        {"route": "predict", "nth": 21, "truncate": 20},
    ])
    rc, _, log = agent.run(cfg, "run", "--frames", "16", timeout=180)
    ep.faults([])
    check(rc == 0, "run with faults exits 0", "exit %d: %s" % (rc, log[-600:]))
    res = results(c)
    ids = [r["id"] for r in res]
    check(len(res) == 16 and len(set(ids)) == 16 and [seq_of(i) for i in ids] == list(range(1, 17)),
          "16 frames, 16 results, in order, no duplicates despite the faults", str([seq_of(i) for i in ids]))
    preds = ep.requests("predict")
    statuses = [p["status"] for p in preds]
    i503 = next((i for i, p in enumerate(preds) if p["status"] == 503), None)
    if check(i503 is not None and i503 + 1 < len(preds), "a 503 with Retry-After was served"):
        t_reply = parse_time(preds[i503]["time"]) + preds[i503]["ms"] / 1000
        gap = parse_time(preds[i503 + 1]["time"]) - t_reply
        check(gap >= 1.9, "the next attempt waited out Retry-After: 2 (%.2f s later)" % gap)
    check(statuses.count(429) == 3 and statuses.count(500) == 2, "429 burst and 500s were retried",
          str(statuses))
    check(any(p.get("reset") for p in preds), "a reset connection was retried")
    check(any(p["status"] == 401 for p in preds) and len(ep.requests("token")) >= 2,
          "expired token: 401, one new token, request repeated")
    check("timed out" in log.lower() or "timeout" in log.lower(), "a slow reply hit upload.timeout and was retried")
    check(any(p.get("faults") and p["status"] == 200 and p.get("reset") for p in preds) or
          len(preds) > 16 + 9, "a reply lost after the server stored it was asked again")
    return log


def t_outage(agent, ep):
    """The link goes away (resets, then a silent endpoint) and comes back:
    capture goes on, the backlog drains in order, nothing lost or doubled."""
    cfg, c = agent.config("outage")
    ep.reset_log()
    p = agent.start(cfg)
    time.sleep(1.0)
    ep.faults([{"route": ".*", "every": True, "reset": True}])
    time.sleep(2.0)
    st_down = status(agent, cfg)
    ep.proc.send_signal(signal.SIGSTOP)   # silent: connections time out
    time.sleep(4.0)
    ep.proc.send_signal(signal.SIGCONT)
    ep.faults([])
    st_mid = status(agent, cfg)
    backlog = st_mid.get("spool", {}).get("records", 0)
    check(backlog >= 20, "capture went on during the outage (%d records waiting)" % backlog)
    nr = (st_down.get("last_run") or {}).get("next_retry_at")
    check(bool(nr), "status shows the next retry time during the outage", json.dumps(st_down)[:400])
    drained = wait_for(lambda: status(agent, cfg).get("spool", {}).get("records", 1) == 0, 60, 0.5)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(30)
    log = open(p.logfile).read()
    check(drained, "the backlog drained after the link came back")
    check(rc == 0, "SIGTERM after the outage: exit 0", "exit %s" % rc)
    st = status(agent, cfg)
    res = results(c)
    seqs = [seq_of(r["id"]) for r in res]
    captured = (st.get("last_run") or {}).get("captured")
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "results in order without duplicates")
    left = st.get("spool", {}).get("records")
    check(seqs == list(range(1, len(seqs) + 1)) and captured == len(seqs) + left,
          "every captured frame has a result or waits in the spool (%d + %s)" % (len(seqs), left),
          "captured %s" % captured)
    return log


def t_kill9(agent, ep):
    """kill -9 during uploads, three times, then a clean run: every record
    delivered exactly once in results."""
    cfg, c = agent.config("kill9", camera={"device": "testpattern", "width": 320, "height": 240,
                                          "interval": "100ms"})
    ep.faults([{"route": "predict", "every": True, "delay": 0.05}])
    for i in range(3):
        p = agent.start(cfg)
        time.sleep(1.3 + 0.37 * i)
        p.kill()
        p.wait()
    ep.faults([])
    rc, _, log = agent.run(cfg, "run", "--frames", "5")
    res = results(c)
    ids = [r["id"] for r in res]
    check(rc == 0, "run after three kill -9 exits 0", log[-300:])
    seqs = sorted(seq_of(i) for i in ids)
    check(len(ids) > 20 and len(ids) == len(set(ids)), "no record has two result lines after kill -9 (%d results)"
          % len(ids), str(seqs))
    check(seqs == list(range(1, len(seqs) + 1)), "no record lost across the kills")
    st = status(agent, cfg)
    check(st.get("spool", {}).get("records") == 0 and st.get("spool", {}).get("corrupt", 0) == 0,
          "nothing left or corrupt in the spool", json.dumps(st.get("spool"))[:300])
    return log


def t_sigterm_inflight(agent, ep):
    """SIGTERM while a request hangs: exit 0 within the shutdown timeout,
    the image stays in the spool and is sent after a restart."""
    cfg, c = agent.config("sigterm")
    ep.reset_log()
    ep.faults([{"route": "predict", "every": True, "delay": 2.5}])
    p = agent.start(cfg)
    time.sleep(0.8)  # the first predict is on the wire, its reply 2.5 s away
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    rc = p.wait(20)
    took = time.time() - t0
    log = open(p.logfile).read()
    check(rc == 0 and took < 2.0, "SIGTERM with a request in flight: exit 0 in %.2f s" % took, "exit %s" % rc)
    check("abandoned" in log, "the abandoned upload is logged")
    ep.faults([])
    pending = status(agent, cfg).get("spool", {}).get("records", 0)
    check(pending >= 1, "the image of the abandoned upload is still in the spool (%d)" % pending)
    rc, _, log2 = agent.run(cfg, "run", "--frames", "1")
    res = results(c)
    seqs = [seq_of(r["id"]) for r in res]
    check(rc == 0 and seqs == list(range(1, pending + 2)),
          "after restart the abandoned image and the rest are delivered once each", "exit %s, %s" % (rc, seqs))
    return log + log2


def t_reject(agent, ep):
    """A 400 sets the record aside in rejected/ with the reason; the rest go on."""
    cfg, c = agent.config("reject")
    ep.faults([{"route": "predict", "nth": 2, "status": 400, "message": "Invalid image for this test."}])
    rc, _, log = agent.run(cfg, "run", "--frames", "5")
    ep.faults([])
    res = results(c)
    rej = os.path.join(c["spool"]["dir"], "rejected")
    files = sorted(os.listdir(rej)) if os.path.isdir(rej) else []
    check(rc == 0 and len(res) == 4, "400: four results, exit 0", "exit %d, %d results" % (rc, len(res)))
    check(len(files) == 2 and files[0].endswith(".jpg") and files[1].endswith(".json"),
          "the refused image and its reason are in rejected/", str(files))
    if len(files) == 2:
        reason = json.load(open(os.path.join(rej, files[1])))
        check("Invalid image for this test." in reason.get("reason", ""), "the reason names the server's message",
              json.dumps(reason))
    return log


def t_reject_run(agent, ep):
    """The same 400 for every image (a request the endpoint refuses whatever the image): three are
    set aside, the rest stay in the spool, and go out once the endpoint answers."""
    cfg, c = agent.config("rejectrun")
    ep.faults([{"route": "predict", "every": True, "status": 400, "message": "Invalid parameters for this test."}])
    p = agent.start(cfg)
    rej = os.path.join(c["spool"]["dir"], "rejected")
    wait_for(lambda: len([q for q in ep.requests("predict") if q["status"] == 400]) >= 6, 30)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(30)
    ep.faults([])
    log = open(p.logfile).read()
    files = sorted(os.listdir(rej)) if os.path.isdir(rej) else []
    st = status(agent, cfg)
    captured = (st.get("last_run") or {}).get("captured") or 0
    waiting = st.get("spool", {}).get("records", 0)
    check(rc == 0 and len([f for f in files if f.endswith(".jpg")]) == 3 and waiting == captured - 3 and
          waiting >= 2, "the same 400 again and again: 3 images set aside, the other %d kept" % waiting,
          "exit %s, %s, %d of %d waiting" % (rc, files, waiting, captured))
    check("3 images in a row refused with the same answer" in log, "the log says the request is at fault",
          log[-400:])
    rc, _, log2 = agent.run(cfg, "run", "--frames", "1")
    res = results(c)
    check(rc == 0 and len(res) == waiting + 1 and len(set(r["id"] for r in res)) == len(res),
          "once the endpoint answers: the kept images and the new one delivered once each",
          "exit %d, %d results" % (rc, len(res)))
    return log + log2


def t_tls(agent, ep, work):
    """A server certificate that does not chain to the configured CA is refused."""
    other = os.path.join(work, "other-ca")
    os.makedirs(other, exist_ok=True)
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=not the endpoint's CA", "-keyout", os.path.join(other, "k.pem"), "-out",
                        os.path.join(other, "ca.pem")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        bad("openssl could not make a second CA")
        return ""
    img = jpeg_file(work, agent)
    ep.reset_log()
    cfg, c = agent.config("tls", tls={"ca_file": os.path.join(other, "ca.pem")},
                          retry={"initial": "50ms", "max": "100ms"})
    rc, out, log = agent.run(cfg, "predict", img)
    check(rc == 4 and "certificate" in log.lower(), "wrong CA: predict refuses the server (exit 4)",
          "exit %d: %s" % (rc, log[-300:]))
    check(not ep.requests(), "nothing reached the endpoint through the refused connection")
    cfg, c = agent.config("tls2", tls={"ca_file": None}, retry={"initial": "50ms", "max": "100ms"})
    rc, out, log2 = agent.run(cfg, "predict", img)
    check(rc == 4, "system CAs only: the test CA's server is refused (exit 4)", "exit %d" % rc)
    return log + log2


def t_predict(agent, ep, work):
    """fieldcam predict: JSON lines, exit statuses, Gemini."""
    img = jpeg_file(work, agent)
    txt = os.path.join(work, "not-a-jpeg.jpg")
    with open(txt, "w") as f:
        f.write("hello\n")
    cfg, c = agent.config("predict")
    rc, out, log = agent.run(cfg, "predict", img, img)
    lines = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and len(lines) == 2 and all(l["labels"] for l in lines), "predict: two images, two result lines",
          out[:300])
    rc, out, log2 = agent.run(cfg, "predict", txt)
    check(rc == 1 and "not a JPEG" in out and "not a JPEG" in log2, "predict of a non-JPEG: exit 1, one clear line",
          "exit %d %s" % (rc, log2))
    big = os.path.join(work, "big.jpg")
    subprocess.run([agent.bin, "capture", "-d", "testpattern", "-s", "3840x2160", "-q", "100", "-o", big],
                   check=True, stderr=subprocess.DEVNULL)
    rc, out, logb = agent.run(cfg, "predict", big)
    sent = [r for r in ep.requests("predict")][-1:]
    check(os.path.getsize(big) > 1150000 and rc == 0 and "re-encoded" in logb and sent and
          sent[0]["body_bytes"] <= 1572864 and sent[0]["status"] == 200,
          "a %d-byte image is re-encoded under the online limit and classified" % os.path.getsize(big),
          "exit %d: %s" % (rc, logb[-300:]))
    cfg2, _ = agent.config("predict-down", api={"aiplatform": "https://127.0.0.1:1", "storage": None,
                                                "oauth_token_uri": ep.info["api"]["oauth_token_uri"]},
                           retry={"initial": "20ms", "max": "100ms"})
    rc, out, log3 = agent.run(cfg2, "predict", img)
    check(rc == 4 and len(re.findall("try [0-9] of 5", log3)) == 4, "endpoint unreachable: 5 attempts then exit 4",
          "exit %d: %s" % (rc, log3[-300:]))
    gcfg, _ = agent.config("gemini", online={
        "kind": "gemini", "endpoint": "projects/%s/locations/us-central1/publishers/google/models/%s" % (
            ep.info["project"], ep.info["gemini_model"]), "labels": ["red", "green", "blue"]})
    rc, out, log4 = agent.run(gcfg, "predict", img)
    lines = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and lines and all(l["name"] in ("red", "green", "blue") for l in lines[0]["labels"]),
          "gemini: labels limited to online.labels", out[:300])
    ep.faults([{"route": "generateContent", "nth": 1, "finishReason": "SAFETY"}])
    rc, out, log5 = agent.run(gcfg, "predict", img)
    ep.faults([])
    check(rc == 0 and '"blocked":"SAFETY"' in out, "gemini: a blocked answer is a result with \"blocked\"", out)
    return log + log2 + logb + log3 + log4 + log5


def t_token_file(agent, ep, work):
    """auth.type token_file: the file is read, and read again when it changes."""
    tok = endpoint_token(ep)  # a real token, the way a sidecar would get one
    tf = os.path.join(work, "token")
    with open(tf, "w") as f:
        f.write(tok + "\n")
    img = jpeg_file(work, agent)
    cfg, _ = agent.config("tokenfile", auth={"type": "token_file", "token_file": tf},
                          retry={"initial": "20ms", "max": "100ms"})
    rc, out, log = agent.run(cfg, "predict", img)
    check(rc == 0 and '"labels"' in out, "token_file: predict with the file's token", log[-300:])
    with open(tf, "w") as f:
        f.write("ya29.not-a-token-the-endpoint-gave\n")
    rc, out, log2 = agent.run(cfg, "predict", img)
    check(rc == 4 and "401" in log2, "token_file with a token the endpoint refuses: 401, exit 4", log2[-300:])
    return log + log2, tok


def t_api_key(agent, ep):
    """auth.type api_key (Vertex AI express mode): the global path with ?key= and no token. A key
    the endpoint refuses (400 API_KEY_INVALID) keeps every record, none goes to rejected/; with the
    right key the backlog is delivered, each image once."""
    gem = {"kind": "gemini", "labels": ["red", "green", "blue"],
           "endpoint": "projects/%s/locations/us-central1/publishers/google/models/%s" % (
               ep.info["project"], ep.info["gemini_model"])}
    wrong = "AIza" + "x" * 35
    cfg, c = agent.config("apikey", online=gem, auth={"type": "api_key", "api_key": wrong})
    ep.reset_log()
    p = agent.start(cfg)
    refused = wait_for(lambda: len([r for r in ep.requests("generateContent") if r["status"] == 400]) >= 2, 20)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(30)
    log = open(p.logfile).read()
    st = status(agent, cfg)
    captured = (st.get("last_run") or {}).get("captured") or 0
    waiting = st.get("spool", {}).get("records", 0)
    rej = os.path.join(c["spool"]["dir"], "rejected")
    check(refused and rc == 0, "a wrong API key: the endpoint answers 400, SIGTERM exits 0", "exit %s" % rc)
    check(captured >= 2 and waiting == captured and not results(c) and
          not (os.path.isdir(rej) and os.listdir(rej)),
          "a wrong API key keeps every record in the spool (%d of %d), none rejected" % (waiting, captured),
          json.dumps(st)[:300])
    line = [l for l in log.splitlines() if "API key not valid" in l]
    check(bool(line), "the log names the refused key in one line", log[-400:])
    cfg, c = agent.config("apikey", online=gem, auth={"type": "api_key", "api_key": ep.info["api_key"]})
    ep.reset_log()
    rc, _, log2 = agent.run(cfg, "run", "--frames", "3")
    res = results(c)
    seqs = sorted(seq_of(r["id"]) for r in res)
    check(rc == 0 and len(res) == captured + 3 and len(set(r["id"] for r in res)) == len(res) and
          all(l["name"] in gem["labels"] for r in res for l in r["labels"]),
          "the right key: the %d waiting images and 3 new ones delivered once each" % captured,
          "exit %d, %d results: %s" % (rc, len(res), log2[-300:]))
    gen = ep.requests("generateContent")
    check(gen and all(r["path"].startswith("/v1/publishers/google/models/") and r.get("auth") == "api_key" and
                      "Authorization" not in r["headers"] and r["status"] == 200 for r in gen) and
          not ep.requests("token"),
          "express mode: the global path, ?key=, no Authorization header, no token asked for",
          str([(r["path"], r.get("auth"), r["status"]) for r in gen][:2]))
    return log + log2


def t_rotate(agent, ep):
    """logrotate's way: results.file moved, then SIGHUP; the daemon writes on into a new file,
    every image has one line in one of the two, none lost or doubled."""
    cfg, c = agent.config("rotate")
    rf = c["results"]["file"]
    p = agent.start(cfg)
    wait_for(lambda: len(results(c)) >= 5, 30)
    os.rename(rf, rf + ".1")
    p.send_signal(signal.SIGHUP)
    grew = wait_for(lambda: len(results(c)) >= 5, 30)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(30)
    log = open(p.logfile).read()
    old = [json.loads(l) for l in open(rf + ".1")]
    new = results(c)
    seqs = sorted(seq_of(r["id"]) for r in old + new)
    st = status(agent, cfg)
    captured = (st.get("last_run") or {}).get("captured") or 0
    left = st.get("spool", {}).get("records", 0)
    check(rc == 0 and grew and "opened again" in log, "SIGHUP after the move: results go on in a new file",
          "exit %s, %d new lines: %s" % (rc, len(new), log[-300:]))
    check(seqs == list(range(1, len(seqs) + 1)) and len(seqs) + left == captured and
          max(seq_of(r["id"]) for r in old) < min(seq_of(r["id"]) for r in new),
          "every image once across the moved and the new file (%d + %d + %d waiting = %d captured)" % (
              len(old), len(new), left, captured))
    return log


def t_inflight(agent, ep):
    """upload.max_inflight 4 on a slow link: requests overlap, every image has one result,
    a refused one is set aside, and kill -9 with four out loses and doubles nothing."""
    cfg, c = agent.config("inflight", upload={"mode": "online", "timeout": "5s", "shutdown_timeout": "500ms",
                                              "max_inflight": 4})
    ep.reset_log()
    ep.faults([{"route": "predict", "every": True, "delay": 0.4},
               {"route": "predict", "nth": 5, "status": 400, "message": "bad image for the inflight test"}])
    rc, _, log = agent.run(cfg, "run", "--frames", "16")
    preds = [p for p in ep.requests("predict") if p["status"] is not None]
    spans = sorted((parse_time(p["time"]), parse_time(p["time"]) + p["ms"] / 1000) for p in preds)
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans) if spans else 0
    res = results(c)
    seqs = sorted(seq_of(r["id"]) for r in res)
    rej = os.listdir(os.path.join(c["spool"]["dir"], "rejected")) if os.path.isdir(
        os.path.join(c["spool"]["dir"], "rejected")) else []
    check(rc == 0 and most >= 3, "max_inflight 4: up to %d requests on the wire at once" % most, log[-300:])
    check(len(res) == 15 and len(set(seqs)) == 15 and len(rej) == 2,
          "16 frames: 15 results once each, one set aside in rejected/", "%s %s" % (seqs, rej))
    cfg, c = agent.config("inflight-kill", upload={"mode": "online", "timeout": "5s", "max_inflight": 4})
    for i in range(3):
        p = agent.start(cfg)
        time.sleep(1.5 + 0.3 * i)
        p.kill()
        p.wait()
    ep.faults([])
    rc, _, log = agent.run(cfg, "run", "--frames", "2")
    res = results(c)
    seqs = sorted(seq_of(r["id"]) for r in res)
    check(rc == 0 and len(seqs) > 10 and seqs == list(range(1, len(seqs) + 1)),
          "max_inflight 4 and kill -9 three times: %d results, none lost or doubled" % len(seqs), str(seqs))


def t_slow_down(agent, ep):
    """upload.max_inflight 4 draining a backlog: a 429 halves the requests at once, answers give
    them back, and every image still has one result."""
    cfg, c = agent.config("slowdown", upload={"mode": "none"})
    rc0, _, _ = agent.run(cfg, "run", "--frames", "40")
    cfg, c = agent.config("slowdown", upload={"mode": "online", "timeout": "5s", "shutdown_timeout": "500ms",
                                              "max_inflight": 4})
    ep.reset_log()
    ep.faults([{"route": "predict", "every": True, "delay": 0.3},
               {"route": "predict", "nth": 8, "status": 429}])
    rc, _, log = agent.run(cfg, "run", "--frames", "1")
    ep.faults([])
    preds = [p for p in ep.requests("predict") if p["status"] is not None]
    spans = [(parse_time(p["time"]), parse_time(p["time"]) + p["ms"] / 1000, p["status"]) for p in preds]

    def at_once(t, since=0.0):
        return sum(1 for a, b, _ in spans if since <= a <= t < b)
    cut = [b for a, b, st in spans if st == 429]
    t429 = cut[0] if cut else 0
    before = [at_once(a) for a, b, st in spans if a < t429]
    # requests sent from 0.1 s after the 429 on (those already out, or on their way as it
    # came, finish as they are): 8 answers at 2 at once, then 3 for 8 more: the first
    # second stays at 2
    after = [at_once(a, t429 + 0.1) for a, b, st in spans if t429 + 0.1 <= a < t429 + 1.1]
    check(rc0 == 0 and rc == 0 and len(cut) == 1 and before and max(before) >= 3 and after and max(after) <= 2,
          "a 429 halves the requests at once: up to %d before it, %d in the second after it" %
          (max(before or [0]), max(after or [0])),
          "%d 429s, before %s, after %s: %s" % (len(cut), before, after, log[-300:]))
    check("2 of 4 requests at once from now on" in log and "4 requests at once again" in log,
          "the log says so, and says when all 4 go again", log[-600:])
    res = results(c)
    seqs = sorted(seq_of(r["id"]) for r in res)
    check(seqs == list(range(1, 42)), "41 frames, 41 results, each once", str(seqs))


def t_idle(agent, ep):
    """No busy waiting: an idle daemon (one frame a minute, nothing to send) uses almost no CPU."""
    cfg, c = agent.config("idle", camera={"device": "testpattern", "width": 320, "height": 240, "interval": "60s"})
    p = agent.start(cfg)
    time.sleep(2.0)  # start-up, the first frame and its upload

    def cpu():
        f = open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    c0 = cpu()
    time.sleep(5.0)
    used = cpu() - c0
    p.send_signal(signal.SIGTERM)
    p.wait(30)
    check(used <= 0.05, "idle daemon: %.3f s of CPU in 5 s (no busy waiting)" % used)


def endpoint_token(ep):
    """An access token from the endpoint's JWT grant, signed here with python's cryptography."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    key = json.load(open(ep.info["key_file"]))
    pk = serialization.load_pem_private_key(key["private_key"].encode(), None)

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")
    now = int(time.time())
    h = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": key["private_key_id"]}).encode())
    cl = b64(json.dumps({"iss": key["client_email"], "scope": "https://www.googleapis.com/auth/cloud-platform",
                         "aud": key["token_uri"], "iat": now, "exp": now + 600}).encode())
    sig = b64(pk.sign(h + b"." + cl, padding.PKCS1v15(), hashes.SHA256()))
    form = ("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" +
            (h + b"." + cl + b"." + sig).decode()).encode()
    rq = urllib.request.Request(key["token_uri"], data=form,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    return json.load(urllib.request.urlopen(rq, context=ep.ctx))["access_token"]


def t_valgrind(agent, ep, work):
    if not shutil.which("valgrind"):
        print("skip valgrind: not installed")
        return ""
    img = jpeg_file(work, agent)
    cfg, c = agent.config("valgrind", upload={"mode": "online", "timeout": "20s", "shutdown_timeout": "5s"})
    rc, out, log = agent.run(cfg, "predict", img, valgrind=True, timeout=300)
    check(rc == 0, "valgrind: predict is clean", log[-800:])
    rc, out, log2 = agent.run(cfg, "run", "--frames", "3", valgrind=True, timeout=300)
    check(rc == 0 and len(results(c)) == 3, "valgrind: run --frames 3 is clean", log2[-800:])
    return log + log2


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    try:
        import cryptography  # noqa: F401  the endpoint needs it
    except ImportError:
        print("skip: python3-cryptography is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="fc-online-")
    ep = Endpoint(work)
    agent = Agent(binary, work, ep)
    logs = []
    with harness(ep.stop):
        logs.append(t_basic(agent, ep))
        logs.append(t_predict(agent, ep, work))
        logs.append(t_reject(agent, ep))
        logs.append(t_reject_run(agent, ep))
        logs.append(t_faults(agent, ep))
        logs.append(t_sigterm_inflight(agent, ep))
        logs.append(t_kill9(agent, ep))
        logs.append(t_tls(agent, ep, work))
        lg, tok = t_token_file(agent, ep, work)
        logs.append(lg)
        logs.append(t_outage(agent, ep))
        logs.append(t_api_key(agent, ep))
        logs.append(t_rotate(agent, ep))
        t_idle(agent, ep)
        t_inflight(agent, ep)
        t_slow_down(agent, ep)
        if os.environ.get("FIELDCAM_VALGRIND") == "1":
            logs.append(t_valgrind(agent, ep, work))
        # no secret in any log line
        key = json.load(open(ep.info["key_file"]))
        pem_body = key["private_key"].splitlines()[1]
        alllogs = "\n".join(logs)
        leaked = [s for s in ("ya29.", "Bearer ", "assertion=", pem_body, tok, ep.info["api_key"], "x" * 35)
                  if s in alllogs]
        check(not leaked, "no token, key or assertion in any log line", str(leaked))
    return summary(work)


if __name__ == "__main__":
    sys.exit(main())
