#!/usr/bin/python3
"""Tests of the reference endpoint: each rejection rule of vertex-api.md §8 is
exercised by a request that must be rejected with the right code and error
shape, and each route serves a good request. Run: /usr/bin/python3 THIS_FILE"""
import base64, hashlib, http.client, io, json, os, shutil, socket, ssl, struct, subprocess
import sys, tempfile, time, unittest, urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import refendpoint  # noqa: E402  (crc32c, classify)

SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def jpeg(color, size=(64, 48)):
    b = io.BytesIO()
    Image.new("RGB", size, color).save(b, "JPEG", quality=90)
    return b.getvalue()


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Endpoint:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="refendpoint-test-")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "refendpoint.py"),
                                      "--state-dir", self.dir] + list(extra),
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.proc.stdout.close()
        assert line.startswith("ready "), line
        with open(os.path.join(self.dir, "endpoint.json")) as f:
            self.info = json.load(f)
        with open(self.info["key_file"]) as f:
            self.sa = json.load(f)
        self.key = serialization.load_pem_private_key(self.sa["private_key"].encode(), None)
        self.ctx = ssl.create_default_context(cafile=self.info["ca_cert"])
        self.port = self.info["port"]

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def conn(self):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=20)

    def req(self, method, path, body=None, headers=None, conn=None, token=True, ctype=None):
        h = dict(headers or {})
        if token is True:
            token = self.token()
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if ctype:
            h["Content-Type"] = ctype
        c = conn or self.conn()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        try:
            j = json.loads(data) if data else None
        except ValueError:
            j = None
        return r.status, j, r, data

    def jwt(self, claims=None, header=None, key=None, drop=()):
        now = int(time.time())
        c = {"iss": self.sa["client_email"], "scope": SCOPE, "aud": self.sa["token_uri"],
             "iat": now, "exp": now + 3600}
        c.update(claims or {})
        for k in drop:
            c.pop(k)
        h = {"alg": "RS256", "typ": "JWT", "kid": self.sa["private_key_id"]}
        h.update(header or {})
        si = b64u(json.dumps(h).encode()) + "." + b64u(json.dumps(c).encode())
        sig = (key or self.key).sign(si.encode(), padding.PKCS1v15(), hashes.SHA256())
        return si + "." + b64u(sig)

    def token_req(self, assertion, grant="urn:ietf:params:oauth:grant-type:jwt-bearer",
                  ctype="application/x-www-form-urlencoded"):
        body = urllib.parse.urlencode({"grant_type": grant, "assertion": assertion}).encode()
        return self.req("POST", "/token", body, token=None, ctype=ctype)

    def token(self):
        s, j, _, _ = self.token_req(self.jwt())
        assert s == 200, j
        return j["access_token"]

    def log(self):
        with open(self.info["requests_log"]) as f:
            return [json.loads(l) for l in f]

    def control(self, method, path, body=None):
        return self.req(method, "/_control/" + path, body, token=None)


EP = None


def setUpModule():
    global EP
    EP = Endpoint("--job-duration", "0.6", "--page-size", "2", "--http")


def tearDownModule():
    EP.close()


V = "/v1/projects/fieldcam-test/locations/us-central1"
PREDICT = V + "/endpoints/1234567890:predict"
GEN = V + "/publishers/google/models/gemini-2.5-flash:generateContent"
UP = "/upload/storage/v1/b/fieldcam-test-bucket/o"
BK = "/storage/v1/b/fieldcam-test-bucket/o"


class Base(unittest.TestCase):
    def setUp(self):
        EP.control("DELETE", "faults")
        self.tok = EP.token()

    def r(self, method, path, body=None, **kw):
        kw.setdefault("token", self.tok)
        return EP.req(method, path, body, **kw)

    def vertex_err(self, resp, code, status):
        s, j = resp[0], resp[1]
        self.assertEqual(s, code, j)
        self.assertEqual(j["error"]["code"], code)
        self.assertEqual(j["error"]["status"], status)
        self.assertIsInstance(j["error"]["message"], str)

    def gcs_err(self, resp, code, reason=None):
        s, j = resp[0], resp[1]
        self.assertEqual(s, code, j)
        self.assertEqual(j["error"]["code"], code)
        self.assertNotIn("status", j["error"])
        if reason:
            self.assertEqual(j["error"]["errors"][0]["reason"], reason)

    def upload(self, name, data, ctype="image/jpeg"):
        q = urllib.parse.urlencode({"uploadType": "media", "name": name, "ifGenerationMatch": "0"})
        s, j, _, _ = self.r("POST", UP + "?" + q, data, ctype=ctype)
        self.assertEqual(s, 200, j)
        return j


class ContractTests(Base):
    def test_state_files(self):
        i = EP.info
        for k in ("port", "ca_cert", "key_file", "requests_log", "online_endpoint", "batch_model", "bucket"):
            self.assertIn(k, i)
        base = "https://127.0.0.1:%d" % i["port"]
        self.assertEqual(i["api"], {"aiplatform": base, "storage": base, "oauth_token_uri": base + "/token"})
        self.assertEqual(EP.sa["type"], "service_account")
        self.assertEqual(EP.sa["token_uri"], base + "/token")
        self.assertTrue(EP.sa["private_key"].startswith("-----BEGIN PRIVATE KEY-----"))
        self.assertEqual(oct(os.stat(i["key_file"]).st_mode & 0o777), "0o600")
        ep = "/v1/" + i["online_endpoint"] + ":predict"
        b = {"instances": [{"content": base64.b64encode(jpeg((255, 255, 255))).decode()}]}
        s, j, _, _ = self.r("POST", ep, b)
        self.assertEqual(j["predictions"][0]["displayNames"][:2], ["bright", "neutral"])


