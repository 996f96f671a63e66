#!/usr/bin/python3
"""End to end, batch mode: the real fieldcam binary against the reference
endpoint over HTTPS: images to Cloud Storage, JSONL, batch jobs, results.

usage: run_batch.py FIELDCAM_BINARY   (exit 0 pass, 1 fail, 77 skip)

Kill -9 at every step of a batch's life (FIELDCAM_CRASH_AT crash points),
then a restart: no second job for a batch, no lost or doubled result.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_online as ro  # noqa: E402  (shared harness: endpoint, agent, checks)

check, ok, bad = ro.check, ro.ok, ro.bad

STEPS = ["batch-image-uploaded", "batch-image-named", "batch-sealed", "batch-input-sent",
         "batch-create-attempted", "batch-created", "batch-submitted", "batch-job-ended",
         "batch-collecting", "batch-results-synced"]


def bconfig(agent, name, fmt="automl", **over):
    e = agent.ep.info
    model = {"automl": e["batch_model"], "gemini": e["gemini_batch_model"],
             "openai": "publishers/meta/models/llama-4-maverick"}[fmt]
    batch = {"bucket": e["bucket"], "prefix": "e2e/" + name, "model": model, "max_items": 4,
             "max_age": "1h", "format": fmt, "poll": "200ms"}
    if fmt != "automl":
        batch["parent"] = "projects/%s/locations/%s" % (e["project"], e["location"])
    batch.update(over.pop("batch", {}))
    return agent.config(name, upload={"mode": "batch", "timeout": "5s", "shutdown_timeout": "1s"},
                        batch=batch, **over)


def run_env(agent, cfg, args, env, timeout=120):
    log = agent.log_path()
    p = subprocess.run([agent.bin, "run", "-c", cfg] + args, stdout=subprocess.DEVNULL,
                       stderr=open(log, "w"), env=dict(os.environ, **env), timeout=timeout)
    return p.returncode, open(log).read()


def batch_cmd(agent, cfg, sub, *args):
    p = subprocess.run([agent.bin, "batch", sub, "-c", cfg] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def batches(agent, cfg):
    rc, out, _ = batch_cmd(agent, cfg, "list", "--json")
    return json.loads(out) if rc == 0 else []


def captured(agent, cfg):
    return ro.status(agent, cfg).get("spool", {}).get("next_seq", 1) - 1


def token(ep):
    return ro.endpoint_token(ep)


def check_results(c, n, what):
    res = ro.results(c)
    ids = [r["id"] for r in res]
    seqs = sorted(ro.seq_of(i) for i in ids)
    good = len(ids) == n and len(set(ids)) == n and seqs == list(range(1, n + 1))
    check(good, "%s: %d frames, %d results, each once" % (what, n, len(ids)), str(seqs))
    return res


def t_formats(agent, ep):
    """All three line formats end to end; every JSONL line the endpoint read was valid."""
    for fmt in ("automl", "gemini", "openai"):
        cfg, c = bconfig(agent, "fmt-" + fmt, fmt)
        ep.reset_log()
        rc, _, log = agent.run(cfg, "run", "--frames", "6", timeout=120)
        check(rc == 0, "%s: run --frames 6 in batch mode exits 0" % fmt, log[-400:])
        res = check_results(c, 6, fmt)
        check(all(r["mode"] == "batch" and r["image_uri"].startswith("gs://") and "error" not in r for r in res),
              "%s: results carry mode batch and the image's gs:// URI, no errors" % fmt)
        if fmt != "openai":
            check(all(r["labels"] for r in res), "%s: every result has labels" % fmt)
        creates = ep.requests("batch_create")
        check(len(creates) == 2 and all(q["status"] == 200 for q in creates),
              "%s: two batches (4 + 2), two jobs" % fmt, str([q["status"] for q in creates]))
        ups = [q for q in ep.requests("upload") if q["status"] != 200]
        check(not ups, "%s: every upload accepted" % fmt, str(ups[:2]))
        bl = batches(agent, cfg)
        check(len(bl) == 2 and all(b["state"] == "done" and b["errors"] == 0 for b in bl),
              "%s: batch list shows two done batches" % fmt, json.dumps(bl)[:300])
        # the input files as stored: one valid JSON line per image, of the format's shape
        store = os.path.join(ep.info["storage_dir"], ep.info["bucket"])
        lines = []
        for f in os.listdir(store):
            if f.endswith(".data") and "%2Fbatches%2F" in f and ("fmt-" + fmt + "%2F") in f:
                lines += open(os.path.join(store, f)).read().splitlines()
        objs = [json.loads(x) for x in lines]
        key = {"automl": "content", "gemini": "request", "openai": "custom_id"}[fmt]
        check(len(objs) == 6 and all(key in o for o in objs), "%s: 6 input lines with \"%s\"" % (fmt, key))


def t_crash_steps(agent, ep):
    """kill -9 at every step, then a restart: resume, never resubmit."""
    for step in STEPS:
        name = "crash-" + step
        cfg, c = bconfig(agent, name, batch={"max_items": 3})
        ep.reset_log()
        rc, log = run_env(agent, cfg, ["--frames", "3"], {"FIELDCAM_CRASH_AT": step})
        killed = rc == -9
        rc2, _, log2 = agent.run(cfg, "run", "--frames", "1", timeout=120)
        res = ro.results(c)
        ids = [r["id"] for r in res]
        seqs = sorted(ro.seq_of(i) for i in ids)
        n = captured(agent, cfg)
        good = killed and rc2 == 0 and n >= 2 and len(ids) == len(set(ids)) == n and seqs == list(range(1, n + 1))
        check(good, "kill -9 at %s, restart: %d frames, each with one result" % (step, n),
              "killed %s, exit %s, seqs %s: %s" % (killed, rc2, seqs, log2[-300:]))
        jobs = len([q for q in ep.requests("batch_create") if q["status"] == 200])
        nb = len(batches(agent, cfg))
        check(jobs == nb, "kill -9 at %s: exactly one job per batch (%d jobs, %d batches)" % (step, jobs, nb))
        if step == "batch-image-uploaded":
            dup = [q for q in ep.requests("upload") if q["status"] == 412]
            check(len(dup) == 1, "re-upload after the kill answered 412 and counted as done", str(len(dup)))


def t_rotated_cut(agent, ep):
    """kill -9 while a batch's lines are written, then results.file is moved away (logrotate) and
    another file takes its name: the restart writes the batch's lines again without cutting back
    the file that is not the one it started in."""
    cfg, c = bconfig(agent, "rotated-cut", batch={"max_items": 3})
    rc, log = run_env(agent, cfg, ["--frames", "3"], {"FIELDCAM_CRASH_AT": "batch-collecting"})
    rf = c["results"]["file"]
    os.rename(rf, rf + ".1")
    keep = '{"id":"a line of another file"}\n'
    with open(rf, "w") as f:
        f.write(keep)
    rc2, _, log2 = agent.run(cfg, "run", "--frames", "1", timeout=120)
    text = open(rf).read()
    res = [json.loads(l) for l in text.splitlines()[1:]]
    seqs = sorted(ro.seq_of(r["id"]) for r in res)
    n = captured(agent, cfg)
    check(rc == -9 and rc2 == 0 and text.startswith(keep),
          "after kill -9 and a rotation: the file now at results.file is not cut back",
          "killed %s, exit %s: %r" % (rc, rc2, text[:120]))
    check(seqs == list(range(1, n + 1)), "every frame's line is written again into it (%d)" % n, str(seqs))


def t_item_log(agent, ep):
    """A batch names its images in a log, a line each, never in its state file, so
    no save rewrites the list; a torn last line (kill -9 mid-append) is cut on
    restart; a state file of the older kind (items inside) still reads."""
    cfg, c = bconfig(agent, "itemlog", batch={"max_items": 100})
    rc, log = run_env(agent, cfg, ["--frames", "8"], {"FIELDCAM_CRASH_AT": "batch-image-named:6"})
    bdir = os.path.join(c["spool"]["dir"], "batches")
    names = sorted(os.listdir(bdir)) if os.path.isdir(bdir) else []
    states = [f for f in names if f.endswith(".json")]
    logs = [f for f in names if f.endswith(".log")]
    spath = os.path.join(bdir, states[0]) if len(states) == 1 else None
    lpath = os.path.join(bdir, logs[0]) if len(logs) == 1 else None
    st = json.load(open(spath)) if spath else {}
    lines = open(lpath).read().splitlines() if lpath else []
    check(rc == -9 and st.get("state") == "open" and "items" not in st and len(lines) == 6 and
          all(json.loads(x)["id"] for x in lines),
          "6 images named: a line each in the batch's log, none in its state file",
          "exit %s, files %s, state %s, log %s" % (rc, names, json.dumps(st)[:200], lines[:2]))
    bl = batches(agent, cfg)
    check(len(bl) == 1 and bl[0]["items"] == 6, "batch list counts the logged items (6)", json.dumps(bl)[:200])
    if spath and len(lines) == 6:
        # the older kind of state file: the first three items inside it
        st["items"] = [json.loads(x) for x in lines[:3]]
        with open(spath, "w") as f:
            json.dump(st, f)
        with open(lpath, "w") as f:
            f.write("\n".join(lines[3:]) + "\n" + '{"id":"e2e-cam-torn')  # what a kill mid-append leaves
    rc2, _, log2 = agent.run(cfg, "run", "--frames", "1", timeout=120)
    n = captured(agent, cfg)
    check(rc2 == 0 and "cutting a torn last line" in log2, "restart: the torn line is cut, with a line saying so",
          "exit %s: %s" % (rc2, log2[-300:]))
    check_results(c, n, "items in an older state file and the log, a torn line, restart")
    bl = batches(agent, cfg)
    check(len(bl) == 1 and bl[0]["state"] == "done" and bl[0]["items"] == n,
          "batch list: the batch done with its %d items" % n, json.dumps(bl)[:300])


def t_cancel_and_fail(agent, ep):
    """A job cancelled from outside is sent again; a job that fails on its input rejects its items."""
    cfg, c = bconfig(agent, "cancel", batch={"max_items": 3})
    rc, log = run_env(agent, cfg, ["--frames", "3"], {"FIELDCAM_CRASH_AT": "batch-submitted"})
    bl = batches(agent, cfg)
    job = next((b.get("job") for b in bl if b.get("job")), None)
    if not check(rc == -9 and job, "a job was created before the kill", log[-300:]):
        return
    rq = urllib.request.Request(ep.info["api"]["aiplatform"] + "/v1/" + job + ":cancel", data=b"{}",
                                method="POST", headers={"Content-Type": "application/json",
                                                        "Authorization": "Bearer " + token(ep)})
    urllib.request.urlopen(rq, context=ep.ctx).read()
    rc, _, log = agent.run(cfg, "run", "--frames", "1", timeout=120)
    check_results(c, captured(agent, cfg), "cancelled job, restart")
    bl = batches(agent, cfg)
    cancelled = [b for b in bl if b.get("job_state") == "JOB_STATE_CANCELLED"]
    check(len(cancelled) == 1 and cancelled[0]["resubmitted"] == 3,
          "the cancelled batch's 3 images went out again in a new batch", json.dumps(bl)[:400])

    cfg, c = bconfig(agent, "fail", batch={"max_items": 3})
    rc, log = run_env(agent, cfg, ["--frames", "3"], {"FIELDCAM_CRASH_AT": "batch-submitted"})
    store = os.path.join(ep.info["storage_dir"], ep.info["bucket"])
    gone = 0
    for f in os.listdir(store):
        if "e2e%2Ffail%2Fimages%2F" in f:
            os.remove(os.path.join(store, f))
            gone += 1
    rc, _, log = agent.run(cfg, "run", "--frames", "1", timeout=120)
    res = ro.results(c)
    errs = [r for r in res if r.get("error")]
    n = captured(agent, cfg)
    check(gone >= 3 and len(res) == n and len(errs) == 3 and all(r["labels"] == [] for r in errs),
          "a job that FAILED on its input: its 3 items get error results, the rest are classified",
          json.dumps(res)[:500])
    bl = batches(agent, cfg)
    check(any(b.get("job_state") == "JOB_STATE_FAILED" for b in bl), "batch list shows the FAILED job",
          json.dumps(bl)[:300])


def t_resumable(agent, ep):
    """A large JSONL input goes up resumable; cut in the middle and the process killed right
    after it saved the session, the restart resumes the same session from the server's offset."""
    cfg, c = bconfig(agent, "resumable", "gemini", batch={"max_items": 64, "resumable_above": "256KiB",
                                                         "prompt": "Classify this image, please. " * 200})
    ep.reset_log()
    ep.faults([{"route": "upload_put", "nth": 2, "times": 3, "reset": True}])
    rc, log = run_env(agent, cfg, ["--frames", "64"], {"FIELDCAM_CRASH_AT": "batch-session-saved"})
    ep.faults([])
    rc2, _, log2 = agent.run(cfg, "run", "--frames", "1", timeout=120)
    starts = [q for q in ep.requests("upload") if q.get("query", {}).get("uploadType") == ["resumable"]]
    puts = ep.requests("upload_put")
    queries = [q for q in puts if q["headers"].get("Content-Range", "").startswith("bytes */")]
    check(rc == -9 and len(starts) == 1 and len(puts) >= 3 and queries,
          "a cut resumable upload (%d PUTs) resumed in its one session after kill -9, asking the offset first"
          % len(puts), "exit %s, %d sessions, %d puts, %d queries" % (rc, len(starts), len(puts), len(queries)))
    n = captured(agent, cfg)
    check_results(c, n, "resumable input")


