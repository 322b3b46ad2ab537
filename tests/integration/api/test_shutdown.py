"""test_shutdown.py - obs-api's statement timeout and graceful stop, made
observable by holding a table lock from a second session: a query that
waits longer than db.statement_timeout_ms is a 503 "timeout" (never a 500);
a request in flight when SIGTERM arrives still gets its full answer, new
connections are refused after the stop, and the exit code is 0."""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apitest as at  # noqa: E402

R = at.Reporter()
DB = "obs_api_stop_%d" % os.getpid()


def hold_lock(url, seconds):
    """A psql session holding ACCESS EXCLUSIVE on sessions for seconds."""
    p = subprocess.Popen(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c",
                          "BEGIN; LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%s); COMMIT;"
                          % seconds], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 5
    while time.time() < deadline:  # wait until the lock is granted
        out = at.psql(url, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                           " WHERE c.relname = 'sessions' AND l.mode = 'AccessExclusiveLock' AND l.granted")
        if out.strip() == "1":
            break
        time.sleep(0.05)
    return p


def main():
    url = at.fresh_db(DB)
    at.psql(url, "INSERT INTO sessions (tenant, session_id, host, os_user, first_event_at) VALUES"
                 " ('T', 's1', 'h', 'u', '2025-01-01T00:00:00Z')")
    key, _ = at.create_key(url, "T")

    api = at.Api(url, extra_env={"OBS_DB_STATEMENT_TIMEOUT_MS": "300"}, threads=2)
    try:
        R.check(api.request("/api/v1/sessions", key=key)[0] == 200, "warm-up request is 200")
        locker = hold_lock(url, 2)
        t0 = time.time()
        st, hd, body, js = api.request("/api/v1/sessions", key=key)
        R.check(st == 503 and js and js["error"]["code"] == "timeout" and hd.get("Retry-After"),
                "a query past db.statement_timeout_ms is 503 timeout with Retry-After", (st, body))
        R.check(time.time() - t0 < 1.5, "the timeout is enforced (answered in %.2f s)" % (time.time() - t0))
        locker.wait()
        R.check(api.request("/api/v1/sessions", key=key)[0] == 200, "the connection is usable after a timeout")
    finally:
        api.stop()

    api = at.Api(url, threads=2)
    try:
        R.check(api.request("/api/v1/sessions", key=key)[0] == 200, "second server answers")
        locker = hold_lock(url, 1.5)
        result = {}

        def slow():
            result["r"] = api.request("/api/v1/sessions", key=key)

        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.4)  # the request is now waiting on the lock inside obs-api
        api.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        refused = False
        try:
            st = api.request("/healthz")[0]
        except Exception:
            refused = True
            st = None
        th.join(10)
        locker.wait()
        code = api.proc.wait(timeout=10)
        r = result.get("r")
        R.check(r is not None and r[0] == 200 and r[3]["sessions"][0]["session_id"] == "s1",
                "the request in flight at SIGTERM gets its full answer", r and r[:3:2])
        R.check(refused or st is None, "new connections are not served once stopping", st)
        R.check(code == 0, "exit code 0 after the graceful stop", code)
        R.check("stopped" in api.logtext(), "the stop is logged")
    finally:
        api.stop()
        at.drop_db(DB)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        import traceback
        traceback.print_exc()
        R.check(False, "test ran to completion", e)
    R.end()
