#!/usr/bin/python3
"""fieldcam reference endpoint: a strict local stand-in for Vertex AI, Cloud
Storage and Google's OAuth token endpoint, with scripted faults.

Contract: tests/endpoint/README.md. Shapes and rules: docs vertex-api.md.
Needs only Debian's python3, python3-cryptography and python3-pil.
"""
import argparse, base64, binascii, hashlib, io, json, os, random, re, secrets
import socket, ssl, struct, sys, threading, time, datetime
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa, padding
from cryptography.exceptions import InvalidSignature

PROJECT_ID = "fieldcam-test"
PROJECT_NUMBER = "123456789"
LOCATION = "us-central1"
ENDPOINT_ID = "1234567890"
MODEL_ID = "7770000000000000000"
MODEL_DISPLAY = "fieldcam-colours"
DEPLOYED_MODEL_ID = "5349204950000000000"
BUCKET = "fieldcam-test-bucket"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
PAYLOAD_LIMIT = 1572864
CHUNK = 262144
SKEW = 60
MIME_TYPES = ["image/jpeg", "image/gif", "image/png", "image/webp", "image/bmp",
              "image/tiff", "image/vnd.microsoft.icon"]
# The "model": label -> id (19-digit int64 as string).
LABELS = {"red": "8420011357000000001", "green": "8420011357000000002",
          "blue": "8420011357000000003", "neutral": "8420011357000000004",
          "dark": "8420011357000000005", "bright": "8420011357000000006"}
GRPC = {400: (3, "INVALID_ARGUMENT"), 401: (16, "UNAUTHENTICATED"), 403: (7, "PERMISSION_DENIED"),
        404: (5, "NOT_FOUND"), 409: (6, "ALREADY_EXISTS"), 412: (9, "FAILED_PRECONDITION"),
        413: (3, "INVALID_ARGUMENT"), 429: (8, "RESOURCE_EXHAUSTED"), 499: (1, "CANCELLED"),
        500: (13, "INTERNAL"), 501: (12, "UNIMPLEMENTED"), 503: (14, "UNAVAILABLE"),
        504: (4, "DEADLINE_EXCEEDED")}


def now_rfc3339(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------- CRC-32C
def _crc_table():
    tab = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        tab.append(c)
    return tab
_CRC = _crc_table()

def crc32c(data):
    c = 0xFFFFFFFF
    tab = _CRC
    for b in data:
        c = tab[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

def crc32c_b64(data):
    return base64.b64encode(struct.pack(">I", crc32c(data))).decode()


# ---------------------------------------------------------------- the "model"
def classify(img_bytes):
    """Documented heuristic: decode, mean R,G,B in [0,1]. Colour labels
    red/green/blue score saturation * channel / max(R,G,B); neutral = 1 - saturation;
    bright = luminance (0.299R+0.587G+0.114B); dark = 1 - luminance. Scores are
    rounded to 4 places, sorted best first (ties by name). Raises ValueError
    when the bytes do not decode as a complete image."""
    from PIL import Image
    try:
        im = Image.open(io.BytesIO(img_bytes))
        im.load()
    except Exception as e:
        raise ValueError("image does not decode: %s" % e)
    if im.width < 1 or im.height < 1 or im.width > 20000 or im.height > 20000:
        raise ValueError("image size out of range")
    small = im.convert("RGB").resize((16, 16), Image.BILINEAR)
    px = list(small.getdata())
    n = len(px)
    r = sum(p[0] for p in px) / n / 255.0
    g = sum(p[1] for p in px) / n / 255.0
    b = sum(p[2] for p in px) / n / 255.0
    mx, mn = max(r, g, b), min(r, g, b)
    sat = (mx - mn) / mx if mx > 1e-6 else 0.0
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    scores = {"red": sat * r / mx if mx > 1e-6 else 0.0, "green": sat * g / mx if mx > 1e-6 else 0.0,
              "blue": sat * b / mx if mx > 1e-6 else 0.0,
              "neutral": 1 - sat, "bright": lum, "dark": 1 - lum}
    out = [(name, round(min(1.0, max(0.0, v)), 4)) for name, v in scores.items()]
    out.sort(key=lambda x: (-x[1], x[0]))
    return out


def is_complete_jpeg(b):
    return len(b) >= 4 and b[:3] == b"\xff\xd8\xff" and b"\xff\xd9" in b[-16:]


def b64decode_strict(s, urlsafe=False):
    if not isinstance(s, str) or not s:
        raise ValueError("empty")
    if urlsafe:
        s = s.replace("-", "+").replace("_", "/")
    return base64.b64decode(s, validate=True)


# ---------------------------------------------------------------- errors
class ApiError(Exception):
    def __init__(self, code, message, shape="vertex", reason=None, field=None, headers=None,
                 location=None, metadata=None):
        self.code, self.message, self.shape = code, message, shape
        self.reason, self.field, self.headers, self.location = reason, field, headers or {}, location
        self.metadata = metadata

    def body(self):
        if self.shape == "oauth":
            return {"error": self.reason or "invalid_grant", "error_description": self.message}
        if self.shape == "storage":
            e = {"domain": "global", "reason": self.reason or "invalid", "message": self.message}
            if self.location:
                e["locationType"] = "header"
                e["location"] = self.location
            return {"error": {"code": self.code, "message": self.message, "errors": [e]}}
        st = GRPC.get(self.code, (2, "UNKNOWN"))[1]
        err = {"code": self.code, "message": self.message, "status": st}
        det = []
        if self.code == 400 and (self.field or "Unknown name" in self.message):
            det.append({"@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": self.field or "", "description": self.message}]})
        if self.reason:
            info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": self.reason,
                    "domain": "googleapis.com"}
            if self.metadata:
                info["metadata"] = self.metadata
            det.append(info)
        if det:
            err["details"] = det
        return {"error": err}


def bad(msg, field=None):
    return ApiError(400, msg, field=field)


# ---------------------------------------------------------------- request schemas
# Field schema: dict name -> type; types: str, num, int, bool, "free" (any JSON),
# dict (nested schema), [schema] (array of), "strmap".
S_PREDICT = {"instances": "freelist", "parameters": "free"}
S_PART = {"text": str, "inlineData": {"mimeType": str, "data": str},
          "fileData": {"mimeType": str, "fileUri": str}, "thought": bool}
S_CONTENT = {"role": str, "parts": [S_PART]}
S_GENCONF = {"temperature": "num", "topP": "num", "topK": "num", "maxOutputTokens": "int",
             "responseMimeType": str, "responseSchema": "free", "stopSequences": [str],
             "seed": "int", "candidateCount": "int", "thinkingConfig": {"thinkingBudget": "int",
             "includeThoughts": bool}, "presencePenalty": "num", "frequencyPenalty": "num"}
S_GENERATE = {"contents": [S_CONTENT], "generationConfig": S_GENCONF,
              "systemInstruction": S_CONTENT, "safetySettings": "freelist", "labels": "strmap"}
S_JOB = {"displayName": str, "model": str, "modelParameters": "free",
         "inputConfig": {"instancesFormat": str, "gcsSource": {"uris": [str]},
                         "bigquerySource": {"inputUri": str}},
         "outputConfig": {"predictionsFormat": str, "gcsDestination": {"outputUriPrefix": str},
                          "bigqueryDestination": {"outputUri": str}},
         "labels": "strmap", "dedicatedResources": "free", "manualBatchTuningParameters": "free",
         "generateExplanation": bool, "instanceConfig": "free", "serviceAccount": str,
         "encryptionSpec": "free"}
S_DATASET = {"displayName": str, "metadataSchemaUri": str, "metadata": "free", "labels": "strmap",
             "description": str}
S_IMPORT = {"importConfigs": [{"gcsSource": {"uris": [str]}, "importSchemaUri": str,
                               "dataItemLabels": "strmap", "annotationLabels": "strmap"}]}