class TokenTests(Base):
    def test_good_grant(self):
        s, j, _, _ = EP.token_req(EP.jwt())
        self.assertEqual(s, 200)
        self.assertEqual(j["token_type"], "Bearer")
        self.assertTrue(j["access_token"].startswith("ya29."))
        self.assertGreater(j["expires_in"], 3000)

    def check_bad(self, resp, err="invalid_grant"):
        self.assertEqual(resp[0], 400, resp[1])
        self.assertEqual(resp[1]["error"], err)
        self.assertIn("error_description", resp[1])

    def test_rejections(self):
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = int(time.time())
        self.check_bad(EP.token_req(EP.jwt(key=other)))
        self.assertEqual(EP.token_req(EP.jwt(key=other))[1]["error_description"], "Invalid JWT Signature.")
        self.check_bad(EP.token_req(EP.jwt(header={"kid": "nope"})))
        self.check_bad(EP.token_req(EP.jwt(header={"alg": "HS256"})))
        self.check_bad(EP.token_req(EP.jwt({"iss": "x@y.iam.gserviceaccount.com"})), "invalid_client")
        self.check_bad(EP.token_req(EP.jwt({"aud": "https://oauth2.googleapis.com/token"})))
        self.check_bad(EP.token_req(EP.jwt({"scope": "https://www.googleapis.com/auth/devstorage"})), "invalid_scope")
        self.check_bad(EP.token_req(EP.jwt(drop=("scope",))), "invalid_scope")
        self.check_bad(EP.token_req(EP.jwt({"iat": now, "exp": now + 3601})))
        self.check_bad(EP.token_req(EP.jwt({"iat": now + 600, "exp": now + 1200})))
        self.check_bad(EP.token_req(EP.jwt({"iat": now - 7200, "exp": now - 3600})))
        self.check_bad(EP.token_req(EP.jwt({"iat": str(now)})))
        self.check_bad(EP.token_req("a.b"))
        good = EP.jwt()
        h, c, sg = good.split(".")
        self.check_bad(EP.token_req(h + "." + c + "." + sg[:-4] + "AAAA"))
        self.check_bad(EP.token_req(good, grant="client_credentials"), "unsupported_grant_type")
        self.check_bad(EP.token_req(good, ctype="application/json"), "invalid_request")
        s, _, _, _ = EP.req("GET", "/token", token=None)
        self.assertEqual(s, 405)


class AuthTests(Base):
    def test_missing_unknown_expired(self):
        img = base64.b64encode(jpeg((200, 0, 0))).decode()
        body = {"instances": [{"content": img, "mimeType": "image/jpeg"}]}
        for tok in (None, "ya29.unknown"):
            resp = EP.req("POST", PREDICT, body, token=tok)
            self.vertex_err(resp, 401, "UNAUTHENTICATED")
            self.assertIn('error="invalid_token"', resp[2].getheader("WWW-Authenticate"))
        resp = EP.req("GET", BK, token=None)
        self.gcs_err(resp, 401, "required")
        self.assertIn('error="invalid_token"', resp[2].getheader("WWW-Authenticate"))
        self.assertEqual(self.r("POST", PREDICT, body)[0], 200)
        EP.control("POST", "expire")
        self.vertex_err(self.r("POST", PREDICT, body), 401, "UNAUTHENTICATED")
        tok = EP.token()
        self.assertEqual(EP.req("POST", PREDICT, body, token=tok)[0], 200)
        EP.control("POST", "revoke")
        self.vertex_err(EP.req("POST", PREDICT, body, token=tok), 401, "UNAUTHENTICATED")

    def test_short_lifetime(self):
        e = Endpoint("--token-lifetime", "1")
        try:
            t = e.token()
            self.assertEqual(e.req("GET", BK, token=t)[0], 200)
            time.sleep(1.2)
            s, j, _, _ = e.req("GET", BK, token=t)
            self.assertEqual(s, 401)
            self.assertEqual(e.req("GET", BK)[0], 200)
        finally:
            e.close()


