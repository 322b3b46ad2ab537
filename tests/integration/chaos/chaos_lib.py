"""tests/integration/chaos/chaos_lib.py - shared pieces of the failure tests.

Not a test itself (tests/run.sh runs only test_*). What it gives:

- Corpus: bench/gen_corpus.py writes a realistic corpus into a staging
  directory; Feeder copies it into the watch root in random-sized chunks
  (seeded), cutting lines anywhere, so the producer follows growing files
  with partial last lines, as Claude Code writes them.
- Ground truth, computed here from the files alone: the (source_path,
  source_offset) of every complete non-blank line and the count per session
  (session rule of docs/CONTRACTS.md, re-implemented).
- Database state: the same two things read from `events`, plus
  sessions.events, the message_usage totals and per-session roll-ups.
- A clean reference run: the same corpus through `obs-producer --once` and
  two workers into a fresh database and topic, nothing disturbed.
- Program starters (producer, worker) with their admin port, /metrics and
  /proc/<pid>/status readers.
"""
import atexit
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
from obs_e2e import (BIN, REPO, Check, Proc, drop_db, free_port, fresh_db, http_get,  # noqa: E402,F401
                     psql, topics, wait_for)

PRICES = os.path.join(REPO, "common", "model_prices.json")
REF_PROCS = []  # reference-run workers, killed at exit if a test ends early


@atexit.register
def _kill_ref_procs():
    for p in REF_PROCS:
        p.kill()


def run_id(tag):
    return f"{tag}_{os.getpid()}_{int(time.time())}"


def make_corpus(stage, nbytes, file_mb):
    """Generate a corpus of about nbytes into stage/ (layout <project>/<session>.jsonl)."""
    subprocess.run([sys.executable, os.path.join(REPO, "bench", "gen_corpus.py"), stage, "--bytes", str(nbytes),
                    "--file-mb", str(file_mb)], check=True, capture_output=True)
    files = []
    for d, _, fs in os.walk(stage):
        for f in fs:
            files.append(os.path.relpath(os.path.join(d, f), stage))
    return sorted(files)