def camel(k):
    parts = k.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def check_schema(obj, schema, path, reject_snake):
    """Return obj with keys normalised to camelCase; raise 400 on unknown
    fields and wrong types."""
    if schema == "free":
        return obj
    if schema == "freelist":
        if not isinstance(obj, list):
            raise bad('Invalid value at \'%s\': expected a list' % path, path)
        return obj
    if schema == "strmap":
        if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
            raise bad("Invalid value at '%s': expected a map of strings" % path, path)
        return obj
    if schema is str:
        if not isinstance(obj, str):
            raise bad("Invalid value at '%s' (TYPE_STRING), %s" % (path, json.dumps(obj)[:40]), path)
        return obj
    if schema is bool:
        if not isinstance(obj, bool):
            raise bad("Invalid value at '%s' (TYPE_BOOL), %s" % (path, json.dumps(obj)[:40]), path)
        return obj
    if schema in ("num", "int"):
        ok = isinstance(obj, (int, float)) and not isinstance(obj, bool)
        if isinstance(obj, str) and schema == "int" and re.fullmatch(r"-?\d+", obj):
            return int(obj)
        if not ok or (schema == "int" and isinstance(obj, float) and obj != int(obj)):
            raise bad("Invalid value at '%s' (%s), %s" % (
                path, "TYPE_INT32" if schema == "int" else "TYPE_FLOAT", json.dumps(obj)[:40]), path)
        return obj
    if isinstance(schema, list):
        if not isinstance(obj, list):
            raise bad("Invalid value at '%s': expected a list" % path, path)
        return [check_schema(v, schema[0], "%s[%d]" % (path, i), reject_snake) for i, v in enumerate(obj)]
    if isinstance(schema, dict):
        if not isinstance(obj, dict):
            raise bad("Invalid value at '%s': expected an object" % (path or "(root)"), path)
        out = {}
        for k, v in obj.items():
            ck = camel(k)
            if ck != k and reject_snake:
                raise bad('Invalid JSON payload received. Unknown name "%s"%s: Cannot find field.'
                          % (k, " at '%s'" % path if path else ""), path)
            if ck not in schema:
                raise bad('Invalid JSON payload received. Unknown name "%s"%s: Cannot find field.'
                          % (k, " at '%s'" % path if path else ""), path)
            out[ck] = check_schema(v, schema[ck], (path + "." if path else "") + ck, reject_snake)
        return out
    raise RuntimeError("bad schema")


# ---------------------------------------------------------------- state
class State:
    def __init__(self, args):
        self.args = args
        self.dir = args.state_dir
        self.lock = threading.RLock()
        self.tokens = {}          # token -> expiry epoch
        # express mode's one API key: "AIza" and 35 more, as Google's keys look
        self.api_key = "AIza" + secrets.token_urlsafe(27)[:35]
        self.revoked = set()
        self.faults = []          # rules
        self.sessions = {}        # upload_id -> dict
        self.jobs = {}            # id -> job dict (internal)
        self.datasets = {}
        self.operations = {}
        self.objects_dir = os.path.join(self.dir, "storage")
        os.makedirs(os.path.join(self.objects_dir, BUCKET), exist_ok=True)
        self.log_path = os.path.join(self.dir, "requests.jsonl")
        self.log_lock = threading.Lock()
        self.gen_counter = int(time.time() * 1e6)
        if args.faults:
            with open(args.faults) as f:
                self.add_faults(json.load(f))

    def add_faults(self, doc):
        rules = doc.get("faults", doc) if isinstance(doc, dict) else doc
        if not isinstance(rules, list):
            raise ValueError("faults: expected a list")
        with self.lock:
            for r in rules:
                if not isinstance(r, dict) or "route" not in r:
                    raise ValueError("fault rule needs route")
                r = dict(r)
                r["_re"] = re.compile(r["route"])
                self.faults.append(r)

    def match_faults(self, route):
        """Count this request for route; return the fault rules that fire."""
        with self.lock:
            fired = []
            for r in self.faults:
                if not r["_re"].fullmatch(route):
                    continue
                r["_n"] = n = r.get("_n", 0) + 1   # counted from when the rule was added
                nth = r.get("nth")
                times = r.get("times", 1)
                if nth is None or (nth <= n < nth + times) or (r.get("every") and n >= nth):
                    fired.append(r)
            return fired

    # objects: DIR/storage/BUCKET/<quoted name> + .meta
    def obj_path(self, bucket, name):
        return os.path.join(self.objects_dir, bucket, urllib.parse.quote(name, safe="") + ".data")

    def bucket_exists(self, bucket):
        return os.path.isdir(os.path.join(self.objects_dir, bucket)) and "/" not in bucket and bucket not in (".", "..")

    def get_meta(self, bucket, name):
        p = self.obj_path(bucket, name)[:-5] + ".meta"
        try:
            with open(p) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def read_object(self, bucket, name):
        with open(self.obj_path(bucket, name), "rb") as f:
            return f.read()

    def put_object(self, bucket, name, data, content_type, if_gen=None, extra_meta=None):
        with self.lock:
            existing = self.get_meta(bucket, name)
            if if_gen is not None:
                cur = int(existing["generation"]) if existing else 0
                if int(if_gen) != cur:
                    raise ApiError(412, "At least one of the pre-conditions you specified did not hold.",
                                   "storage", "conditionNotMet", location="If-Match")
            self.gen_counter += 1
            meta = {"kind": "storage#object", "id": "%s/%s/%d" % (bucket, name, self.gen_counter),
                    "name": name, "bucket": bucket, "generation": str(self.gen_counter),
                    "metageneration": "1", "contentType": content_type or "application/octet-stream",
                    "size": str(len(data)), "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
                    "crc32c": crc32c_b64(data), "timeCreated": now_rfc3339(), "updated": now_rfc3339(),
                    "selfLink": "/storage/v1/b/%s/o/%s" % (bucket, urllib.parse.quote(name, safe=""))}
            if extra_meta and isinstance(extra_meta.get("metadata"), dict):
                meta["metadata"] = extra_meta["metadata"]
            p = self.obj_path(bucket, name)
            with open(p + ".tmp", "wb") as f:
                f.write(data)
            os.replace(p + ".tmp", p)
            mp = p[:-5] + ".meta"
            with open(mp + ".tmp", "w") as f:
                json.dump(meta, f)
            os.replace(mp + ".tmp", mp)
            return meta

    def list_objects(self, bucket, prefix):
        d = os.path.join(self.objects_dir, bucket)
        names = []
        for fn in os.listdir(d):
            if fn.endswith(".meta"):
                n = urllib.parse.unquote(fn[:-5])
                if n.startswith(prefix):
                    names.append(n)
        return sorted(names)

    def log(self, rec):
        line = json.dumps(rec, sort_keys=True) + "\n"
        with self.log_lock:
            with open(self.log_path, "a") as f:
                f.write(line)


def parse_gs(uri):
    m = re.fullmatch(r"gs://([a-z0-9][a-z0-9._-]*)/(.+)", uri or "")
    return (m.group(1), m.group(2)) if m else None