class PredictTests(Base):
    def body(self, data, **params):
        b = {"instances": [{"content": base64.b64encode(data).decode(), "mimeType": "image/jpeg"}]}
        if params:
            b["parameters"] = params
        return b

    def test_good_and_scene_dependent(self):
        s, j, r, _ = self.r("POST", PREDICT, self.body(jpeg((230, 20, 20))))
        self.assertEqual(s, 200, j)
        p = j["predictions"][0]
        self.assertEqual(p["displayNames"][0], "red")
        self.assertEqual(len(p["ids"]), len(p["confidences"]))
        self.assertTrue(all(isinstance(i, str) and len(i) == 19 for i in p["ids"]))
        for k in ("deployedModelId", "model", "modelDisplayName", "modelVersionId"):
            self.assertIn(k, j)
        self.assertTrue(j["model"].startswith("projects/123456789/"))
        s, j2, _, _ = self.r("POST", PREDICT, self.body(jpeg((10, 10, 200))))
        self.assertEqual(j2["predictions"][0]["displayNames"][0], "blue")
        s, j3, _, _ = self.r("POST", PREDICT, self.body(jpeg((5, 5, 5))))
        self.assertEqual(set(j3["predictions"][0]["displayNames"][:2]), {"dark", "neutral"})
        # deterministic
        s, j4, _, _ = self.r("POST", PREDICT, self.body(jpeg((230, 20, 20))))
        self.assertEqual(j4["predictions"], j["predictions"])

    def test_threshold_and_max(self):
        s, j, _, _ = self.r("POST", PREDICT, self.body(jpeg((230, 20, 20)), confidenceThreshold=0.5,
                                                       maxPredictions=1))
        self.assertEqual(s, 200)
        self.assertEqual(len(j["predictions"][0]["displayNames"]), 1)
        s, j, _, _ = self.r("POST", PREDICT, self.body(jpeg((128, 128, 128)), confidenceThreshold=0.5))
        self.assertTrue(all(c >= 0.5 for c in j["predictions"][0]["confidences"]))
        s, j, _, _ = self.r("POST", PREDICT, self.body(jpeg((230, 20, 20)), confidenceThreshold=1.0))
        self.assertEqual(j["predictions"][0]["displayNames"], [])

    def test_keepalive_and_chunked(self):
        c = EP.conn()
        for _ in range(3):
            s, _, _, _ = self.r("POST", PREDICT, self.body(jpeg((0, 200, 0))), conn=c)
            self.assertEqual(s, 200)
        body = json.dumps(self.body(jpeg((0, 200, 0)))).encode()
        c.putrequest("POST", PREDICT)
        c.putheader("Authorization", "Bearer " + self.tok)
        c.putheader("Content-Type", "application/json")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        for i in range(0, len(body), 1000):
            part = body[i:i + 1000]
            c.send(b"%x\r\n" % len(part) + part + b"\r\n")
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.read())["predictions"][0]["displayNames"][0], "green")
        c.close()

    def test_rejections(self):
        good = jpeg((200, 0, 0))
        b64 = base64.b64encode(good).decode()
        cases = [
            {"instances": []},
            {"instances": [{"mimeType": "image/jpeg"}]},
            {"instances": [{"content": "", "mimeType": "image/jpeg"}]},
            {"instances": [{"content": "!!notbase64", "mimeType": "image/jpeg"}]},
            {"instances": [{"content": base64.b64encode(b"\x89PNG\r\n\x1a\n....").decode(), "mimeType": "image/jpeg"}]},
            {"instances": [{"content": base64.b64encode(good[:len(good) // 2]).decode(), "mimeType": "image/jpeg"}]},
            {"instances": [{"content": b64, "mimeType": "image/x-raw"}]},
            {"instances": [{"content": b64}], "parameters": {"confidenceThreshold": 1.5}},
            {"instances": [{"content": b64}], "parameters": {"confidenceThreshold": "x"}},
            {"instances": [{"content": b64}], "parameters": {"maxPredictions": 0}},
            {"instances": [{"content": b64}], "foo": 1},
            {"instances": {"content": b64}},
        ]
        for c in cases:
            with self.subTest(c=json.dumps(c)[:80]):
                self.vertex_err(self.r("POST", PREDICT, c), 400, "INVALID_ARGUMENT")
        resp = self.r("POST", PREDICT, {"instances": [{"content": b64}], "foo": 1})
        self.assertIn('Unknown name "foo"', resp[1]["error"]["message"])
        self.assertEqual(resp[1]["error"]["details"][0]["@type"], "type.googleapis.com/google.rpc.BadRequest")
        self.vertex_err(self.r("POST", PREDICT, b"{not json", ctype="application/json"), 400, "INVALID_ARGUMENT")
        self.vertex_err(self.r("POST", PREDICT, b"[1]", ctype="application/json"), 400, "INVALID_ARGUMENT")
        self.vertex_err(self.r("POST", PREDICT, json.dumps(self.body(good)).encode(), ctype="text/plain"),
                        400, "INVALID_ARGUMENT")
        big = {"instances": [{"content": "A" * 1600000, "mimeType": "image/jpeg"}]}
        resp = self.r("POST", PREDICT, big)
        self.vertex_err(resp, 400, "INVALID_ARGUMENT")
        self.assertIn("1572864", resp[1]["error"]["message"])
        self.vertex_err(self.r("POST", V + "/endpoints/999:predict", self.body(good)), 404, "NOT_FOUND")

    def test_snake_case(self):
        b = {"instances": [{"content": base64.b64encode(jpeg((1, 2, 200))).decode()}],
             "parameters": {"confidenceThreshold": 0.1}}
        self.assertEqual(self.r("POST", PREDICT, b)[0], 200)
        e = Endpoint("--reject-snake-case")
        try:
            s, j, _, _ = e.req("POST", V + "/batchPredictionJobs", {"display_name": "x"})
            self.assertEqual(s, 400)
            self.assertIn("display_name", j["error"]["message"])
        finally:
            e.close()


class GeminiTests(Base):
    def body(self, parts, schema=True):
        b = {"contents": [{"role": "user", "parts": parts}],
             "generationConfig": {"temperature": 0, "maxOutputTokens": 256, "responseMimeType": "application/json",
                                  "thinkingConfig": {"thinkingBudget": 0}}}
        if schema:
            b["generationConfig"]["responseSchema"] = {"type": "OBJECT", "properties": {"labels": {
                "type": "ARRAY", "items": {"type": "OBJECT", "properties": {
                    "name": {"type": "STRING", "enum": ["green", "red", "none"]},
                    "confidence": {"type": "NUMBER"}}}}}}
        return b

    def inline(self, data):
        return {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(data).decode()}}

    def test_good(self):
        s, j, _, _ = self.r("POST", GEN, self.body([self.inline(jpeg((10, 220, 10))), {"text": "Classify."}]))
        self.assertEqual(s, 200, j)
        c = j["candidates"][0]
        self.assertEqual(c["finishReason"], "STOP")
        labels = json.loads("".join(p["text"] for p in c["content"]["parts"]))["labels"]
        self.assertEqual(labels[0]["name"], "green")
        self.assertTrue(all(l["name"] in ("green", "red", "none") for l in labels))
        self.assertIn("usageMetadata", j)
        # by gs:// URI
        self.upload("gem/a.jpg", jpeg((230, 0, 0)))
        s, j, _, _ = self.r("POST", GEN, self.body([{"fileData": {"mimeType": "image/jpeg",
            "fileUri": "gs://fieldcam-test-bucket/gem/a.jpg"}}, {"text": "Classify."}]))
        self.assertEqual(s, 200, j)
        self.assertIn('"red"', j["candidates"][0]["content"]["parts"][0]["text"])

    def test_rejections(self):
        img = self.inline(jpeg((1, 1, 1)))
        cases = [
            {"contents": []},
            {"contents": [{"role": "user", "parts": []}]},
            {"contents": [{"role": "user", "parts": [{}]}]},
            {"contents": [{"role": "user", "parts": [dict(img, text="x")]}]},
            {"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://fieldcam-test-bucket/none.jpg"}}]}]},
            {"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x/a.jpg"}}]}]},
            {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/jpeg", "data": "@@@"}}]}]},
            {"contents": [{"role": "user", "parts": [img]}], "generationConfig": {"temperature": "hot"}},
            {"contents": [{"role": "user", "parts": [img]}], "generationConfig": {"bogus": 1}},
        ]
        for c in cases:
            with self.subTest(c=json.dumps(c)[:90]):
                self.vertex_err(self.r("POST", GEN, c), 400, "INVALID_ARGUMENT")
        resp = self.r("POST", GEN, cases[6])
        self.assertIn("contents[0].parts[0].inline_data.data", resp[1]["error"]["message"])
        self.vertex_err(self.r("POST", V + "/publishers/google/models/nope:generateContent", cases[0]), 404, "NOT_FOUND")

    def test_express_mode(self):
        """API key on the global path, no project or location; Google's answers to a bad key."""
        key = EP.info["api_key"]
        self.assertTrue(key.startswith("AIza") and len(key) == 39)
        b = self.body([self.inline(jpeg((10, 220, 10))), {"text": "Classify."}])
        xp = "/v1/publishers/google/models/gemini-2.5-flash:generateContent"
        s, j, _, _ = EP.req("POST", xp + "?key=" + key, b, token=None)
        self.assertEqual(s, 200, j)
        self.assertIn('"green"', j["candidates"][0]["content"]["parts"][0]["text"])
        rec = EP.log()[-1]
        self.assertEqual((rec["auth"], rec["query"]["key"]), ("api_key", ["<redacted>"]))
        with open(EP.info["requests_log"]) as f:
            self.assertNotIn(key, f.read())
        resp = EP.req("POST", xp + "?key=AIzaNotTheKey", b, token=None)
        self.vertex_err(resp, 400, "INVALID_ARGUMENT")
        self.assertEqual(resp[1]["error"]["message"], "API key not valid. Please pass a valid API key.")
        info = [d for d in resp[1]["error"]["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
        self.assertEqual(info[0]["reason"], "API_KEY_INVALID")
        self.vertex_err(EP.req("POST", xp, b, token=None), 401, "UNAUTHENTICATED")
        self.vertex_err(self.r("POST", xp, b), 404, "NOT_FOUND")
        self.vertex_err(EP.req("POST", "/v1/publishers/google/models/nope:generateContent?key=" + key, b,
                               token=None), 404, "NOT_FOUND")
        self.vertex_err(EP.req("POST", "/v1/publishers/google/models/gemini-2.5-flash:predict?key=" + key, b,
                               token=None), 404, "NOT_FOUND")
        # keys are for express mode only: the regional routes want a token
        resp = EP.req("POST", GEN + "?key=" + key, b, token=None)
        self.vertex_err(resp, 401, "UNAUTHENTICATED")
        self.assertIn("API keys are not supported", resp[1]["error"]["message"])

    def test_scripted(self):
        b = self.body([self.inline(jpeg((10, 220, 10)))])
        EP.control("POST", "faults", [{"route": "generateContent", "nth": 1, "status": 429},
                                      {"route": "generateContent", "nth": 2, "finishReason": "SAFETY"},
                                      {"route": "generateContent", "nth": 3, "finishReason": "MAX_TOKENS"},
                                      {"route": "generateContent", "nth": 4, "blockReason": "PROHIBITED_CONTENT"}])
        resp = self.r("POST", GEN, b)
        self.vertex_err(resp, 429, "RESOURCE_EXHAUSTED")
        j = self.r("POST", GEN, b)[1]
        self.assertEqual(j["candidates"][0]["finishReason"], "SAFETY")
        self.assertNotIn("content", j["candidates"][0])
        j = self.r("POST", GEN, b)[1]
        self.assertEqual(j["candidates"][0]["finishReason"], "MAX_TOKENS")
        with self.assertRaises(ValueError):
            json.loads(j["candidates"][0]["content"]["parts"][0]["text"])
        j = self.r("POST", GEN, b)[1]
        self.assertNotIn("candidates", j)
        self.assertEqual(j["promptFeedback"]["blockReason"], "PROHIBITED_CONTENT")
        self.assertEqual(self.r("POST", GEN, b)[1]["candidates"][0]["finishReason"], "STOP")


class StorageTests(Base):
    def test_media_get_list_412(self):
        data = jpeg((9, 9, 9))
        meta = self.upload("st/one.jpg", data)
        self.assertEqual(meta["size"], str(len(data)))
        self.assertEqual(meta["crc32c"], base64.b64encode(struct.pack(">I", refendpoint.crc32c(data))).decode())
        self.assertEqual(meta["md5Hash"], base64.b64encode(hashlib.md5(data).digest()).decode())
        self.assertIsInstance(meta["generation"], str)
        q = urllib.parse.urlencode({"uploadType": "media", "name": "st/one.jpg", "ifGenerationMatch": "0"})
        self.gcs_err(self.r("POST", UP + "?" + q, b"other", ctype="image/jpeg"), 412, "conditionNotMet")
        enc = urllib.parse.quote("st/one.jpg", safe="")
        s, j, _, _ = self.r("GET", BK + "/" + enc)
        self.assertEqual((s, j["size"], j["crc32c"]), (200, meta["size"], meta["crc32c"]))
        s, _, _, raw = self.r("GET", BK + "/" + enc + "?alt=media")
        self.assertEqual((s, raw), (200, data))
        self.gcs_err(self.r("GET", BK + "/st/one.jpg"), 404)
        self.gcs_err(self.r("GET", BK + "/" + urllib.parse.quote("st/none.jpg", safe="")), 404, "notFound")
        self.gcs_err(self.r("GET", "/storage/v1/b/nobucket/o"), 404, "notFound")
        for i in range(4):
            self.upload("lst/%d.jpg" % i, jpeg((i, i, i)))
        names, tok = [], None
        pages = 0
        while True:
            s, j, _, _ = self.r("GET", BK + "?prefix=lst/" + ("&pageToken=" + tok if tok else ""))
            self.assertEqual(j["kind"], "storage#objects")
            names += [o["name"] for o in j.get("items", [])]
            pages += 1
            tok = j.get("nextPageToken")
            if not tok:
                break
        self.assertEqual(names, ["lst/%d.jpg" % i for i in range(4)])
        self.assertGreater(pages, 1)
        s, j, _, _ = self.r("GET", BK + "?prefix=empty/")
        self.assertNotIn("items", j)

    def multipart(self, meta, data, boundary="B0undary"):
        b = boundary.encode()
        return (b"--" + b + b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" + json.dumps(meta).encode()
                + b"\r\n--" + b + b"\r\nContent-Type: image/jpeg\r\n\r\n" + data + b"\r\n--" + b + b"--\r\n")

    def test_multipart(self):
        data = jpeg((1, 100, 1))
        crc = refendpoint.crc32c_b64(data)
        url = UP + "?uploadType=multipart&ifGenerationMatch=0"
        ct = "multipart/related; boundary=B0undary"
        s, j, _, _ = self.r("POST", url, self.multipart({"name": "mp/a.jpg", "contentType": "image/jpeg", "crc32c": crc}, data), ctype=ct)
        self.assertEqual(s, 200, j)
        self.assertEqual(j["crc32c"], crc)
        self.gcs_err(self.r("POST", url, self.multipart({"name": "mp/b.jpg", "crc32c": "AAAAAA=="}, data), ctype=ct), 400)
        self.gcs_err(self.r("POST", url, self.multipart({"name": "mp/b.jpg", "md5Hash": "AAAAAAAAAAAAAAAAAAAAAA=="}, data), ctype=ct), 400)
        self.gcs_err(self.r("POST", url, self.multipart({"contentType": "image/jpeg"}, data), ctype=ct), 400, "required")
        self.gcs_err(self.r("POST", url, b"garbage", ctype=ct), 400)
        self.gcs_err(self.r("POST", url, self.multipart({"name": "mp/c.jpg"}, data), ctype="image/jpeg"), 400)
        self.gcs_err(self.r("POST", url, self.multipart({"name": "mp/a.jpg"}, data), ctype=ct), 412, "conditionNotMet")

    def test_upload_rejections(self):
        self.gcs_err(self.r("POST", UP + "?uploadType=media", b"x", ctype="image/jpeg"), 400, "required")
        self.gcs_err(self.r("POST", UP + "?uploadType=bogus&name=a", b"x", ctype="image/jpeg"), 400)
        self.gcs_err(self.r("POST", "/upload/storage/v1/b/nobucket/o?uploadType=media&name=a", b"x"), 404)
        # Content-Length larger than the body: the server must not store a short object
        c = socket.create_connection(("127.0.0.1", EP.port))
        s = EP.ctx.wrap_socket(c, server_hostname="127.0.0.1")
        s.sendall(("POST %s?uploadType=media&name=cl/short.jpg HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Length: 100\r\n\r\nabc" % (UP, self.tok)).encode())
        s.shutdown(socket.SHUT_WR)
        s.recv(100)
        s.close()
        time.sleep(0.2)
        self.gcs_err(self.r("GET", BK + "/" + urllib.parse.quote("cl/short.jpg", safe="")), 404)
        # a bad Content-Length value
        c = socket.create_connection(("127.0.0.1", EP.port))
        s = EP.ctx.wrap_socket(c, server_hostname="127.0.0.1")
        s.sendall(("POST %s?uploadType=media&name=cl/bad.jpg HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Length: 1x\r\n\r\nabc" % (UP, self.tok)).encode())
        self.assertIn(b" 400 ", s.recv(200))
        s.close()

    def test_resumable(self):
        data = os.urandom(262144 * 2 + 1000)
        url = UP + "?uploadType=resumable&name=" + urllib.parse.quote("rs/big.bin", safe="") + "&ifGenerationMatch=0"
        s, j, r, _ = self.r("POST", url, {"contentType": "application/octet-stream"},
                            headers={"X-Upload-Content-Length": str(len(data))})
        self.assertEqual(s, 200, j)
        loc = r.getheader("Location")
        self.assertIn("upload_id=", loc)
        path = loc.split(str(EP.port), 1)[1]
        put = lambda body, cr: self.r("PUT", path, body, headers={"Content-Range": cr})
        s, _, r, _ = put(b"", "bytes */%d" % len(data))
        self.assertEqual(s, 308)
        self.assertIsNone(r.getheader("Range"))
        self.gcs_err(put(data[:1000], "bytes 0-999/*"), 400)            # not a multiple
        s, _, r, _ = put(data[:262144], "bytes 0-262143/*")
        self.assertEqual((s, r.getheader("Range")), (308, "bytes=0-262143"))
        self.gcs_err(put(data[:262144], "bytes 0-262143/*"), 400)       # not at the persisted offset
        self.gcs_err(put(data[262144:262144 * 2 + 1000] + b"xx", "bytes 262144-525289/%d" % len(data)), 400)  # past total
        s, _, r, _ = put(b"", "bytes */%d" % len(data))
        self.assertEqual((s, r.getheader("Range")), (308, "bytes=0-262143"))
        # the reply to this chunk is lost; the status query finds it persisted
        EP.control("POST", "faults", [{"route": "upload_put", "nth": 1, "storeThenDrop": True}])
        with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError, OSError)):
            put(data[262144:524288], "bytes 262144-524287/*")
        s, _, r, _ = put(b"", "bytes */%d" % len(data))
        self.assertEqual((s, r.getheader("Range")), (308, "bytes=0-524287"))
        s, j, _, _ = put(data[524288:], "bytes 524288-%d/%d" % (len(data) - 1, len(data)))
        self.assertEqual(s, 200, j)
        self.assertEqual(j["size"], str(len(data)))
        s, _, _, raw = self.r("GET", BK + "/" + urllib.parse.quote("rs/big.bin", safe="") + "?alt=media")
        self.assertEqual(raw, data)
        s, j, _, _ = put(b"", "bytes */%d" % len(data))
        self.assertEqual(s, 200)
        # cancel, dead session, existing object
        s, j, r, _ = self.r("POST", UP + "?uploadType=resumable&name=rs/c.bin")
        p2 = r.getheader("Location").split(str(EP.port), 1)[1]
        self.gcs_err(self.r("DELETE", p2), 499)
        self.gcs_err(self.r("PUT", p2, b"", headers={"Content-Range": "bytes */10"}), 404)
        self.gcs_err(self.r("PUT", UP + "?uploadType=resumable&upload_id=nope", b"", headers={"Content-Range": "bytes */10"}), 404)
        self.gcs_err(self.r("POST", url), 412, "conditionNotMet")