def t_outage(agent, ep):
    """The endpoint drops every request while a job runs; when it is back, the batch completes."""
    cfg, c = bconfig(agent, "outage", batch={"max_items": 3})
    p = agent.start(cfg, "--frames", "3")
    ok_wait = ro.wait_for(lambda: any(b.get("state") == "submitted" for b in batches(agent, cfg)), 30, 0.2)
    ep.faults([{"route": ".*", "every": True, "reset": True}])
    time.sleep(3)
    st = ro.status(agent, cfg)
    ep.faults([])
    rc = p.wait(120)
    check(ok_wait and rc == 0, "outage while the job runs: run finishes after the link is back",
          "exit %s" % rc)
    check_results(c, 3, "outage")
    check(st.get("pending_batches", 0) >= 1, "status counts the unfinished batch during the outage",
          json.dumps(st)[:300])


def t_flush(agent, ep):
    """batch flush seals a batch that is neither full nor old."""
    cfg, c = bconfig(agent, "flush", batch={"max_items": 100, "max_age": "1h"},
                     camera={"device": "testpattern", "width": 320, "height": 240, "interval": "500ms"})
    p = agent.start(cfg)
    ro.wait_for(lambda: ro.status(agent, cfg).get("last_run", {}).get("uploaded", 0) >= 3, 20, 0.2)
    rc, out, err = batch_cmd(agent, cfg, "flush")
    t0 = time.time()
    check(rc == 0 and "within a second" in out, "batch flush asks the running daemon", out + err)
    done = ro.wait_for(lambda: len(ro.results(c)) >= 3, 30, 0.3)
    took = time.time() - t0
    p.terminate()
    p.wait(30)
    n = len(ro.results(c))
    check(done and n < 100, "the flushed batch (%d images, far from max_items) was submitted and its results "
          "came back in %.1f s" % (n, took))