# ---------------------------------------------------------------- handler
class Reset(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fieldcam-refendpoint/1"
    st = None  # State, set on the class

    def log_message(self, fmt, *a):
        if self.st.args.verbose:
            sys.stderr.write("refendpoint: " + (fmt % a) + "\n")

    # -- body
    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise Reset()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        t = self.rfile.readline(1024)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                out += self.rfile.read(size)
                self.rfile.readline(8)
                if len(out) > 64 * 1024 * 1024:
                    raise ApiError(413, "Request body too large")
            return bytes(out)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        if not re.fullmatch(r"\d+", cl.strip()):
            raise ApiError(400, "Bad Content-Length")
        n = int(cl)
        if n > 64 * 1024 * 1024:
            raise ApiError(413, "Request body too large")
        data = self.rfile.read(n)
        if len(data) != n:
            raise Reset()
        return data

    def do_GET(self): self.dispatch("GET")
    def do_POST(self): self.dispatch("POST")
    def do_PUT(self): self.dispatch("PUT")
    def do_DELETE(self): self.dispatch("DELETE")

    def send_json(self, code, obj, headers=None):
        self.send_raw(code, json.dumps(obj).encode(), "application/json; charset=UTF-8", headers)

    def send_raw(self, code, body, ctype, headers=None):
        self._status = code
        fault = self._fault_action
        if fault.get("drop_reply"):
            raise Reset()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if "truncate" in fault:
            self.wfile.write(body[:int(fault["truncate"])])
            self.wfile.flush()
            raise Reset()
        self.wfile.write(body)

    def route_of(self, method, path):
        if path == "/token":
            return "token"
        if path.startswith("/_control/"):
            return "control"
        if path.startswith("/upload/storage/v1/"):
            return "upload_put" if method == "PUT" else ("upload_delete" if method == "DELETE" else "upload")
        if path.startswith("/storage/v1/"):
            return "object_list" if re.fullmatch(r"/storage/v1/b/[^/]+/o", path) else "object_get"
        if path.endswith(":predict"):
            return "predict"
        if path.endswith(":generateContent"):
            return "generateContent"
        if "/batchPredictionJobs" in path:
            if path.endswith(":cancel"):
                return "batch_cancel"
            if path.endswith("/batchPredictionJobs"):
                return "batch_create" if method == "POST" else "batch_list"
            return "batch_get"
        if "/operations/" in path:
            return "operation_get"
        if path.endswith(":import"):
            return "dataset_import"
        if "/datasets" in path:
            return "dataset_create" if method == "POST" else "dataset_get"
        return "other"

    def dispatch(self, method):
        t0 = time.time()
        url = urllib.parse.urlsplit(self.path)
        raw_path = url.path
        self._status = None
        self._fault_action = {}
        rec = {"time": now_rfc3339(), "method": method, "path": raw_path,
               "query": {k: (["<redacted>"] if k == "key" else v)
                         for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()},
               "headers": {k: ("<redacted>" if k.lower() in ("authorization", "cookie") else v)
                           for k, v in self.headers.items()},
               "tls": isinstance(self.connection, ssl.SSLSocket)}
        auth = self.headers.get("Authorization", "")
        if auth:
            rec["auth"] = "bearer" if auth.startswith("Bearer ") else "other"
        route = self.route_of(method, raw_path)
        rec["route"] = route
        body = b""
        try:
            try:
                body = self.read_body()
            finally:
                rec["body_bytes"] = len(body)
                rec["body_sha256"] = hashlib.sha256(body).hexdigest()
            if route != "control":
                fired = self.st.match_faults(route)
                for f in fired:
                    self.apply_pre_fault(f, rec)
            self.handle_route(method, route, raw_path, url.query, body, rec)
        except Reset:
            rec["status"] = self._status
            rec["reset"] = True
            self.reset_connection()
        except ApiError as e:
            rec["error"] = e.message
            try:
                self.send_json(e.code, e.body(), e.headers)
            except Reset:
                rec["reset"] = True
                self.reset_connection()
        except (ConnectionError, ssl.SSLError, socket.timeout):
            rec["reset"] = True
            self.close_connection = True
        except Exception as e:  # a bug here must be visible, not a hang
            rec["error"] = "internal: %r" % e
            import traceback; traceback.print_exc()
            try:
                self.send_json(500, ApiError(500, "Internal error encountered.").body())
            except Exception:
                self.close_connection = True
        rec.setdefault("status", self._status)
        if self._status is not None:
            rec["status"] = self._status
        rec["ms"] = int((time.time() - t0) * 1000)
        self.st.log(rec)

    def reset_connection(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            sock = self.connection
            if isinstance(sock, ssl.SSLSocket):
                # drop the TLS layer without close_notify
                raw = socket.socket(fileno=os.dup(sock.fileno()))
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                raw.close()
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def apply_pre_fault(self, f, rec):
        rec.setdefault("faults", []).append({k: v for k, v in f.items() if not k.startswith("_")})
        if f.get("delay"):
            time.sleep(float(f["delay"]))
        if f.get("expireToken"):
            with self.st.lock:
                for t in list(self.st.tokens):
                    self.st.tokens[t] = 0
        if f.get("revokeTokens"):
            with self.st.lock:
                self.st.revoked.update(self.st.tokens)
        if f.get("reset"):
            raise Reset()
        if "truncate" in f:
            self._fault_action["truncate"] = f["truncate"]
        if f.get("storeThenDrop"):
            self._fault_action["drop_reply"] = True
        if f.get("finishReason"):
            self._fault_action["finishReason"] = f["finishReason"]
        if f.get("blockReason"):
            self._fault_action["blockReason"] = f["blockReason"]
        if f.get("status"):
            code = int(f["status"])
            hdrs = {}
            if "retryAfter" in f:
                hdrs["Retry-After"] = str(f["retryAfter"])
            shape = "storage" if rec["route"].startswith(("upload", "object")) else (
                "oauth" if rec["route"] == "token" else "vertex")
            msg = f.get("message") or ("Resource exhausted. Please try again later." if code == 429
                                       else "Scripted fault %d" % code)
            e = ApiError(code, msg, shape, reason=f.get("reason"), headers=hdrs)
            if code == 308 or code < 400:
                self.send_json(code, {}, hdrs)
                raise _Done()
            raise e

    # -- auth
    def require_auth(self, shape):
        auth = self.headers.get("Authorization", "")
        hdr = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'}
        if not auth.startswith("Bearer "):
            raise ApiError(401, "Request is missing required authentication credential. Expected OAuth 2 "
                           "access token, login cookie or other valid authentication credential.",
                           shape, reason="CREDENTIALS_MISSING" if shape == "vertex" else "required",
                           headers=hdr)
        tok = auth[7:].strip()
        with self.st.lock:
            exp = self.st.tokens.get(tok)
            revoked = tok in self.st.revoked
        if exp is None or revoked or exp <= time.time():
            raise ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                           "token, login cookie or other valid authentication credential.",
                           shape, reason="ACCESS_TOKEN_EXPIRED" if exp is not None else "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                           headers=hdr)

    def vertex_json(self, body, schema):
        ct = self.headers.get("Content-Type", "")
        if ct.split(";")[0].strip().lower() != "application/json":
            raise bad("Invalid Content-Type %r: expected application/json" % ct)
        try:
            obj = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise bad("Invalid JSON payload received. %s" % e)
        if not isinstance(obj, dict):
            raise bad("Invalid JSON payload received. Expected an object.")
        return check_schema(obj, schema, "", self.st.args.reject_snake_case)

    # -- routing
    def handle_route(self, method, route, path, query, body, rec):
        try:
            self._handle_route(method, route, path, query, body, rec)
        except _Done:
            pass

    def _handle_route(self, method, route, path, query, body, rec):
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        q1 = {k: v[-1] for k, v in q.items()}
        if route == "control":
            return self.control(method, path, body)
        if route == "token":
            return self.token(method, body)
        if route.startswith(("upload", "object")):
            self.require_auth("storage")
            return self.storage(method, route, path, q1, body, rec)
        key = q1.get("key")
        em = re.fullmatch(r"/v1(?:beta1)?/(publishers/.+)", path)
        if em:
            return self.express(method, route, em.group(1), key, body, rec)
        m = re.fullmatch(r"/v1(?:beta1)?/projects/([^/]+)/locations/([^/]+)/(.+)", path)
        if not m:
            raise ApiError(404, "The requested URL %s was not found on this server." % path)
        if key is not None:
            raise ApiError(401, "API keys are not supported by this API. Expected OAuth2 access token or other "
                           "authentication credentials that assert a principal. See "
                           "https://cloud.google.com/docs/authentication", reason="CREDENTIALS_MISSING",
                           metadata={"service": "aiplatform.googleapis.com", "method": route})
        self.require_auth("vertex")
        project, location, rest = m.groups()
        if project not in (PROJECT_ID, PROJECT_NUMBER):
            raise ApiError(403, "Permission denied on resource project %s." % project)
        if location not in (LOCATION, "global"):
            raise ApiError(400, "Unsupported location %s" % location)
        if route == "predict":
            if method != "POST":
                raise ApiError(404, "Method not found.")
            return self.predict(rest, body, rec)
        if route == "generateContent":
            if method != "POST":
                raise ApiError(404, "Method not found.")
            return self.generate(rest, body, rec)
        if route.startswith("batch"):
            return self.batch(method, route, location, rest, q1, body)
        if route.startswith("dataset") or route == "operation_get":
            return self.datasets(method, route, location, rest, body)
        raise ApiError(404, "The requested URL %s was not found on this server." % path)

    # -- Vertex AI express mode (vertex-api.md 7.2): the global host, no project
    # or location, generateContent on a Google model, ?key= and nothing else
    def express(self, method, route, rest, key, body, rec):
        rec["auth"] = "api_key" if key is not None else rec.get("auth")
        if key is None:
            if not self.headers.get("Authorization"):
                raise ApiError(401, "Request is missing required authentication credential. Expected OAuth 2 "
                               "access token, API key or other valid authentication credential.",
                               reason="CREDENTIALS_MISSING")
            raise ApiError(404, "The requested URL /v1/%s was not found on this server." % rest)
        if key != self.st.api_key:
            raise ApiError(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID",
                           metadata={"service": "aiplatform.googleapis.com"})
        if route != "generateContent" or method != "POST":
            raise ApiError(404, "The requested URL /v1/%s was not found on this server." % rest)
        return self.generate(rest, body, rec)

    # -- control (loopback, no auth)
    def control(self, method, path, body):
        if path == "/_control/faults" and method == "POST":
            try:
                self.st.add_faults(json.loads(body or b"[]"))
            except (ValueError, re.error) as e:
                raise bad("bad fault script: %s" % e)
            return self.send_json(200, {"faults": len(self.st.faults)})
        if path == "/_control/faults" and method == "DELETE":
            with self.st.lock:
                self.st.faults = []
            return self.send_json(200, {"faults": 0})
        if path == "/_control/revoke" and method == "POST":
            with self.st.lock:
                self.st.revoked.update(self.st.tokens)
            return self.send_json(200, {})
        if path == "/_control/expire" and method == "POST":
            with self.st.lock:
                for t in self.st.tokens:
                    self.st.tokens[t] = 0
            return self.send_json(200, {})
        raise ApiError(404, "unknown control route")

    # -- OAuth
    def token(self, method, body):
        def ig(msg, err="invalid_grant"):
            return ApiError(400, msg, "oauth", reason=err)
        if method != "POST":
            raise ApiError(405, "Method not allowed", "oauth", reason="invalid_request")
        if self.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise ApiError(400, "Bad Content-Type", "oauth", reason="invalid_request")
        form = urllib.parse.parse_qs(body.decode("latin-1"), keep_blank_values=True)
        gt = form.get("grant_type", [""])[-1]
        if gt != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise ApiError(400, "Invalid grant_type: %s" % gt, "oauth", reason="unsupported_grant_type")
        jwt = form.get("assertion", [""])[-1]
        parts = jwt.split(".")
        if len(parts) != 3:
            raise ig("Invalid JWT: malformed")
        try:
            hdr = json.loads(b64decode_strict(parts[0] + "=" * (-len(parts[0]) % 4), True))
            claims = json.loads(b64decode_strict(parts[1] + "=" * (-len(parts[1]) % 4), True))
            sig = b64decode_strict(parts[2] + "=" * (-len(parts[2]) % 4), True)
        except (ValueError, binascii.Error):
            raise ig("Invalid JWT: bad base64url or JSON")
        if "=" in jwt:
            raise ig("Invalid JWT: padded base64url")
        if not isinstance(hdr, dict) or not isinstance(claims, dict):
            raise ig("Invalid JWT: not objects")
        if hdr.get("alg") != "RS256":
            raise ig("Invalid JWT: alg must be RS256")
        if hdr.get("kid") != self.server.key_id:
            raise ig("Invalid JWT Signature.")
        try:
            self.server.sa_public.verify(sig, (parts[0] + "." + parts[1]).encode(),
                                         padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise ig("Invalid JWT Signature.")
        if claims.get("iss") != self.server.client_email:
            raise ig("Invalid JWT: iss is not a known service account", "invalid_client")
        if claims.get("aud") != self.server.token_uri:
            raise ig("Invalid JWT: aud must be %s" % self.server.token_uri)
        scope = claims.get("scope")
        if not isinstance(scope, str) or SCOPE not in scope.split(" "):
            raise ig("Invalid JWT: scope must include %s" % SCOPE, "invalid_scope")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
            raise ig("Invalid JWT: iat and exp must be integers")
        now = time.time()
        if exp - iat > 3600 or exp <= iat or iat > now + SKEW or exp < now - SKEW:
            raise ig("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                     "timeframe. Check your iat and exp values in the JWT claim.")
        life = self.st.args.token_lifetime
        tok = "ya29.c." + secrets.token_urlsafe(32)
        with self.st.lock:
            self.st.tokens[tok] = now + life
        self.send_json(200, {"access_token": tok, "expires_in": max(0, life - 1), "token_type": "Bearer"},
                       {"Cache-Control": "no-store"})

    # -- online prediction
    def predict(self, rest, body, rec):
        m = re.fullmatch(r"endpoints/([^/:]+):predict", rest)
        if not m or m.group(1) != ENDPOINT_ID:
            raise ApiError(404, "Endpoint `%s` not found." % rest.split(":")[0])
        if len(body) > PAYLOAD_LIMIT:
            raise ApiError(400, "Request payload size exceeds the limit: %d bytes." % PAYLOAD_LIMIT)
        req = self.vertex_json(body, S_PREDICT)
        inst = req.get("instances")
        if not inst:
            raise bad("instances must not be empty", "instances")
        params = req.get("parameters", {})
        thr, maxp = parse_params(params, "parameters")
        preds = []
        for i, it in enumerate(inst):
            img = check_instance(it, "instances[%d]" % i)
            preds.append(prediction(img, thr, maxp))
        rec["instances"] = len(inst)
        self.send_json(200, {"predictions": preds, "deployedModelId": DEPLOYED_MODEL_ID,
                             "model": "projects/%s/locations/%s/models/%s" % (PROJECT_NUMBER, LOCATION, MODEL_ID),
                             "modelDisplayName": MODEL_DISPLAY, "modelVersionId": "1"})

    # -- Gemini
    def generate(self, rest, body, rec):
        m = re.fullmatch(r"publishers/google/models/([A-Za-z0-9._-]+):generateContent", rest)
        if not m or not m.group(1).startswith("gemini"):
            raise ApiError(404, "Publisher Model `%s` not found." % rest.split(":")[0])
        if len(body) > 20 * 1024 * 1024:
            raise ApiError(413, "Request payload size exceeds the limit.")
        req = self.vertex_json(body, S_GENERATE)
        resp = self.st_generate(req, m.group(1), self._fault_action)
        self.send_json(200, resp)

    def st_generate(self, req, model, fault):
        return generate_response(self.st, req, model, fault)

    # -- Cloud Storage
    def storage(self, method, route, path, q, body, rec):
        st = self.st
        if route == "upload_put" or route == "upload_delete":
            return self.resumable_chunk(method, q, body)
        if route == "upload":
            m = re.fullmatch(r"/upload/storage/v1/b/([^/]+)/o", path)
            if not m or method != "POST":
                raise ApiError(404, "Not Found", "storage", "notFound")
            bucket = urllib.parse.unquote(m.group(1))
            if not st.bucket_exists(bucket):
                raise ApiError(404, "The specified bucket does not exist.", "storage", "notFound")
            ut = q.get("uploadType")
            ifg = q.get("ifGenerationMatch")
            if ifg is not None and not re.fullmatch(r"\d+", ifg):
                raise ApiError(400, "Invalid ifGenerationMatch", "storage", "invalid")
            if ut == "media":
                name = q.get("name")
                if not name:
                    raise ApiError(400, "Required parameter: name", "storage", "required")
                data = body
                meta = st.put_object(bucket, name, data, self.headers.get("Content-Type"), ifg)
                return self.send_json(200, meta)
            if ut == "multipart":
                meta_in, data, ctype = parse_multipart(self.headers.get("Content-Type", ""), body)
                name = meta_in.get("name") or q.get("name")
                if not name:
                    raise ApiError(400, "Required parameter: name", "storage", "required")
                verify_checksums(meta_in, data)
                meta = st.put_object(bucket, name, data, meta_in.get("contentType") or ctype, ifg, meta_in)
                return self.send_json(200, meta)
            if ut == "resumable":
                meta_in = {}
                if body:
                    try:
                        meta_in = json.loads(body)
                        assert isinstance(meta_in, dict)
                    except Exception:
                        raise ApiError(400, "Bad metadata JSON", "storage", "parseError")
                name = meta_in.get("name") or q.get("name")
                if not name:
                    raise ApiError(400, "Required parameter: name", "storage", "required")
                total = self.headers.get("X-Upload-Content-Length")
                if total is not None and not re.fullmatch(r"\d+", total):
                    raise ApiError(400, "Bad X-Upload-Content-Length", "storage", "invalid")
                if ifg is not None:
                    ex = st.get_meta(bucket, name)
                    if int(ifg) != (int(ex["generation"]) if ex else 0):
                        raise ApiError(412, "At least one of the pre-conditions you specified did not hold.",
                                       "storage", "conditionNotMet", location="If-Match")
                uid = secrets.token_urlsafe(24)
                sess = {"bucket": bucket, "name": name, "ifg": ifg, "meta": meta_in,
                        "ctype": self.headers.get("X-Upload-Content-Type") or meta_in.get("contentType"),
                        "total": int(total) if total else None, "data": bytearray(), "done": None,
                        "dead": False}
                with st.lock:
                    st.sessions[uid] = sess
                host = self.headers.get("Host") or "127.0.0.1"
                scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
                loc = "%s://%s/upload/storage/v1/b/%s/o?uploadType=resumable&upload_id=%s" % (
                    scheme, host, urllib.parse.quote(bucket, safe=""), uid)
                rec["upload_id"] = uid
                return self.send_json(200, {}, {"Location": loc})
            raise ApiError(400, "Unknown uploadType: %r" % ut, "storage", "invalidParameter")
        # metadata/data/list
        if method != "GET":
            raise ApiError(404, "Not Found", "storage", "notFound")
        m = re.fullmatch(r"/storage/v1/b/([^/]+)/o(?:/([^/]+))?", path)
        if not m:
            raise ApiError(404, "Not Found", "storage", "notFound")
        bucket = urllib.parse.unquote(m.group(1))
        if not st.bucket_exists(bucket):
            raise ApiError(404, "The specified bucket does not exist.", "storage", "notFound")
        if m.group(2) is None:
            prefix = q.get("prefix", "")
            names = st.list_objects(bucket, prefix)
            start = 0
            if q.get("pageToken"):
                try:
                    start = int(base64.urlsafe_b64decode(q["pageToken"]).decode())
                except Exception:
                    raise ApiError(400, "Invalid pageToken", "storage", "invalid")
            size = st.args.page_size
            if q.get("maxResults"):
                size = max(1, min(size, int(q["maxResults"])))
            page = names[start:start + size]
            out = {"kind": "storage#objects"}
            if page:
                out["items"] = [st.get_meta(bucket, n) for n in page]
            if start + size < len(names):
                out["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            return self.send_json(200, out)
        name = urllib.parse.unquote(m.group(2))
        meta = st.get_meta(bucket, name)
        if meta is None:
            raise ApiError(404, "No such object: %s/%s" % (bucket, name), "storage", "notFound")
        if q.get("alt") == "media":
            return self.send_raw(200, st.read_object(bucket, name), meta["contentType"],
                                 {"X-Goog-Generation": meta["generation"],
                                  "X-Goog-Hash": "crc32c=%s,md5=%s" % (meta["crc32c"], meta["md5Hash"])})
        return self.send_json(200, meta)

    def resumable_chunk(self, method, q, body):
        st = self.st
        uid = q.get("upload_id")
        with st.lock:
            sess = st.sessions.get(uid)
        if sess is None or sess["dead"]:
            raise ApiError(404, "No such upload session", "storage", "notFound")
        if method == "DELETE":
            with st.lock:
                sess["dead"] = True
            raise ApiError(499, "Client Closed Request", "storage", "canceled")
        if sess["done"] is not None:
            return self.send_json(200, sess["done"])
        cr = self.headers.get("Content-Range", "")
        have = len(sess["data"])
        m = re.fullmatch(r"bytes (\*|(\d+)-(\d+))/(\*|\d+)", cr.strip())
        if not m:
            raise ApiError(400, "Bad Content-Range: %r" % cr, "storage", "invalid")
        total = None if m.group(4) == "*" else int(m.group(4))
        if total is not None and sess["total"] is not None and total != sess["total"]:
            raise ApiError(400, "Total size changed", "storage", "invalid")
        if m.group(1) == "*":
            if body:
                raise ApiError(400, "Status query must have an empty body", "storage", "invalid")
            if total is not None and have == total:
                return self.finish_upload(sess)
            return self.send_308(have)
        first, last = int(m.group(2)), int(m.group(3))
        if last < first or last - first + 1 != len(body):
            raise ApiError(400, "Content-Range does not match the body length", "storage", "invalid")
        if first != have:
            raise ApiError(400, "Chunk starts at %d but %d bytes are persisted" % (first, have),
                           "storage", "invalid")
        if total is not None and last + 1 > total:
            raise ApiError(400, "Bytes past the total size", "storage", "invalid")
        final = total is not None and last + 1 == total
        if not final and len(body) % CHUNK != 0:
            raise ApiError(400, "Non-final chunk must be a multiple of 262144 bytes", "storage", "invalid")
        with st.lock:
            sess["data"] += body
            if total is not None:
                sess["total"] = total
        if final:
            return self.finish_upload(sess)
        return self.send_308(len(sess["data"]))

    def send_308(self, have):
        h = {"Range": "bytes=0-%d" % (have - 1)} if have else {}
        self._status = 308
        if self._fault_action.get("drop_reply"):
            raise Reset()
        self.send_response(308)
        for k, v in h.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def finish_upload(self, sess):
        data = bytes(sess["data"])
        verify_checksums(sess["meta"], data)
        meta = self.st.put_object(sess["bucket"], sess["name"], data, sess["ctype"], sess["ifg"], sess["meta"])
        sess["done"] = meta
        sess["data"] = bytearray()
        return self.send_json(200, meta)

    # -- batch
    def batch(self, method, route, location, rest, q, body):
        st = self.st
        if route == "batch_create":
            job = validate_job(self, self.vertex_json(body, S_JOB), location)
            return self.send_json(200, public_job(st, job))
        if route == "batch_list":
            if method != "GET":
                raise ApiError(404, "Method not found.")
            with st.lock:
                jobs = sorted(st.jobs.values(), key=lambda j: j["_created"], reverse=True)
            flt = q.get("filter", "")
            if flt:
                m = re.fullmatch(r'\s*(labels\.([a-z0-9_-]+)|display_name|displayName)\s*=\s*"([^"]*)"\s*', flt)
                if not m:
                    raise bad("Unsupported filter: %s" % flt, "filter")
                if m.group(2):
                    jobs = [j for j in jobs if j.get("labels", {}).get(m.group(2)) == m.group(3)]
                else:
                    jobs = [j for j in jobs if j["displayName"] == m.group(3)]
            start = int(q["pageToken"]) if q.get("pageToken", "").isdigit() else 0
            size = st.args.page_size
            page = jobs[start:start + size]
            out = {}
            if page:
                out["batchPredictionJobs"] = [public_job(st, j) for j in page]
            if start + size < len(jobs):
                out["nextPageToken"] = str(start + size)
            return self.send_json(200, out)
        m = re.fullmatch(r"batchPredictionJobs/(\d+)(:cancel)?", rest)
        with st.lock:
            job = st.jobs.get(m.group(1)) if m else None
        if job is None:
            raise ApiError(404, "The BatchPredictionJob does not exist.")
        if route == "batch_cancel":
            if method != "POST":
                raise ApiError(404, "Method not found.")
            with st.lock:
                advance_job(st, job)
                if job["state"] not in TERMINAL:
                    job["state"] = "JOB_STATE_CANCELLED"
                    job["error"] = {"code": 1, "message": "Job cancelled by user."}
                    job["endTime"] = now_rfc3339()
            return self.send_json(200, {})
        if method != "GET":
            raise ApiError(404, "Method not found.")
        return self.send_json(200, public_job(st, job))

    # -- datasets
    def datasets(self, method, route, location, rest, body):
        st = self.st
        if route == "operation_get":
            with st.lock:
                op = st.operations.get(rest)
            if op is None or method != "GET":
                raise ApiError(404, "Operation not found.")
            return self.send_json(200, public_op(st, op))
        if route == "dataset_create" and rest == "datasets":
            req = self.vertex_json(body, S_DATASET)
            if not req.get("displayName"):
                raise bad("displayName is required", "displayName")
            if not req.get("metadataSchemaUri", "").startswith("gs://google-cloud-aiplatform/schema/dataset/metadata/"):
                raise bad("metadataSchemaUri is invalid", "metadataSchemaUri")
            with st.lock:
                did = str(random.randint(10**17, 10**18 - 1))
                name = "projects/%s/locations/%s/datasets/%s" % (PROJECT_NUMBER, location, did)
                ds = {"name": name, "displayName": req["displayName"],
                      "metadataSchemaUri": req["metadataSchemaUri"], "createTime": now_rfc3339(),
                      "etag": secrets.token_hex(4), "metadata": req.get("metadata", {})}
                st.datasets[did] = ds
                op = new_op(st, "datasets/%s" % did, location, "CreateDatasetOperationMetadata",
                            dict(ds, **{"@type": "type.googleapis.com/google.cloud.aiplatform.v1.Dataset"}))
            return self.send_json(200, public_op(st, op))
        m = re.fullmatch(r"datasets/(\d+)(:import)?", rest)
        with st.lock:
            ds = st.datasets.get(m.group(1)) if m else None
        if ds is None:
            raise ApiError(404, "Dataset not found.")
        if route == "dataset_import":
            req = self.vertex_json(body, S_IMPORT)
            cfgs = req.get("importConfigs")
            if not cfgs:
                raise bad("importConfigs is required", "importConfigs")
            total = 0
            for i, c in enumerate(cfgs):
                if not c.get("importSchemaUri", "").startswith("gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_"):
                    raise bad("importSchemaUri is invalid", "importConfigs[%d].importSchemaUri" % i)
                uris = c.get("gcsSource", {}).get("uris")
                if not uris:
                    raise bad("gcsSource.uris is required", "importConfigs[%d].gcsSource.uris" % i)
                for u in uris:
                    g = parse_gs(u)
                    if not g:
                        raise bad("Invalid GCS URI %s" % u, "importConfigs[%d].gcsSource.uris" % i)
                    total += count_import_lines(st, g, c["importSchemaUri"])
            with st.lock:
                ds["dataItemCount"] = str(int(ds.get("dataItemCount", "0")) + total)
                op = new_op(st, "datasets/%s" % m.group(1), location, "ImportDataOperationMetadata",
                            {"@type": "type.googleapis.com/google.cloud.aiplatform.v1.ImportDataResponse"})
            return self.send_json(200, public_op(st, op))
        if method == "GET":
            return self.send_json(200, ds)
        raise ApiError(404, "Method not found.")


class _Done(Exception):
    pass


def count_import_lines(st, g, schema):
    """Validates an import file; a missing file or bad line fails the request (400)."""
    b, n = g
    if st.get_meta(b, n) is None:
        raise bad("Import file gs://%s/%s does not exist" % g)
    data = st.read_object(b, n).decode("utf-8", "replace")
    count = 0
    for i, line in enumerate(data.splitlines()):
        if not line.strip():
            continue
        if n.endswith(".csv"):
            cols = line.split(",")
            uri = cols[1] if cols[0] in ("training", "validation", "test") else cols[0]
            if not parse_gs(uri):
                raise bad("line %d: bad GCS path" % (i + 1))
        else:
            try:
                o = json.loads(line)
            except ValueError:
                raise bad("line %d: invalid JSON" % (i + 1))
            if not isinstance(o, dict) or not parse_gs(o.get("imageGcsUri", "")):
                raise bad("line %d: imageGcsUri missing" % (i + 1))
            multi = "multi_label" in schema
            if not multi and "classificationAnnotations" in o:
                raise bad("line %d: several labels need the multi-label schema" % (i + 1))
        count += 1
    return count


def new_op(st, parent, location, mtype, response):
    oid = str(random.randint(10**17, 10**18 - 1))
    name = "projects/%s/locations/%s/%s/operations/%s" % (PROJECT_NUMBER, location, parent, oid)
    op = {"name": name, "_created": time.time(), "_response": response, "_mtype": mtype}
    st.operations["%s/operations/%s" % (parent, oid)] = op
    return op


def public_op(st, op):
    out = {"name": op["name"], "metadata": {
        "@type": "type.googleapis.com/google.cloud.aiplatform.v1." + op["_mtype"],
        "genericMetadata": {"createTime": now_rfc3339(op["_created"]), "updateTime": now_rfc3339()}}}
    if time.time() - op["_created"] >= st.args.job_duration:
        out["done"] = True
        out["response"] = op["_response"]
    return out


def parse_params(params, path):
    if not isinstance(params, dict):
        raise bad("%s must be an object" % path, path)
    thr = params.get("confidenceThreshold", 0.0)
    maxp = params.get("maxPredictions", 10)
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0.0 <= thr <= 1.0:
        raise bad("confidenceThreshold must be a number in [0, 1]", path + ".confidenceThreshold")
    if isinstance(maxp, str) and re.fullmatch(r"\d+", maxp):
        maxp = int(maxp)
    if isinstance(maxp, bool) or not isinstance(maxp, int) or maxp < 1:
        raise bad("maxPredictions must be an integer >= 1", path + ".maxPredictions")
    return thr, maxp


def check_instance(it, path, allow_gs=False, st=None):
    if not isinstance(it, dict):
        raise bad("%s must be an object" % path, path)
    for k in it:
        if k not in ("content", "mimeType"):
            raise bad('Invalid JSON payload received. Unknown name "%s" at \'%s\'' % (k, path), path)
    mime = it.get("mimeType", "image/jpeg")
    if mime not in MIME_TYPES:
        raise bad("Unsupported mimeType %r" % mime, path + ".mimeType")
    c = it.get("content")
    if not isinstance(c, str) or not c:
        raise bad("%s.content is required" % path, path + ".content")
    if allow_gs:
        g = parse_gs(c)
        if not g:
            raise bad("content must be a gs:// URI", path + ".content")
        if st.get_meta(*g) is None:
            raise ApiError(404, "Object %s does not exist" % c)
        img = st.read_object(*g)
    else:
        try:
            img = b64decode_strict(c)
        except (ValueError, binascii.Error):
            raise bad("Invalid base64 in %s.content" % path, path + ".content")
    if len(img) > PAYLOAD_LIMIT:
        raise bad("Image exceeds the limit: %d bytes." % PAYLOAD_LIMIT, path + ".content")
    if mime == "image/jpeg" and not is_complete_jpeg(img):
        raise bad("content is not a complete JPEG image (mimeType image/jpeg)", path + ".content")
    return img


def prediction(img, thr, maxp):
    try:
        scores = classify(img)
    except ValueError as e:
        raise bad(str(e), "content")
    scores = [s for s in scores if s[1] >= thr][:maxp]
    return {"ids": [LABELS[n] for n, _ in scores], "displayNames": [n for n, _ in scores],
            "confidences": [c for _, c in scores]}


def generate_response(st, req, model, fault, batch=False):
    contents = req.get("contents")
    if not contents:
        raise bad("contents must not be empty", "contents")
    images = []
    for ci, c in enumerate(contents):
        parts = c.get("parts")
        if not parts:
            raise bad("contents[%d].parts must not be empty" % ci, "contents[%d].parts" % ci)
        for pi, p in enumerate(parts):
            data_fields = [k for k in ("text", "inlineData", "fileData") if k in p]
            if len(data_fields) != 1:
                raise bad("contents[%d].parts[%d] must hold exactly one of text, inline_data, file_data"
                          % (ci, pi), "contents[%d].parts[%d]" % (ci, pi))
            f = data_fields[0]
            where = "contents[%d].parts[%d]" % (ci, pi)
            if f == "inlineData":
                d = p["inlineData"]
                if d.get("mimeType") not in MIME_TYPES:
                    raise bad("Unsupported mimeType", where + ".inline_data.mime_type")
                try:
                    img = b64decode_strict(d.get("data", ""))
                except (ValueError, binascii.Error):
                    raise bad("Invalid value at '%s.inline_data.data' (TYPE_BYTES), Base64 decoding failed"
                              % where, where + ".inline_data.data")
                if d["mimeType"] == "image/jpeg" and not is_complete_jpeg(img):
                    raise bad("inline_data is not a complete JPEG", where + ".inline_data.data")
                images.append(img)
            elif f == "fileData":
                d = p["fileData"]
                g = parse_gs(d.get("fileUri", ""))
                if not g or d.get("mimeType") not in MIME_TYPES:
                    raise bad("Invalid file_data", where + ".file_data")
                if st.get_meta(*g) is None:
                    raise bad("Cannot fetch content from the provided URL %s" % d["fileUri"],
                              where + ".file_data.file_uri")
                images.append(st.read_object(*g))
    gc = req.get("generationConfig", {})
    enum = None
    try:
        enum = gc["responseSchema"]["properties"]["labels"]["items"]["properties"]["name"]["enum"]
    except (KeyError, TypeError):
        pass
    usage = {"promptTokenCount": 258 * len(images) + 12, "candidatesTokenCount": 0, "totalTokenCount": 0}
    out = {"modelVersion": model, "responseId": secrets.token_hex(8), "usageMetadata": usage}
    if fault.get("blockReason"):
        out["promptFeedback"] = {"blockReason": fault["blockReason"]}
        usage["totalTokenCount"] = usage["promptTokenCount"]
        return out
    labels = []
    if images:
        try:
            scores = classify(images[0])
        except ValueError as e:
            raise bad(str(e), "contents[0].parts")
        for n, c in scores:
            if enum is None or n in enum:
                labels.append({"name": n, "confidence": c})
        labels = labels[:3]
        if not labels and enum and "none" in enum:
            labels = [{"name": "none", "confidence": 1.0}]
    text = json.dumps({"labels": labels}, separators=(",", ":"))
    reason = fault.get("finishReason", "STOP")
    cand = {"finishReason": reason, "safetyRatings": [], "avgLogprobs": -0.1}
    if reason == "MAX_TOKENS":
        cand["content"] = {"role": "model", "parts": [{"text": text[:len(text) // 2]}]}
    elif reason == "STOP":
        cand["content"] = {"role": "model", "parts": [{"text": text}]}
    out["candidates"] = [cand]
    usage["candidatesTokenCount"] = len(text) // 4
    usage["totalTokenCount"] = usage["promptTokenCount"] + usage["candidatesTokenCount"]
    return out


TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_FAILED",
            "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
LABEL_RE = re.compile(r"[a-z0-9_-]{0,63}")
LABEL_KEY_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")


def validate_job(h, req, location):
    st = h.st
    for f in ("displayName", "model", "inputConfig", "outputConfig"):
        if not req.get(f):
            raise bad("%s is required" % f, f)
    ic, oc = req["inputConfig"], req["outputConfig"]
    if ic.get("instancesFormat") != "jsonl":
        raise bad("inputConfig.instancesFormat must be jsonl", "inputConfig.instancesFormat")
    if "gcsSource" not in ic:
        raise bad("inputConfig.gcsSource is required", "inputConfig.gcsSource")
    uris = ic["gcsSource"].get("uris")
    if not uris:
        raise bad("inputConfig.gcsSource.uris must not be empty", "inputConfig.gcsSource.uris")
    for u in uris:
        if not parse_gs(u):
            raise bad("Invalid GCS URI: %s" % u, "inputConfig.gcsSource.uris")
    if oc.get("predictionsFormat") != "jsonl":
        raise bad("outputConfig.predictionsFormat must be jsonl", "outputConfig.predictionsFormat")
    prefix = oc.get("gcsDestination", {}).get("outputUriPrefix")
    if not prefix:
        raise bad("outputConfig.gcsDestination.outputUriPrefix is required",
                  "outputConfig.gcsDestination.outputUriPrefix")
    if not re.fullmatch(r"gs://[a-z0-9][a-z0-9._-]*(/.*)?", prefix):
        raise bad("Invalid GCS URI: %s" % prefix, "outputConfig.gcsDestination.outputUriPrefix")
    for k, v in req.get("labels", {}).items():
        if not LABEL_KEY_RE.fullmatch(k) or not LABEL_RE.fullmatch(v):
            raise bad("Invalid label %s=%s" % (k, v), "labels")
    model = req["model"]
    automl = re.fullmatch(r"projects/(%s|%s)/locations/%s/models/%s" % (PROJECT_ID, PROJECT_NUMBER, LOCATION, MODEL_ID), model)
    gm = re.fullmatch(r"publishers/google/models/(gemini[A-Za-z0-9._-]*)", model)
    om = re.fullmatch(r"publishers/([a-z0-9-]+)/models/([A-Za-z0-9._-]+)", model)
    if automl:
        kind = "automl"
        if "modelParameters" in req:
            parse_params(req["modelParameters"], "modelParameters")
    elif gm:
        kind = "gemini"
    elif om and om.group(1) in ("meta", "qwen", "deepseek-ai", "openai"):
        kind = "openai"
    else:
        raise ApiError(404, "Model %s not found." % model)
    with st.lock:
        jid = str(random.randint(10**17, 10**18 - 1))
        job = dict(req)
        job.update({"name": "projects/%s/locations/%s/batchPredictionJobs/%s" % (PROJECT_NUMBER, location, jid),
                    "state": "JOB_STATE_PENDING", "createTime": now_rfc3339(), "updateTime": now_rfc3339(),
                    "_created": time.time(), "_kind": kind, "_id": jid})
        if automl:
            job["model"] = "projects/%s/locations/%s/models/%s" % (PROJECT_NUMBER, LOCATION, MODEL_ID)
        st.jobs[jid] = job
    return job


def advance_job(st, job):
    if job["state"] in TERMINAL:
        return
    el = time.time() - job["_created"]
    d = st.args.job_duration
    if el < d / 3:
        return
    if el < d:
        if job["state"] != "JOB_STATE_RUNNING":
            job["state"] = "JOB_STATE_RUNNING"
            job["startTime"] = now_rfc3339()
            job["updateTime"] = now_rfc3339()
        return
    run_job(st, job)


def run_job(st, job):
    kind = job["_kind"]
    lines = []
    for u in job["inputConfig"]["gcsSource"]["uris"]:
        g = parse_gs(u)
        if st.get_meta(*g) is None:
            job.update(state="JOB_STATE_FAILED", endTime=now_rfc3339(), updateTime=now_rfc3339(),
                       error={"code": 3, "message": "Input file %s does not exist." % u})
            return
        lines += st.read_object(*g).decode("utf-8", "replace").splitlines()
    lines = [l for l in lines if l.strip()]
    if not lines:
        job.update(state="JOB_STATE_FAILED", endTime=now_rfc3339(), updateTime=now_rfc3339(),
                   error={"code": 3, "message": "Input is empty."})
        return
    thr, maxp = (0.0, 10)
    if kind == "automl" and "modelParameters" in job:
        thr, maxp = parse_params(job["modelParameters"], "modelParameters")
    preds, errs = [], []
    for i, line in enumerate(lines):
        try:
            obj = json.loads(line)
        except ValueError:
            errs.append({"instance": line, "error": {"code": 3, "message": "line %d: invalid JSON" % (i + 1)}})
            continue
        try:
            if not isinstance(obj, dict):
                raise bad("line is not an object")
            if kind == "automl":
                img = check_instance(obj, "instance", allow_gs=True, st=st)
                preds.append({"instance": obj, "prediction": prediction(img, thr, maxp)})
            elif kind == "gemini":
                if not isinstance(obj.get("request"), dict):
                    raise bad("request is missing")
                r = check_schema(obj["request"], S_GENERATE, "request", False)
                resp = generate_response(st, r, job["model"].split("/")[-1], {})
                preds.append({"status": "", "processed_time": datetime.datetime.now(
                    datetime.timezone.utc).isoformat(timespec="milliseconds"), "request": obj["request"],
                    "response": resp})
            else:
                if not isinstance(obj.get("custom_id"), str) or not obj["custom_id"]:
                    raise bad("custom_id is missing")
                if obj.get("method") != "POST" or obj.get("url") != "/v1/chat/completions" or \
                        not isinstance(obj.get("body"), dict) or not obj["body"].get("messages"):
                    raise bad("method, url and body.messages are required")
                preds.append({"custom_id": obj["custom_id"], "response": {
                    "id": "chatcmpl-" + secrets.token_hex(6), "object": "chat.completion",
                    "model": obj["body"].get("model", ""),
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {
                        "role": "assistant", "content": '{"labels":[]}'}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}})
        except ApiError as e:
            code = 5 if e.code == 404 else 3
            if kind == "gemini":
                errs.append({"status": e.message, "processed_time": now_rfc3339(), "request": obj.get("request")})
            else:
                errs.append({"instance": obj, "error": {"code": code, "message": e.message}})
    if not preds:
        job.update(state="JOB_STATE_FAILED", endTime=now_rfc3339(), updateTime=now_rfc3339(),
                   error={"code": 3, "message": "All instances failed."},
                   completionStats={"successfulCount": "0", "failedCount": str(len(errs)), "incompleteCount": "0"})
        return
    prefix = job["outputConfig"]["gcsDestination"]["outputUriPrefix"]
    pb, _, pp = prefix[5:].partition("/")
    if pp and not pp.endswith("/"):
        pp += "/"
    stamp = datetime.datetime.fromtimestamp(job["_created"], datetime.timezone.utc).strftime(
        "%Y_%m_%dT%H_%M_%S_") + "%03dZ" % random.randint(0, 999)
    dname = ("prediction-%s-%s" % (MODEL_DISPLAY, stamp)) if kind == "automl" else "prediction-model-%s" % stamp
    outdir = pp + dname
    if not st.bucket_exists(pb):
        job.update(state="JOB_STATE_FAILED", endTime=now_rfc3339(), error={"code": 5, "message": "Bucket %s not found" % pb})
        return
    suffix = secrets.token_hex(3)
    st.put_object(pb, "%s/predictions_%s_00001.jsonl" % (outdir, suffix),
                  "".join(json.dumps(p) + "\n" for p in preds).encode(), "application/jsonl")
    if errs:
        st.put_object(pb, "%s/errors_%s_00001.jsonl" % (outdir, suffix),
                      "".join(json.dumps(e) + "\n" for e in errs).encode(), "application/jsonl")
    state = "JOB_STATE_SUCCEEDED"
    if errs and kind != "automl":
        state = "JOB_STATE_PARTIALLY_SUCCEEDED"
    job.update(state=state, endTime=now_rfc3339(), updateTime=now_rfc3339(),
               outputInfo={"gcsOutputDirectory": "gs://%s/%s" % (pb, outdir)},
               completionStats={"successfulCount": str(len(preds)), "failedCount": str(len(errs)),
                                "incompleteCount": "0"})
    if errs:
        job["partialFailures"] = [e["error"] if "error" in e else {"code": 3, "message": e["status"]}
                                  for e in errs[:20]]


def public_job(st, job):
    with st.lock:
        advance_job(st, job)
        return {k: v for k, v in job.items() if not k.startswith("_")}


def parse_multipart(ctype, body):
    m = re.match(r"multipart/related\s*;\s*boundary=\"?([^\";]+)\"?", ctype, re.I)
    if not m:
        raise ApiError(400, "Content-Type must be multipart/related with a boundary", "storage", "invalid")
    b = m.group(1).encode()
    delim = b"--" + b
    if not body.startswith(delim + b"\r\n"):
        raise ApiError(400, "Bad multipart body", "storage", "invalid")
    chunks = body.split(b"\r\n" + delim)
    first = chunks[0][len(delim) + 2:]
    if len(chunks) != 3 or not chunks[2].startswith(b"--"):
        raise ApiError(400, "Bad multipart body: expected metadata and media parts", "storage", "invalid")
    parts = []
    for raw in (first, chunks[1].lstrip(b"\r\n") if chunks[1].startswith(b"\r\n") else None):
        if raw is None:
            raise ApiError(400, "Bad multipart body", "storage", "invalid")
        head, sep, data = raw.partition(b"\r\n\r\n")
        if not sep:
            raise ApiError(400, "Bad multipart part headers", "storage", "invalid")
        hdrs = {}
        for l in head.split(b"\r\n"):
            k, _, v = l.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        parts.append((hdrs, data))
    try:
        meta = json.loads(parts[0][1])
        assert isinstance(meta, dict)
    except Exception:
        raise ApiError(400, "Bad multipart metadata JSON", "storage", "parseError")
    return meta, parts[1][1], parts[1][0].get("content-type")


def verify_checksums(meta, data):
    if "crc32c" in meta and meta["crc32c"] != crc32c_b64(data):
        raise ApiError(400, "Provided CRC32C \"%s\" doesn't match calculated CRC32C \"%s\"."
                       % (meta["crc32c"], crc32c_b64(data)), "storage", "invalid")
    if "md5Hash" in meta and meta["md5Hash"] != base64.b64encode(hashlib.md5(data).digest()).decode():
        raise ApiError(400, "Provided MD5 hash doesn't match calculated MD5 hash.", "storage", "invalid")


# ---------------------------------------------------------------- server setup
class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    ssl_ctx = None

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        if isinstance(e, (ConnectionError, ssl.SSLError, socket.timeout, OSError)):
            return  # a client went away: normal on flaky links and in fault tests
        super().handle_error(request, client_address)

    def finish_request(self, request, client_address):
        if self.ssl_ctx is not None:
            request.settimeout(30)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        self.RequestHandlerClass(request, client_address, self)


class Server6(Server):
    address_family = socket.AF_INET6


def make_pki(d):
    """Test CA, server certificate (SAN 127.0.0.1, ::1, localhost), service account key."""
    import ipaddress
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fieldcam test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    srv_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    srv = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
           .issuer_name(ca_name).public_key(srv_key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
           .add_extension(x509.SubjectAlternativeName([
               x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
               x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
           .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(os.path.join(d, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    key_path = os.path.join(d, "server-key.pem")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(srv_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(os.path.join(d, "server-cert.pem"), "wb") as f:
        f.write(srv.public_bytes(pem) + ca.public_bytes(pem))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return sa_key


def main(argv=None):
    ap = argparse.ArgumentParser(description="fieldcam reference endpoint (see tests/endpoint/README.md)")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", type=int, default=0, help="HTTPS port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--http", action="store_true", help="also serve plain HTTP on another port")
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--ipv6", action="store_true", help="also listen on ::1 (same routes, own port)")
    ap.add_argument("--token-lifetime", type=int, default=3600)
    ap.add_argument("--job-duration", type=float, default=3.0,
                    help="seconds from job create to terminal state (PENDING first third, then RUNNING)")
    ap.add_argument("--page-size", type=int, default=3, help="list page size (small: forces paging)")
    ap.add_argument("--faults", help="JSON fault script")
    ap.add_argument("--reject-snake-case", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    d = os.path.abspath(args.state_dir)
    args.state_dir = d
    os.makedirs(d, exist_ok=True)
    st = State(args)
    sa_key = make_pki(d)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(d, "server-cert.pem"), os.path.join(d, "server-key.pem"))
    Handler.st = st
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.ssl_ctx = ctx
    port = srv.server_address[1]
    servers = [srv]
    base = "https://127.0.0.1:%d" % port
    key_id = secrets.token_hex(20)
    client_email = "fieldcam-test@%s.iam.gserviceaccount.com" % PROJECT_ID
    token_uri = base + "/token"
    out = {"port": port, "ca_cert": os.path.join(d, "ca.pem"), "key_file": os.path.join(d, "sa-key.json"),
           "requests_log": st.log_path, "storage_dir": st.objects_dir,
           "control": base + "/_control", "project": PROJECT_ID, "project_number": PROJECT_NUMBER,
           "location": LOCATION,
           "api": {"aiplatform": base, "storage": base, "oauth_token_uri": token_uri},
           "online_endpoint": "projects/%s/locations/%s/endpoints/%s" % (PROJECT_ID, LOCATION, ENDPOINT_ID),
           "gemini_model": "gemini-2.5-flash", "api_key": st.api_key,
           "batch_model": "projects/%s/locations/%s/models/%s" % (PROJECT_ID, LOCATION, MODEL_ID),
           "gemini_batch_model": "publishers/google/models/gemini-2.5-flash",
           "bucket": BUCKET, "labels": sorted(LABELS), "token_lifetime": args.token_lifetime,
           "job_duration": args.job_duration}
    if args.http:
        hs = Server(("127.0.0.1", args.http_port), Handler)
        servers.append(hs)
        out["http_port"] = hs.server_address[1]
        out["http_base"] = "http://127.0.0.1:%d" % hs.server_address[1]
    if args.ipv6:
        s6 = Server6(("::1", 0), Handler)
        s6.ssl_ctx = ctx
        servers.append(s6)
        out["ipv6_port"] = s6.server_address[1]
    for s in servers:
        s.key_id, s.client_email, s.token_uri = key_id, client_email, token_uri
        s.sa_public = sa_key.public_key()
    sa = {"type": "service_account", "project_id": PROJECT_ID, "private_key_id": key_id,
          "private_key": sa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode(),
          "client_email": client_email, "client_id": "100000000000000000001",
          "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
          "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
          "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + client_email,
          "universe_domain": "googleapis.com"}
    fd = os.open(os.path.join(d, "sa-key.json"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(sa, f, indent=2)
    with open(os.path.join(d, "endpoint.json.tmp"), "w") as f:
        json.dump(out, f, indent=2)
    os.replace(os.path.join(d, "endpoint.json.tmp"), os.path.join(d, "endpoint.json"))
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready port=%d state=%s" % (port, os.path.join(d, "endpoint.json")), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