class FaultTests(Base):
    def test_status_retry_after_delay_reset_truncate(self):
        EP.control("POST", "faults", [{"route": "object_list", "nth": 1, "status": 503, "retryAfter": 7},
                                      {"route": "object_list", "nth": 2, "delay": 0.5},
                                      {"route": "object_list", "nth": 3, "reset": True},
                                      {"route": "object_list", "nth": 4, "truncate": 5}])
        resp = self.r("GET", BK)
        self.gcs_err(resp, 503)
        self.assertEqual(resp[2].getheader("Retry-After"), "7")
        t = time.time()
        self.assertEqual(self.r("GET", BK)[0], 200)
        self.assertGreaterEqual(time.time() - t, 0.45)
        with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError, OSError)):
            self.r("GET", BK)
        with self.assertRaises((http.client.IncompleteRead, ConnectionError, ssl.SSLError, OSError)):
            self.r("GET", BK)
        self.assertEqual(self.r("GET", BK)[0], 200)

    def test_fault_file_and_expired_token(self):
        d = tempfile.mkdtemp(prefix="refendpoint-faults-")
        fp = os.path.join(d, "faults.json")
        with open(fp, "w") as f:
            json.dump({"faults": [{"route": "predict", "nth": 2, "expireToken": True},
                                  {"route": "upload", "nth": 1, "storeThenDrop": True}]}, f)
        e = Endpoint("--faults", fp)
        try:
            t = e.token()
            b = {"instances": [{"content": base64.b64encode(jpeg((1, 1, 1))).decode()}]}
            self.assertEqual(e.req("POST", PREDICT, b, token=t)[0], 200)
            self.assertEqual(e.req("POST", PREDICT, b, token=t)[0], 401)
            with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError, OSError)):
                e.req("POST", UP + "?uploadType=media&name=x.jpg&ifGenerationMatch=0", b"abc", ctype="image/jpeg")
            s, j, _, _ = e.req("GET", BK + "/x.jpg")
            self.assertEqual((s, j["size"]), (200, "3"))   # stored although the reply was lost
            self.assertEqual(e.req("POST", UP + "?uploadType=media&name=x.jpg&ifGenerationMatch=0", b"abc")[0], 412)
        finally:
            e.close()
            shutil.rmtree(d)

    def test_request_log(self):
        self.r("GET", BK + "?prefix=logcheck/")
        recs = [r for r in EP.log() if r["path"] == BK and r["query"].get("prefix") == ["logcheck/"]]
        self.assertEqual(len(recs), 1)
        r = recs[0]
        self.assertEqual((r["method"], r["status"], r["route"]), ("GET", 200, "object_list"))
        self.assertEqual(r["headers"]["Authorization"], "<redacted>")
        self.assertNotIn(self.tok, json.dumps(EP.log()))

    def test_plain_http(self):
        c = http.client.HTTPConnection("127.0.0.1", EP.info["http_port"], timeout=10)
        c.request("GET", BK, headers={"Authorization": "Bearer " + self.tok})
        self.assertEqual(c.getresponse().status, 200)