def export(agent, cfg, out, *args):
    p = subprocess.run([agent.bin, "dataset", "export", "-c", cfg, "-o", out] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def t_dataset(agent, ep, work):
    """dataset export: images + import files checked line by line against the import schema,
    then uploaded, created and imported by the endpoint."""
    cfg = os.path.join(work, "fmt-automl", "config.json")
    c = json.load(open(cfg))
    n = len(ro.results(c))
    out = os.path.join(work, "ds-single")
    rc, so, se = export(agent, cfg, out, "--ml-use", "auto", "--name", "e2e-single")
    lines = [json.loads(x) for x in open(os.path.join(out, "import.jsonl"))] if rc == 0 else []
    uses = {"training", "validation", "test"}
    good = len(lines) == n and all(
        set(o) == {"imageGcsUri", "classificationAnnotation", "dataItemResourceLabels"} and
        o["imageGcsUri"].startswith("gs://%s/e2e/fmt-automl/datasets/e2e-single/images/" % ep.info["bucket"]) and
        set(o["classificationAnnotation"]) == {"displayName"} and o["classificationAnnotation"]["displayName"] and
        set(o["dataItemResourceLabels"]) == {"aiplatform.googleapis.com/ml_use"} and
        o["dataItemResourceLabels"]["aiplatform.googleapis.com/ml_use"] in uses for o in lines)
    check(rc == 0 and good, "single-label JSONL: %d lines, each of the import schema" % len(lines), so + se)
    top = {r["id"]: r["labels"][0]["name"] for r in ro.results(c)}
    check(all(o["classificationAnnotation"]["displayName"] == top[o["imageGcsUri"].rsplit("/", 1)[1][:-4]]
              for o in lines), "each line carries its result's top label")
    imgs = os.listdir(os.path.join(out, "images")) if rc == 0 else []
    check(len(imgs) == n and all(open(os.path.join(out, "images", f), "rb").read(3) == b"\xff\xd8\xff" for f in imgs),
          "the %d images are in DIR/images as JPEG files" % len(imgs))
    rc2, _, _ = export(agent, cfg, os.path.join(work, "ds-single2"), "--ml-use", "auto", "--name", "e2e-single")
    same = rc2 == 0 and open(os.path.join(out, "import.jsonl")).read() == \
        open(os.path.join(work, "ds-single2", "import.jsonl")).read()
    check(same, "--ml-use auto splits the same way every time")

    out = os.path.join(work, "ds-multi")
    rc, so, se = export(agent, cfg, out, "--multi-label")
    lines = [json.loads(x) for x in open(os.path.join(out, "import.jsonl"))] if rc == 0 else []
    thr = c["online"]["confidence_threshold"]
    want = {r["id"]: sorted(l["name"] for l in r["labels"] if l["confidence"] >= thr) for r in ro.results(c)}
    good = len(lines) == n and all(set(o) == {"imageGcsUri", "classificationAnnotations"} and
                                   sorted(a["displayName"] for a in o["classificationAnnotations"]) ==
                                   want[o["imageGcsUri"].rsplit("/", 1)[1][:-4]] for o in lines)
    check(rc == 0 and good, "multi-label JSONL: every label at or above the threshold, no ml_use", so + se)

    out = os.path.join(work, "ds-csv")
    rc, so, se = export(agent, cfg, out, "--csv", "--ml-use", "validation", "--multi-label")
    rows = [x.rstrip("\n").split(",") for x in open(os.path.join(out, "import.csv"))] if rc == 0 else []
    check(rc == 0 and len(rows) == n and all(r[0] == "validation" and r[1].startswith("gs://") and len(r) >= 3
                                             for r in rows), "CSV: ML_USE,GCS_PATH,LABEL... rows", so + se)

    ep.reset_log()
    rc, so, se = export(agent, cfg, os.path.join(work, "ds-up"), "--ml-use", "auto", "--name", "e2e-up", "--upload")
    imports = [q for q in ep.requests("dataset_import") if q["status"] == 200]
    ops = [q for q in ep.requests("operation_get") if q["status"] == 200]
    check(rc == 0 and "imported" in so and len(imports) == 1 and ops, "--upload: images and file uploaded, "
          "dataset created, import done (%d operation polls)" % len(ops), so + se)
    ds = next((l.split()[1] for l in so.splitlines() if l.startswith("dataset ")), None)
    if ds:
        rq = urllib.request.Request(ep.info["api"]["aiplatform"] + "/v1/" + ds,
                                    headers={"Authorization": "Bearer " + token(ep)})
        d = json.load(urllib.request.urlopen(rq, context=ep.ctx))
        check(int(d.get("dataItemCount", 0)) == n, "the endpoint imported %s items" % d.get("dataItemCount"))

    # online results: images kept in results.images_dir
    ocfg, oc = agent.config("ds-online", results={"file": os.path.join(work, "ds-online", "results.jsonl"),
                                                  "images_dir": os.path.join(work, "ds-online", "images")},
                            batch={"bucket": ep.info["bucket"], "prefix": "e2e/ds-online"})
    rc, _, log = agent.run(ocfg, "run", "--frames", "4")
    rc2, so, se = export(agent, ocfg, os.path.join(work, "ds-online-out"))
    check(rc == 0 and rc2 == 0 and "4 images exported" in so, "online results with results.images_dir export too",
          so + se + log[-200:])
    rc, so, se = export(agent, cfg, os.path.join(work, "ds-bad"), "--ml-use", "sometimes")
    check(rc == 2 and "--ml-use" in se, "a bad --ml-use is a usage error naming the option", se)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    try:
        import cryptography  # noqa: F401
    except ImportError:
        print("skip: python3-cryptography is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="fc-batch-")
    ep = ro.Endpoint(work, "--job-duration", "1")
    agent = ro.Agent(binary, work, ep)
    with ro.harness(ep.stop):
        t_formats(agent, ep)
        t_crash_steps(agent, ep)
        t_item_log(agent, ep)
        t_rotated_cut(agent, ep)
        t_cancel_and_fail(agent, ep)
        t_resumable(agent, ep)
        t_outage(agent, ep)
        t_flush(agent, ep)
        t_dataset(agent, ep, work)
        key = json.load(open(ep.info["key_file"]))
        pem_body = key["private_key"].splitlines()[1]
        logs = "".join(open(os.path.join(work, f)).read() for f in os.listdir(work) if f.startswith("agent-"))
        leaked = [x for x in ("ya29.", "Bearer ", "assertion=", pem_body) if x in logs]
        check(not leaked and len(logs) > 1000, "no token, key or assertion in any log line", str(leaked))
    return ro.summary(work)


if __name__ == "__main__":
    sys.exit(main())
