"""apitest.py - helpers for the obs-api integration tests (stdlib only, plus
PyYAML when present): a PASS/FAIL reporter, a fresh migrated database on
the shared PostgreSQL server, API keys through obsctl, an obs-api process on
a free port, HTTP calls, and a validator for the OpenAPI subset that
api/openapi.yaml uses."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.path.join(REPO, os.environ.get("OBS_BUILD", "build"), "bin")


class Reporter:
    """Prints one PASS/FAIL line per check and the closing summary."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("PASS: " + what)
        else:
            self.failed += 1
            print("FAIL: " + what + (("  -- " + str(detail)[:800]) if detail != "" else ""))
        sys.stdout.flush()
        return cond

    def end(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


def server_url():
    """DATABASE_URL of the shared server (tests/run.sh exports it); else ask
    ops/local/pg.sh, starting the local server when it is not running."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    pg = os.path.join(REPO, "ops", "local", "pg.sh")
    st = subprocess.run(["bash", pg, "status"], capture_output=True, text=True)
    if "running" not in st.stdout:
        subprocess.run(["bash", pg, "start"], check=True)
    return subprocess.run(["bash", pg, "url"], capture_output=True, text=True, check=True).stdout.strip()


def db_url(base, name):
    p = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def psql(url, sql):
    """Run SQL (ON_ERROR_STOP) and return stdout (unaligned, tuples only)."""
    r = subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("psql failed: %s" % r.stderr)
    return r.stdout


def fresh_db(name):
    """Create database NAME (dropping an old one) and migrate it; its URL."""
    base = server_url()
    psql(base, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    psql(base, 'CREATE DATABASE "%s"' % name)
    url = db_url(base, name)
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run([os.path.join(BIN, "obsctl"), "migrate", "--dir", os.path.join(REPO, "migrations")],
                   env=env, check=True, capture_output=True)
    return url


def drop_db(name):
    try:
        psql(server_url(), 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    except Exception as e:  # the test result matters more than cleanup
        print("note: could not drop %s: %s" % (name, e))


def create_key(url, tenant):
    """(key, id) from obsctl apikey create."""
    r = subprocess.run([os.path.join(BIN, "obsctl"), "apikey", "create", "--tenant", tenant],
                       env=dict(os.environ, DATABASE_URL=url), capture_output=True, text=True, check=True)
    m = re.search(r"key id (\d+)", r.stderr)
    return r.stdout.strip(), int(m.group(1)) if m else None


def revoke_key(url, key_id):
    subprocess.run([os.path.join(BIN, "obsctl"), "apikey", "revoke", "--id", str(key_id)],
                   env=dict(os.environ, DATABASE_URL=url), capture_output=True, text=True, check=True)


class Api:
    """An obs-api process listening on a free port (http.listen port 0)."""

    def __init__(self, dburl, extra_env=None, threads=4):
        env = dict(os.environ, DATABASE_URL=dburl, OBS_HTTP_LISTEN="127.0.0.1:0", OBS_HTTP_THREADS=str(threads),
                   OBS_LOG_LEVEL="info")
        env.update(extra_env or {})
        self.logpath = "/tmp/obs-api-it-%d-%d.log" % (os.getpid(), int(time.time() * 1000) % 100000)
        self.log = open(self.logpath, "w+")
        self.proc = subprocess.Popen([os.path.join(BIN, "obs-api")], env=env, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        self.port = None
        deadline = time.time() + 10
        while time.time() < deadline and self.port is None:
            with open(self.logpath) as f:
                m = re.search(r"listening on [^ ]*:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("obs-api did not start: " + open(self.logpath).read())
        self.base = "http://127.0.0.1:%d" % self.port

    def request(self, path, key=None, method="GET", headers=None, params=None):
        """(status, headers, body_text, json_or_None)."""
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + key
        req = urllib.request.Request(url, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                status, hdrs, body = r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            status, hdrs, body = e.code, e.headers, e.read().decode()
        try:
            js = json.loads(body) if body else None
        except ValueError:
            js = None
        return status, hdrs, body, js

    def logtext(self):
        with open(self.logpath) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Send sig and wait; the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


# ---- OpenAPI subset validator ------------------------------------------------------

def load_spec():
    """api/openapi.yaml as a dict (PyYAML; installed into .cache when missing)."""
    try:
        import yaml  # noqa: F401
    except ImportError:
        cache = os.path.join(REPO, ".cache", "pylib")
        if cache not in sys.path:
            sys.path.insert(0, cache)
        try:
            import yaml  # noqa: F401
        except ImportError:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", cache, "pyyaml"],
                           capture_output=True)
            import yaml  # noqa: F401
    import yaml
    with open(os.path.join(REPO, "api", "openapi.yaml")) as f:
        return yaml.safe_load(f)


DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        cur = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            cur = cur[part]
        node = cur
    return node


def validate(spec, schema, value, path="$"):
    """List of problems of value against schema (the subset used: type,
    nullable, required, properties, additionalProperties: false, items, enum,
    format date-time, minimum/maximum)."""
    schema = _resolve(spec, schema)
    errs = []
    if value is None:
        if not schema.get("nullable"):
            errs.append("%s: null not allowed" % path)
        return errs
    t = schema.get("type")
    ok = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        None: True,
    }[t]
    if not ok:
        return ["%s: expected %s, got %r" % (path, t, value)]
    if "enum" in schema and value not in schema["enum"]:
        errs.append("%s: %r not in %r" % (path, value, schema["enum"]))
    if t == "string" and schema.get("format") == "date-time" and not DATE_TIME.match(value):
        errs.append("%s: not a date-time: %r" % (path, value))
    if t in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append("%s: below minimum" % path)
        if "maximum" in schema and value > schema["maximum"]:
            errs.append("%s: above maximum" % path)
    if t == "object":
        props = schema.get("properties", {})
        for r in schema.get("required", []):
            if r not in value:
                errs.append("%s: missing required %s" % (path, r))
        for k, v in value.items():
            if k in props:
                errs.extend(validate(spec, props[k], v, path + "." + k))
            elif schema.get("additionalProperties") is False:
                errs.append("%s: unexpected property %s" % (path, k))
    if t == "array" and "items" in schema:
        for i, v in enumerate(value):
            errs.extend(validate(spec, schema["items"], v, "%s[%d]" % (path, i)))
    return errs


def response_schema(spec, template, status):
    """Schema of the JSON response of GET template with status, or None."""
    op = spec["paths"][template]["get"]
    resp = op["responses"].get(str(status))
    if resp is None:
        return None
    resp = _resolve(spec, resp)
    content = resp.get("content", {}).get("application/json")
    return content and content["schema"]