class BatchTests(Base):
    def job(self, **over):
        b = {"displayName": "fieldcam-cam07-1-0003", "model": "projects/fieldcam-test/locations/us-central1/models/7770000000000000000",
             "modelParameters": {"confidenceThreshold": 0.0, "maxPredictions": 3},
             "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": ["gs://fieldcam-test-bucket/b/in.jsonl"]}},
             "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "gs://fieldcam-test-bucket/b/out/"}},
             "labels": {"fieldcam_batch": "cam07-1-0003"}}
        b.update(over)
        return b

    def wait(self, name):
        for _ in range(50):
            s, j, _, _ = self.r("GET", "/v1/" + name)
            self.assertEqual(s, 200)
            if j["state"] in refendpoint.TERMINAL:
                return j
            time.sleep(0.1)
        self.fail("job did not finish")

    def outputs(self, job):
        d = job["outputInfo"]["gcsOutputDirectory"]
        b, p = d[5:].split("/", 1)
        s, j, _, _ = self.r("GET", "/storage/v1/b/%s/o?prefix=%s/" % (b, urllib.parse.quote(p, safe="")))
        res = {}
        tok = None
        items = []
        while True:
            s, j, _, _ = self.r("GET", "/storage/v1/b/%s/o?prefix=%s/%s" % (b, urllib.parse.quote(p, safe=""),
                                                                            "&pageToken=" + tok if tok else ""))
            items += j.get("items", [])
            tok = j.get("nextPageToken")
            if not tok:
                break
        for o in items:
            s, _, _, raw = self.r("GET", "/storage/v1/b/%s/o/%s?alt=media" % (b, urllib.parse.quote(o["name"], safe="")))
            res[o["name"].rsplit("/", 1)[1]] = [json.loads(l) for l in raw.decode().splitlines()]
        return res

    def test_automl_job(self):
        self.upload("b/r.jpg", jpeg((220, 10, 10)))
        self.upload("b/bad.jpg", b"not a jpeg at all")
        lines = [{"content": "gs://fieldcam-test-bucket/b/r.jpg", "mimeType": "image/jpeg"},
                 {"content": "gs://fieldcam-test-bucket/b/missing.jpg", "mimeType": "image/jpeg"},
                 {"content": "gs://fieldcam-test-bucket/b/bad.jpg", "mimeType": "image/jpeg"}]
        self.upload("b/in.jsonl", ("".join(json.dumps(l) + "\n" for l in lines) + "{broken\n").encode(), "application/jsonl")
        s, j, _, _ = self.r("POST", V + "/batchPredictionJobs", self.job())
        self.assertEqual(s, 200, j)
        self.assertEqual(j["state"], "JOB_STATE_PENDING")
        self.assertTrue(j["name"].startswith("projects/123456789/locations/us-central1/batchPredictionJobs/"))
        j = self.wait(j["name"])
        self.assertEqual(j["state"], "JOB_STATE_SUCCEEDED")
        self.assertEqual(j["completionStats"], {"successfulCount": "1", "failedCount": "3", "incompleteCount": "0"})
        d = j["outputInfo"]["gcsOutputDirectory"]
        self.assertTrue(d.startswith("gs://fieldcam-test-bucket/b/out/prediction-"))
        out = self.outputs(j)
        preds = [v for k, v in out.items() if k.startswith("predictions") and k.endswith(".jsonl")]
        errs = [v for k, v in out.items() if k.startswith("errors") and k.endswith(".jsonl")]
        self.assertEqual(len(preds[0]), 1)
        self.assertEqual(preds[0][0]["instance"]["content"], "gs://fieldcam-test-bucket/b/r.jpg")
        self.assertEqual(preds[0][0]["prediction"]["displayNames"][0], "red")
        self.assertEqual(len(errs[0]), 3)
        self.assertTrue(all(e["error"]["code"] in (3, 5) for e in errs[0]))
        # list with filter and paging
        for i in range(2):
            self.assertEqual(self.r("POST", V + "/batchPredictionJobs", self.job(labels={"fieldcam_batch": "lst"}))[0], 200)
        names, tok = [], None
        while True:
            q = urllib.parse.urlencode(dict(filter='labels.fieldcam_batch="lst"', **({"pageToken": tok} if tok else {})))
            s, j2, _, _ = self.r("GET", V + "/batchPredictionJobs?" + q)
            names += [x["name"] for x in j2.get("batchPredictionJobs", [])]
            tok = j2.get("nextPageToken")
            if not tok:
                break
        self.assertEqual(len(names), 2)
        s, j2, _, _ = self.r("GET", V + "/batchPredictionJobs?" + urllib.parse.urlencode({"filter": 'display_name="nomatch"'}))
        self.assertNotIn("batchPredictionJobs", j2)
        # cancel
        s, j3, _, _ = self.r("POST", V + "/batchPredictionJobs", self.job())
        self.assertEqual(self.r("POST", "/v1/" + j3["name"] + ":cancel", {})[:2], (200, {}))
        self.assertEqual(self.r("GET", "/v1/" + j3["name"])[1]["state"], "JOB_STATE_CANCELLED")

    def test_failed_jobs(self):
        s, j, _, _ = self.r("POST", V + "/batchPredictionJobs", self.job(
            inputConfig={"instancesFormat": "jsonl", "gcsSource": {"uris": ["gs://fieldcam-test-bucket/b/none.jsonl"]}}))
        self.assertEqual(s, 200)
        self.assertEqual(self.wait(j["name"])["state"], "JOB_STATE_FAILED")
        self.upload("b/empty.jsonl", b"", "application/jsonl")
        s, j, _, _ = self.r("POST", V + "/batchPredictionJobs", self.job(
            inputConfig={"instancesFormat": "jsonl", "gcsSource": {"uris": ["gs://fieldcam-test-bucket/b/empty.jsonl"]}}))
        j = self.wait(j["name"])
        self.assertEqual((j["state"], j["error"]["code"]), ("JOB_STATE_FAILED", 3))

    def test_gemini_and_openai_jobs(self):
        self.upload("g/a.jpg", jpeg((0, 0, 230)))
        ok = {"request": {"contents": [{"role": "user", "parts": [
            {"fileData": {"fileUri": "gs://fieldcam-test-bucket/g/a.jpg", "mimeType": "image/jpeg"}}, {"text": "Classify"}]}],
            "generationConfig": {"responseMimeType": "application/json"}}}
        missing = json.loads(json.dumps(ok))
        missing["request"]["contents"][0]["parts"][0]["fileData"]["fileUri"] = "gs://fieldcam-test-bucket/g/none.jpg"
        self.upload("g/in.jsonl", (json.dumps(ok) + "\n" + json.dumps(missing) + "\n" + '{"x": 1}\n').encode())
        body = self.job(model="publishers/google/models/gemini-2.5-flash",
                        inputConfig={"instancesFormat": "jsonl", "gcsSource": {"uris": ["gs://fieldcam-test-bucket/g/in.jsonl"]}})
        del body["modelParameters"]
        s, j, _, _ = self.r("POST", V + "/batchPredictionJobs", body)
        self.assertEqual(s, 200, j)
        j = self.wait(j["name"])
        self.assertEqual(j["state"], "JOB_STATE_PARTIALLY_SUCCEEDED")
        self.assertIn("prediction-model-", j["outputInfo"]["gcsOutputDirectory"])
        out = self.outputs(j)
        p = [v for k, v in out.items() if k.startswith("predictions")][0]
        self.assertEqual(p[0]["status"], "")
        self.assertIn("processed_time", p[0])
        self.assertIn("blue", p[0]["response"]["candidates"][0]["content"]["parts"][0]["text"])
        e = [v for k, v in out.items() if k.startswith("errors")][0]
        self.assertEqual(len(e), 2)
        self.assertTrue(all(x["status"] for x in e))
        # OpenAI format
        self.upload("o/in.jsonl", (json.dumps({"custom_id": "cam-1", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "llama", "messages": [{"role": "user", "content": "hi"}]}}) + "\n"
                    + json.dumps({"method": "POST"}) + "\n").encode())
        body["model"] = "publishers/meta/models/llama-3.3-70b-instruct-maas"
        body["inputConfig"]["gcsSource"]["uris"] = ["gs://fieldcam-test-bucket/o/in.jsonl"]
        s, j, _, _ = self.r("POST", V + "/batchPredictionJobs", body)
        j = self.wait(j["name"])
        self.assertEqual(j["completionStats"]["successfulCount"], "1")
        out = self.outputs(j)
        p = [v for k, v in out.items() if k.startswith("predictions")][0]
        self.assertEqual(p[0]["custom_id"], "cam-1")
        self.assertEqual(p[0]["response"]["object"], "chat.completion")

    def test_create_rejections(self):
        base = self.job()
        cases = []
        for f in ("displayName", "model", "inputConfig", "outputConfig"):
            b = self.job(); del b[f]; cases.append(b)
        cases.append(self.job(inputConfig={"instancesFormat": "jsonl", "gcsSource": {"uris": []}}))
        cases.append(self.job(inputConfig={"instancesFormat": "jsonl", "gcsSource": {"uris": ["https://x/in.jsonl"]}}))
        cases.append(self.job(inputConfig={"instancesFormat": "jsonl", "gcsSource": {"uris": "gs://fieldcam-test-bucket/b/in.jsonl"}}))
        cases.append(self.job(inputConfig={"instancesFormat": "csv", "gcsSource": {"uris": ["gs://fieldcam-test-bucket/b/in.jsonl"]}}))
        cases.append(self.job(outputConfig={"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "/tmp/x"}}))
        cases.append(self.job(outputConfig={"predictionsFormat": "jsonl"}))
        cases.append(self.job(labels={"fieldcam_batch": "Upper Case"}))
        cases.append(self.job(labels={"k": "x" * 64}))
        cases.append(self.job(modelParameters={"confidenceThreshold": 2}))
        cases.append(dict(base, extra=1))
        for c in cases:
            with self.subTest(c=json.dumps(c)[:100]):
                self.vertex_err(self.r("POST", V + "/batchPredictionJobs", c), 400, "INVALID_ARGUMENT")
        self.vertex_err(self.r("POST", V + "/batchPredictionJobs", self.job(model="projects/fieldcam-test/locations/us-central1/models/1")),
                        404, "NOT_FOUND")
        self.vertex_err(self.r("GET", V + "/batchPredictionJobs/42"), 404, "NOT_FOUND")


class DatasetTests(Base):
    def test_create_import(self):
        s, op, _, _ = self.r("POST", V + "/datasets", {"displayName": "orchard",
            "metadataSchemaUri": "gs://google-cloud-aiplatform/schema/dataset/metadata/image_1.0.0.yaml"})
        self.assertEqual(s, 200, op)
        self.assertIn("/operations/", op["name"])
        self.assertNotIn("done", op)
        for _ in range(30):
            op2 = self.r("GET", "/v1/" + op["name"])[1]
            if op2.get("done"):
                break
            time.sleep(0.1)
        self.assertTrue(op2["done"])
        ds = op2["response"]["name"]
        self.upload("ex/import.jsonl", (json.dumps({"imageGcsUri": "gs://fieldcam-test-bucket/ex/a.jpg",
            "classificationAnnotation": {"displayName": "red"}}) + "\n").encode())
        single = "gs://google-cloud-aiplatform/schema/dataset/ioformat/image_classification_single_label_io_format_1.0.0.yaml"
        s, op, _, _ = self.r("POST", "/v1/" + ds + ":import", {"importConfigs": [{"gcsSource": {"uris": ["gs://fieldcam-test-bucket/ex/import.jsonl"]},
                                                                               "importSchemaUri": single}]})
        self.assertEqual(s, 200, op)
        self.assertIn("ImportDataOperationMetadata", op["metadata"]["@type"])
        # rejections
        self.vertex_err(self.r("POST", V + "/datasets", {"metadataSchemaUri": "x"}), 400, "INVALID_ARGUMENT")
        self.vertex_err(self.r("POST", "/v1/" + ds + ":import", {"importConfigs": []}), 400, "INVALID_ARGUMENT")
        self.vertex_err(self.r("POST", "/v1/" + ds + ":import", {"importConfigs": [{"gcsSource": {"uris": ["gs://fieldcam-test-bucket/ex/none.jsonl"]},
                                                                                  "importSchemaUri": single}]}), 400, "INVALID_ARGUMENT")
        self.vertex_err(self.r("POST", V + "/datasets/1:import", {"importConfigs": []}), 404, "NOT_FOUND")


if __name__ == "__main__":
    unittest.main(verbosity=2)
