"""obsctl against the real PostgreSQL and Kafka.

What is tried: three `obsctl migrate` at once on an empty database (the
advisory lock must serialise them: every migration applied exactly once),
a re-run (no-op), an applied migration edited afterwards (refused with a
clear message), `migrate --status`; three `partitions maintain` at once,
a day partition created while the default partition already holds rows of
that day (rows move), retention dropping an old day partition, the default
partition report; API keys created, listed, revoked, an unknown id; topics
ensured twice; unknown commands and bad options.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lib"))
from obs_e2e import BIN, REPO, Check, db_url, drop_db, psql  # noqa: E402

c = Check("tools/obsctl")
OBSCTL = os.path.join(BIN, "obsctl")
MIG = os.path.join(REPO, "migrations")
name = f"obs_ctl_{os.getpid()}"
admin = os.environ["DATABASE_URL"]
subprocess.run(["psql", admin, "-qX", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', "-c",
                f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
db = db_url(name)
env = dict(os.environ, DATABASE_URL=db)


def run(*args, **kw):
    return subprocess.run([OBSCTL, *args], env=kw.get("env", env), capture_output=True, text=True, timeout=120)


tmp = tempfile.mkdtemp()
try:
    nfiles = len([f for f in os.listdir(MIG) if f.endswith(".sql")])
    procs = [subprocess.Popen([OBSCTL, "migrate", "--dir", MIG], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    c.eq([p.returncode for p in procs], [0, 0, 0], "three concurrent migrates all succeed")
    rows = psql(db, "SELECT version, count(*) FROM schema_migrations GROUP BY 1 ORDER BY 1")
    c.eq(len(rows), nfiles, f"each of the {nfiles} migrations recorded")
    c.ok(all(r[1] == "1" for r in rows), "each recorded exactly once")
    applied = sum(err.count("applied 0") for _, err in outs)
    c.eq(applied, nfiles, "each migration file applied by exactly one of the three")
    r = run("migrate", "--dir", MIG)
    c.ok(r.returncode == 0 and "0 applied now" in r.stderr, "re-run applies nothing", r.stderr[-200:])
    r = run("migrate", "--dir", MIG, "--status")
    c.ok(r.returncode == 0 and "0 pending" in r.stdout and r.stdout.count("applied") == nfiles,
         "--status lists every migration as applied", r.stdout[-300:])

    edited = os.path.join(tmp, "mig")
    shutil.copytree(MIG, edited)
    first = sorted(f for f in os.listdir(edited) if f.endswith(".sql"))[0]
    with open(os.path.join(edited, first), "a") as f:
        f.write("\n-- edited after it was applied\n")
    r = run("migrate", "--dir", edited)
    c.ok(r.returncode == 1 and "changed after it was applied" in r.stderr and first in r.stderr,
         "an edited applied migration is refused, naming the file", r.stderr[-300:])
    r = run("migrate", "--dir", os.path.join(tmp, "nowhere"))
    c.ok(r.returncode == 1 and "nowhere" in r.stderr, "a missing migrations directory is a clear error")

    # Partitions.
    procs = [subprocess.Popen([OBSCTL, "partitions", "maintain", "--ahead", "10"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    c.eq([p.returncode for p in procs], [0, 0, 0], "three concurrent 'partitions maintain' succeed")
    c.ok(all("default partitions:" in o[0] for o in outs), "each reports the default partitions' rows")
    n = psql(db, "SELECT count(*) FROM pg_class WHERE relname ~ '^events_p[0-9]{8}$' AND "
                 "to_date(right(relname, 8), 'YYYYMMDD') BETWEEN (now() AT TIME ZONE 'UTC')::date "
                 "AND (now() AT TIME ZONE 'UTC')::date + 10")[0][0]
    c.eq(n, "11", "events has a partition for today and each of the 10 days ahead")

    old = "2020-02-29"
    psql(db, "INSERT INTO events (tenant, event_id, event_time, session_id, host, os_user, source_path, file_id,"
             " source_offset, type, observed_time) VALUES ('t', 'e1', '2020-02-29 12:00:00+00', 's', 'h', 'u', 'p',"
             " 'f', 0, 'user', now())")
    c.eq(psql(db, "SELECT count(*) FROM events_default")[0][0], "1", "a row of an uncovered day lands in default")
    r = run("partitions", "maintain", "--retention-days", "36500")
    c.ok(r.returncode == 0 and "events_default 1 rows" in r.stdout, "maintain reports the row in default",
         r.stdout)
    psql(db, f"SELECT obs_ensure_day_partition('events', '{old}')")
    c.eq(psql(db, "SELECT count(*) FROM events_default")[0][0], "0", "creating that day moves the row out of default")
    c.eq(psql(db, "SELECT count(*) FROM events_p20200229")[0][0], "1", "and into the new day partition")
    c.eq(psql(db, "SELECT count(*) FROM events")[0][0], "1", "no row lost or doubled by the move")
    r = run("partitions", "maintain", "--retention-days", "90")
    c.ok(r.returncode == 0 and "dropped events_p20200229" in r.stderr, "retention drops the old day partition",
         r.stderr[-300:])
    c.eq(psql(db, "SELECT to_regclass('events_p20200229') IS NULL")[0][0], "t", "the partition is gone")
    c.eq(psql(db, "SELECT count(*) FROM pg_class WHERE relname = 'events_p' || to_char((now() AT TIME ZONE 'UTC')::date, 'YYYYMMDD')")[0][0],
         "1", "today's partition is kept")

    # API keys.
    r = run("apikey", "create", "--tenant", "acme", "--name", "portal")
    key = r.stdout.strip()
    c.ok(r.returncode == 0 and key.startswith("obs_") and len(key) == 52, "apikey create prints a key once")
    stored = psql(db, "SELECT encode(key_hash, 'hex'), key_prefix FROM api_keys WHERE tenant = 'acme'")
    c.ok(len(stored) == 1 and key not in stored[0][0] and stored[0][1] == key[:12], "only the hash and a prefix are stored")
    c.eq(psql(db, "SELECT encode(sha256(convert_to(:'v1', 'UTF8')), 'hex') = encode(key_hash, 'hex') FROM api_keys",
              key)[0][0], "t", "the stored hash is SHA-256 of the key")
    r = run("apikey", "list", "--tenant", "acme")
    c.ok(r.returncode == 0 and "portal" in r.stdout and key not in r.stdout, "list shows the key without the secret")
    kid = psql(db, "SELECT id FROM api_keys")[0][0]
    r = run("apikey", "revoke", "--id", kid)
    c.ok(r.returncode == 0 and psql(db, "SELECT revoked_at IS NOT NULL FROM api_keys")[0][0] == "t", "revoke marks it")
    r = run("apikey", "revoke", "--id", kid)
    c.ok(r.returncode == 1 and "no active key" in r.stderr, "revoking twice is a clear error")
    r = run("apikey", "create")
    c.ok(r.returncode == 1 and "--tenant" in r.stderr, "create without --tenant names the missing option")

    # Topics (real broker).
    topic = f"t.obsctl.{os.getpid()}"
    tenv = dict(env, OBS_KAFKA_TOPIC=topic, OBS_KAFKA_DLQ_TOPIC=topic + ".dlq")
    r1 = run("topics", "ensure", "--partitions", "2", env=tenv)
    r2 = run("topics", "ensure", "--partitions", "2", env=tenv)
    c.ok(r1.returncode == 0 and r2.returncode == 0, "topics ensure twice succeeds (idempotent)", r1.stderr + r2.stderr)
    meta = subprocess.run(["kcat", "-L", "-b", os.environ["KAFKA_BOOTSTRAP"], "-t", topic], capture_output=True,
                          text=True).stdout
    c.ok("2 partitions" in meta, "the topic has the requested partitions", meta[:200])

    r = run("frobnicate")
    c.ok(r.returncode == 2 and "unknown command" in r.stderr, "unknown command exits 2")
    r = run("--help")
    c.ok(r.returncode == 0 and "partitions maintain" in r.stdout and "database.url" in r.stdout,
         "--help lists commands and settings")
    menv = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OBS_DATABASE_URL")}
    r = run("migrate", env=menv)
    c.ok(r.returncode == 1 and "database.url is not set" in r.stderr, "missing database URL is one clear line")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
    drop_db(name)
c.finish()