class Feeder:
    """Copies staged files into root in random chunks (seeded rng), in a thread.

    Chunks end anywhere (mid-line), so partial last lines are normal. The
    whole copy takes about `seconds`; `done` is set when every byte is there."""

    def __init__(self, stage, root, files, rng, seconds):
        self.stage, self.root, self.files, self.rng, self.seconds = stage, root, list(files), rng, seconds
        self.done = threading.Event()
        self.error = None
        self.pos = {f: 0 for f in files}
        self.size = {f: os.path.getsize(os.path.join(stage, f)) for f in files}
        self.data = {}

    def start(self):
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def written(self):
        return sum(self.pos.values())

    def total(self):
        return sum(self.size.values())

    def _run(self):
        try:
            steps = max(1, int(self.seconds / 0.05))
            chunk = max(4096, self.total() // steps)
            t0 = time.monotonic()
            while True:
                left = [f for f in self.files if self.pos[f] < self.size[f]]
                if not left:
                    break
                f = self.rng.choice(left)
                n = self.rng.randint(1, 2 * chunk)
                src = os.path.join(self.stage, f)
                dst = os.path.join(self.root, f)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(src, "rb") as s:
                    s.seek(self.pos[f])
                    buf = s.read(n)
                with open(dst, "ab") as d:
                    d.write(buf)
                self.pos[f] += len(buf)
                # pace: bytes written so far should match elapsed share of `seconds`
                ahead = self.written() / self.total() * self.seconds - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(min(ahead, 0.2))
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = repr(e)
        self.done.set()


# ---- ground truth from the files --------------------------------------------------------------

def session_of(rel):
    """Session id rule (docs/CONTRACTS.md, ccusage 20), on the path relative to the root."""
    parts = rel.split("/")
    if len(parts) == 2 and parts[1].endswith(".jsonl"):
        return parts[1][:-len(".jsonl")]
    if "subagents" in parts[:-1]:
        i = parts.index("subagents")
        if i >= 2:
            return parts[i - 1]
    if len(parts) == 1:
        return os.path.splitext(parts[0])[0]
    return parts[-2]


def truth(root):
    """{(source_path, source_offset)} of complete non-blank lines, and {session: count}."""
    starts, per_session = set(), {}
    for d, _, fs in os.walk(root):
        for f in fs:
            if not f.endswith(".jsonl"):
                continue
            rel = os.path.relpath(os.path.join(d, f), root)
            data = open(os.path.join(d, f), "rb").read()
            sid = session_of(rel)
            off = 0
            while True:
                nl = data.find(b"\n", off)
                if nl < 0:
                    break  # partial last line: not complete, not expected
                if data[off:nl].strip():
                    starts.add((rel, off))
                    per_session[sid] = per_session.get(sid, 0) + 1
                off = nl + 1
    return starts, per_session


# ---- database state -----------------------------------------------------------------------------

def count_events(db):
    try:
        return int(psql(db, "SELECT count(*) FROM events")[0][0])
    except subprocess.CalledProcessError:
        return -1  # server restarting


def stored(db):
    rows = psql(db, "SELECT source_path, source_offset, session_id FROM events")
    starts = {(r[0], int(r[1])) for r in rows}
    per_session = {}
    for r in rows:
        per_session[r[2]] = per_session.get(r[2], 0) + 1
    return len(rows), starts, per_session


def session_events(db):
    return {r[0]: int(r[1]) for r in psql(db, "SELECT session_id, events FROM sessions")}


USAGE_SQL = ("SELECT count(*), coalesce(sum(input_tokens),0), coalesce(sum(output_tokens),0), "
             "coalesce(sum(cache_creation_tokens),0), coalesce(sum(cache_read_tokens),0), "
             "coalesce(sum(cost_usd),0)::text FROM message_usage")
ROLLUP_SQL = ("SELECT session_id, events, input_tokens, output_tokens, cache_creation_tokens, "
              "cache_read_tokens, cost_usd::text, assistant_messages, tool_calls FROM sessions ORDER BY 1")


def usage_totals(db):
    return tuple(psql(db, USAGE_SQL)[0])


def rollups(db):
    return {r[0]: tuple(r[1:]) for r in psql(db, ROLLUP_SQL)}


def wait_stored(db, want, timeout, settle=1.5):
    """Wait until `events` holds want rows (bounded); then a short settle to see no extra rows arrive."""
    got = wait_for(lambda: count_events(db) >= want, timeout, 0.5)
    if got:
        time.sleep(settle)
    return count_events(db)


def assert_exact(c, root, db, label=""):
    """The stored events equal the lines of the files exactly; sessions.events agrees."""
    t_starts, t_sess = truth(root)
    n, s_starts, s_sess = stored(db)
    p = f"{label}: " if label else ""
    c.eq(n, len(t_starts), f"{p}events rows = complete non-blank lines in the files ({len(t_starts)})")
    missing, extra = t_starts - s_starts, s_starts - t_starts
    c.ok(not missing and not extra, f"{p}set of (source_path, source_offset) = line starts of the files",
         f"({len(missing)} missing e.g. {sorted(missing)[:3]}, {len(extra)} extra e.g. {sorted(extra)[:3]})")
    c.ok(n == len(s_starts), f"{p}no line stored twice", f"({n} rows, {len(s_starts)} distinct coordinates)")
    c.eq(s_sess, t_sess, f"{p}events per session = lines per session ({len(t_sess)} sessions)")
    c.eq(session_events(db), t_sess, f"{p}sessions.events = lines per session (roll-up advanced once)")


# ---- programs ----------------------------------------------------------------------------------

def kafka_env(topic, db):
    return {"DATABASE_URL": db, "OBS_KAFKA_TOPIC": topic, "OBS_KAFKA_DLQ_TOPIC": topic + ".dlq"}


class Worker(Proc):
    def __init__(self, name, topic, db, group, **extra):
        self.port = free_port()
        env = dict(kafka_env(topic, db), OBS_KAFKA_GROUP=group, OBS_ADMIN_LISTEN=f"127.0.0.1:{self.port}",
                   OBS_PRICES_PATH=PRICES, OBS_BATCH_MAX_WAIT_MS="50", **extra)
        super().__init__(name, [os.path.join(BIN, "obs-worker")], env)

    def metrics(self):
        st, body, _ = http_get(f"http://127.0.0.1:{self.port}/metrics", timeout=3)
        return body if st == 200 and isinstance(body, str) else ""


class Producer(Proc):
    def __init__(self, name, topic, root, ckpt, port=None, **extra):
        self.port = port or free_port()
        env = dict(kafka_env(topic, ""), OBS_WATCH_ROOTS=root, OBS_CHECKPOINT_PATH=ckpt, OBS_TENANT="default",
                   OBS_HOST="chaos-host", OBS_USER="chaos", OBS_ADMIN_LISTEN=f"127.0.0.1:{self.port}",
                   OBS_WATCH_RESCAN_INTERVAL_MS="1000", **extra)
        env.pop("DATABASE_URL")
        super().__init__(name, [os.path.join(BIN, "obs-producer")], env)

    def kill9(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, 9)
            self.p.wait()
        self.log.close()

    def metrics(self):
        st, body, _ = http_get(f"http://127.0.0.1:{self.port}/metrics", timeout=3)
        return body if st == 200 and isinstance(body, str) else ""


def metric_values(text, name):
    """{labels: value} of every sample of metric `name` in Prometheus text."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, val = line.rpartition(" ")
            out[key[len(name):]] = float(val)
    return out


def proc_mem_kib(pid):
    """(VmRSS, VmHWM) in KiB from /proc/<pid>/status, or (0, 0) when gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def dlq_count(topic):
    """Records in topic.dlq (kcat, to the end of every partition)."""
    r = subprocess.run(["kcat", "-b", os.environ["KAFKA_BOOTSTRAP"], "-C", "-t", topic + ".dlq", "-o", "beginning",
                        "-e", "-q", "-f", "%o\n"], capture_output=True, text=True, timeout=60)
    return len([x for x in r.stdout.splitlines() if x.strip()])


# ---- the clean reference run ---------------------------------------------------------------------

def reference_run(stage, rid, want_lines, timeout=120):
    """Same files, nothing disturbed: --once, two workers, fresh DB/topic.
    Returns (usage_totals, rollups) or None when it did not finish."""
    name = f"obs_chaosref_{rid}"
    topic = f"t.chaosref.{rid}"
    db = fresh_db(name)
    topics(topic, 6)
    tmp = stage + ".refstate"
    os.makedirs(tmp, exist_ok=True)
    ws = []
    try:
        env = dict(os.environ, OBS_KAFKA_TOPIC=topic, OBS_KAFKA_DLQ_TOPIC=topic + ".dlq", OBS_WATCH_ROOTS=stage,
                   OBS_CHECKPOINT_PATH=os.path.join(tmp, "ckpt"), OBS_TENANT="default", OBS_HOST="chaos-host",
                   OBS_USER="chaos", OBS_ADMIN_LISTEN="off")
        r = subprocess.run([os.path.join(BIN, "obs-producer"), "--once"], env=env, capture_output=True, timeout=120)
        if r.returncode != 0:
            print("reference producer failed:", r.stderr.decode()[-500:])
            return None
        ws = [Worker(f"chaosref-{rid}-w{i}", topic, db, f"chaosref-{rid}") for i in range(2)]
        REF_PROCS.extend(ws)
        n = wait_stored(db, want_lines, timeout, settle=0.5)
        if n != want_lines:
            print(f"reference run stored {n} of {want_lines} lines")
            return None
        return usage_totals(db), rollups(db)
    finally:
        for w in ws:
            w.stop()
        drop_db(name)
        shutil.rmtree(tmp, ignore_errors=True)


class Reference:
    """reference_run() in a thread, so it overlaps the chaos run's waits.
    Start it only while nothing disturbs the stack (its run must be clean)."""

    def __init__(self, stage, rid):
        self.stage, self.rid, self.out, self.t = stage, rid, None, 0.0
        self.want = len(truth(stage)[0])
        self.th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        t0 = time.monotonic()
        try:
            self.out = reference_run(self.stage, self.rid, self.want)
        except Exception as e:  # noqa: BLE001 - shown, then compare_reference fails
            print("reference run:", repr(e))
        self.t = time.monotonic() - t0

    def start(self):
        self.th.start()
        return self

    def result(self, timeout=180):
        self.th.join(timeout)
        print(f"reference run: {self.want} lines, {self.t:.1f} s")
        return self.out


def compare_reference(c, db, ref):
    if not c.ok(ref is not None, "clean reference run (same files, --once, 2 workers) completed"):
        return
    u, r = ref
    c.eq(usage_totals(db), u, "message_usage totals (rows, input, output, cache write, cache read, cost) "
                              "= clean reference run")
    got = rollups(db)
    diff = sorted(k for k in set(got) | set(r) if got.get(k) != r.get(k))
    c.ok(not diff, "per-session roll-ups (events, tokens, cost, assistant messages, tool calls) = clean reference run",
         f"({len(diff)} differ, e.g. {[(k, got.get(k), r.get(k)) for k in diff[:2]]})")


def local_broker():
    """True only when the runner's local broker is the one in use (safe to stop/start)."""
    if os.environ.get("KAFKA_BOOTSTRAP") != "127.0.0.1:19092":
        return False
    r = subprocess.run(["bash", os.path.join(REPO, "ops", "local", "kafka.sh"), "status"], capture_output=True,
                       text=True)
    return r.returncode == 0 and "running" in r.stdout


def local_pg():
    u = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", ""))
    if u.hostname != "127.0.0.1" or u.port != 15432:
        return False
    r = subprocess.run(["bash", os.path.join(REPO, "ops", "local", "pg.sh"), "status"], capture_output=True,
                       text=True)
    return r.returncode == 0 and "running" in r.stdout


def seed_from_env(tag):
    s = os.environ.get("CHAOS_SEED")
    seed = int(s) if s else random.SystemRandom().randrange(1, 2**31)
    print(f"{tag}: seed {seed} (rerun with CHAOS_SEED={seed})")
    sys.stdout.flush()
    return seed, random.Random(seed)
