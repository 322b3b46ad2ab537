"""tests/lib/obs_e2e.py - helpers for Python integration and end-to-end tests.

A Check object records PASS/FAIL lines and prints the closing
"N passed, N failed" that tests/run.sh adds up. Stack helpers create a
fresh database and unique topics on the real services the runner started
(KAFKA_BOOTSTRAP, DATABASE_URL), start Observatory programs as child
processes with their logs under .run/test-logs, and wait with bounded polls.
"""
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(REPO, os.environ.get("OBS_BUILD", "build"), "bin")
LOGS = os.path.join(REPO, ".run", "test-logs")


class Check:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def ok(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print(f"PASS: {self.name}: {what}")
        else:
            self.failed += 1
            print(f"FAIL: {self.name}: {what} {detail}")
        sys.stdout.flush()
        return cond

    def eq(self, got, want, what):
        return self.ok(got == want, what, f"(got {got!r}, want {want!r})")

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def psql(url, sql, *args):
    """Run one SQL statement with psql variables :v1.. and return rows as lists."""
    cmd = ["psql", url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-F", "\t"]
    for i, a in enumerate(args, 1):
        cmd += ["-v", f"v{i}={a}"]
    out = subprocess.run(cmd, input=sql, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def db_url(name):
    p = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def fresh_db(name):
    admin = os.environ["DATABASE_URL"]
    subprocess.run(["psql", admin, "-qX", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                    "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    url = db_url(name)
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run([os.path.join(BIN, "obsctl"), "migrate", "--dir", os.path.join(REPO, "migrations")],
                   env=env, check=True, capture_output=True)
    return url


def drop_db(name):
    subprocess.run(["psql", os.environ["DATABASE_URL"], "-qX", "-c",
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], capture_output=True)


def topics(prefix, partitions=3):
    env = dict(os.environ, OBS_KAFKA_TOPIC=prefix, OBS_KAFKA_DLQ_TOPIC=prefix + ".dlq")
    subprocess.run([os.path.join(BIN, "obsctl"), "topics", "ensure", "--partitions", str(partitions)],
                   env=env, check=True, capture_output=True)
    return prefix


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_LIVE = []  # every process started through Proc or track() by this interpreter


def _reap():
    """At exit (also after an uncaught exception or SIGTERM), kill what a test left running:
    a worker left behind would retry its failing batch forever against a dropped database."""
    for p in _LIVE:
        if p.poll() is None:
            p.kill()
            p.wait()


def track(popen):
    """Have a subprocess.Popen killed at interpreter exit if it still runs; returns it."""
    _LIVE.append(popen)
    return popen


atexit.register(_reap)
if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that atexit runs under `timeout`


class Proc:
    """A program under test, started with extra environment; logs to LOGS/<name>.log.
    Killed at interpreter exit if the test did not stop it."""

    def __init__(self, name, argv, env):
        os.makedirs(LOGS, exist_ok=True)
        self.name = name
        self.log_path = os.path.join(LOGS, name + ".log")
        self.log = open(self.log_path, "ab")
        self.p = subprocess.Popen(argv, env=dict(os.environ, **env), stdout=self.log,
                                  stderr=subprocess.STDOUT)
        _LIVE.append(self.p)

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                self.log.close()
                return None
        self.log.close()
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.log.close()

    def tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""


def http_get(url, key=None, timeout=10):
    """GET url; returns (status, parsed JSON or text, headers)."""
    req = urllib.request.Request(url)
    if key:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body, status, headers = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        body, status, headers = e.read(), e.code, e.headers
    except (urllib.error.URLError, OSError) as e:  # refused, reset, timed out
        return 0, str(e), None
    try:
        return status, json.loads(body), headers
    except ValueError:
        return status, body.decode("utf-8", "replace"), headers


def wait_for(pred, timeout, interval=0.2):
    """Poll pred() until it returns a truthy value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def create_api_key(db, tenant):
    out = subprocess.run([os.path.join(BIN, "obsctl"), "apikey", "create", "--tenant", tenant],
                         env=dict(os.environ, DATABASE_URL=db), check=True, capture_output=True, text=True)
    return out.stdout.strip()


class TcpRelay:
    """TCP relay 127.0.0.1:<port> -> target (host, port), for cutting a program off
    PostgreSQL without stopping the shared server: start()/stop() at will,
    drop() breaks every relayed connection and keeps listening."""

    def __init__(self, port, target):
        self.port, self.target = port, target
        self.lsock = None
        self.conns = []
        self.lock = threading.Lock()

    def start(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(16)
        threading.Thread(target=self._accept, args=(self.lsock,), daemon=True).start()

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        if self.lsock:
            try:
                self.lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.lsock.close()
            self.lsock = None
        self.drop()

    def drop(self):
        """Break every relayed connection; keep listening."""
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns = []
