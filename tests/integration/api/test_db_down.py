"""test_db_down.py - obs-api when PostgreSQL is unreachable, and the
command line. The shared server is never stopped: obs-api is pointed at a
local TCP relay that is first closed (503 + Retry-After, /readyz 503), then
relays to the real server (recovers without a restart), then drops every
connection (broken connections are replaced on the next request). Also:
--help, --version and bad configuration (exit 2, one line per problem)."""
import os
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apitest as at  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from obs_e2e import TcpRelay  # noqa: E402

R = at.Reporter()
DB = "obs_api_down_%d" % os.getpid()


Relay = TcpRelay


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_status(api, path, want, key=None, timeout=15):
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        st = api.request(path, key=key)[0]
        if st == want:
            return True
        time.sleep(0.2)
    return False


def cli_checks():
    obs_api = os.path.join(at.BIN, "obs-api")
    r = subprocess.run([obs_api, "--help"], capture_output=True, text=True)
    R.check(r.returncode == 0 and "http.threads" in r.stdout and "OBS_HTTP_LISTEN" in r.stdout,
            "--help lists the settings with their environment names", r.stdout[:200])
    r = subprocess.run([obs_api, "--version"], capture_output=True, text=True)
    R.check(r.returncode == 0 and r.stdout.startswith("obs-api "), "--version prints the version", r.stdout)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBS_DATABASE_URL")}
    r = subprocess.run([obs_api], capture_output=True, text=True, env=env, timeout=10)
    R.check(r.returncode == 2 and "database.url" in r.stderr, "missing database.url: exit 2 with a clear line",
            r.stderr)
    env2 = dict(env, DATABASE_URL="postgresql://x@127.0.0.1:1/x", OBS_HTTP_THREADS="0", OBS_LOG_LEVEL="loud")
    r = subprocess.run([obs_api], capture_output=True, text=True, env=env2, timeout=10)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    R.check(r.returncode == 2 and any("http.threads" in l for l in lines), "http.threads=0: exit 2", r.stderr)
    cfg = "/tmp/obs-api-bad-%d.conf" % os.getpid()
    with open(cfg, "w") as f:
        f.write("database.url = postgresql://x@127.0.0.1:1/x\nhttp.listen = nonsense\nno.such.key = 1\n")
    r = subprocess.run([obs_api, "-c", cfg], capture_output=True, text=True, env=env, timeout=10)
    R.check(r.returncode == 2 and "no.such.key" in r.stderr, "unknown key in the config file: exit 2", r.stderr)
    with open(cfg, "w") as f:
        f.write("database.url = postgresql://x@127.0.0.1:1/x\nhttp.listen = nonsense\n")
    r = subprocess.run([obs_api, "-c", cfg], capture_output=True, text=True, env=env, timeout=10)
    R.check(r.returncode == 2 and "http.listen" in r.stderr, "bad http.listen: exit 2", r.stderr)
    os.unlink(cfg)
    r = subprocess.run([obs_api, "--bogus"], capture_output=True, text=True, env=env, timeout=10)
    R.check(r.returncode == 2, "unknown argument: exit 2", r.stderr)


def main():
    cli_checks()
    url = at.fresh_db(DB)
    key, _ = at.create_key(url, "T")
    real = urllib.parse.urlsplit(url)
    port = free_port()
    relay = Relay(port, (real.hostname, real.port or 5432))
    relayed = urllib.parse.urlunsplit((real.scheme, "%s@127.0.0.1:%d" % (real.username or "", port)
                                       if real.username else "127.0.0.1:%d" % port, real.path, real.query, ""))
    api = at.Api(relayed, threads=2)
    try:
        st, hd, body, js = api.request("/healthz")
        R.check(st == 200, "/healthz is 200 while the database is down", body)
        st, hd, body, js = api.request("/readyz")
        R.check(st == 503 and js and js["status"] == "unavailable", "/readyz is 503 while the database is down", body)
        st, hd, body, js = api.request("/api/v1/sessions", key=key)
        R.check(st == 503 and js and js["error"]["code"] == "unavailable" and hd.get("Retry-After"),
                "API request is 503 JSON with Retry-After while the database is down", (st, body))
        st, hd, body, js = api.request("/api/v1/sessions")
        R.check(st == 401, "no key is still 401 while the database is down", body)
        st, hd, text, _ = api.request("/metrics")
        R.check("observatory_api_db_up 0" in text, "observatory_api_db_up is 0 while down")

        relay.start()
        R.check(wait_status(api, "/readyz", 200), "/readyz recovers by itself when the database comes back")
        R.check(wait_status(api, "/api/v1/sessions", 200, key=key), "API requests recover without a restart")
        time.sleep(1.2)  # a thread retries a failed connect at most once a second
        codes = [api.request("/api/v1/sessions", key=key)[0] for _ in range(8)]
        R.check(all(c == 200 for c in codes), "every thread serves again after recovery", codes)

        relay.drop()  # break the established connections
        statuses = [api.request("/api/v1/sessions", key=key)[0] for _ in range(6)]
        R.check(all(s in (200, 503) for s in statuses), "broken connections give 503, never 500 or a crash",
                statuses)
        R.check(wait_status(api, "/api/v1/sessions", 200, key=key), "broken connections are replaced")
        R.check(api.proc.poll() is None, "obs-api is still running")
    finally:
        code = api.stop()
        R.check(code == 0, "SIGTERM exits 0", code)
        relay.stop()
        at.drop_db(DB)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        import traceback
        traceback.print_exc()
        R.check(False, "test ran to completion", e)
    R.end()
