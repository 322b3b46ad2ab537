#!/usr/bin/env python3
"""obs_session_derive from what a batch changed (migrations 0009, 0012) == the same
function recomputing everything, on PostgreSQL.

Two sessions get the same rows, batch by batch: 'inc' is derived the way
obs-worker does it (the batch's earliest new real-time line, earliest tool
call inserted or given a result and the latest, the models of its usage rows, whether it
replaced a usage row), 'ref' from all of its rows (obs_session_derive(tenant,
session)). After every batch the derived columns and insights of both must be
equal (ids mapped). Batches are random: appended and out-of-order lines, API
error and interrupted endings, sidechain lines, tool calls in failing runs of
the same tool (error loops) split across batches, results arriving in a later
batch or for old calls, long calls (absolute and relative to the tenant's
medians), a refresh of the medians, usage rows moved to another model.
"""
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import obs_e2e as e2e  # noqa: E402

c = e2e.Check("derive-incremental")
SESSIONS = ("inc", "ref")
TOOLS = ("Bash", "Read", "Edit")
MODELS = ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "<synthetic>")


def lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, dt.datetime):
        return "'" + v.isoformat() + "'::timestamptz"
    return "'" + str(v).replace("'", "''") + "'"


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.t = dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
        self.n = 0
        self.calls = []       # [id, time, sidechain, tool, has_result]
        self.usage = []       # [key, model]
        self.prev_tool = "Bash"

    def nid(self):
        self.n += 1
        return f"{self.n:05d}"

    def batch(self):
        """One batch: a list of (kind, fields) with ids without the session prefix."""
        r, out = self.r, []
        for _ in range(r.randint(1, 12)):
            if r.random() < 0.12 and self.n > 5:
                t = self.t - dt.timedelta(seconds=r.randint(1, 4000))      # out of order
            else:
                self.t += dt.timedelta(seconds=r.choice((1, 5, 30, 90, 400)))  # some gaps over 5 min
                t = self.t
            side = r.random() < 0.2
            typ = r.choice(("user", "assistant", "assistant", "system"))
            text, raw = "hello", "{}"
            if typ == "assistant" and r.random() < 0.1:
                raw = '{"isApiErrorMessage": true}'
            if typ == "user" and r.random() < 0.1:
                text = "[Request interrupted by user]"
            if r.random() < 0.05:
                raw = '{"isMeta": true}'
            out.append(("event", dict(id=self.nid(), t=t, side=side, type=typ, text=text, raw=raw)))
            if typ == "assistant" and r.random() < 0.7:
                for _ in range(r.randint(1, 3)):
                    tool = self.prev_tool if r.random() < 0.7 else r.choice(TOOLS)
                    self.prev_tool = tool
                    cid = self.nid()
                    self.calls.append([cid, t, side, tool, False])
                    out.append(("use", dict(id=cid, t=t, side=side, tool=tool)))
            if typ == "assistant" and r.random() < 0.6:
                if self.usage and r.random() < 0.1:
                    u = r.choice(self.usage)                       # a replacement
                    u[1] = r.choice(MODELS)
                    out.append(("usage", dict(key=u[0], model=u[1], t=t, repl=True)))
                else:
                    u = [self.nid(), r.choice(MODELS)]
                    self.usage.append(u)
                    out.append(("usage", dict(key=u[0], model=u[1], t=t, repl=False)))
        # results: most pending calls get one now, some later; now and then an old call's again
        for call in self.calls:
            if not call[4] and r.random() < 0.75:
                call[4] = True
                out.append(("result", self.result(call)))
        if self.calls and r.random() < 0.1:
            out.append(("result", self.result(r.choice(self.calls))))
        return out

    def result(self, call):
        r = self.r
        dur = r.choice((200, 900, 4000, 70_000, 150_000, 400_000))
        return dict(id=call[0], t=call[1] + dt.timedelta(milliseconds=dur), err=r.random() < 0.55)


def apply_sql(sess, batch):
    """Statements storing the batch for one session, and the derive arguments the worker would pass."""
    sql, ev_from, models, repl = [], None, set(), False
    p = sess + "-"
    for kind, f in batch:
        if kind == "event":
            sql.append("INSERT INTO events (tenant, event_id, event_time, session_id, host, os_user, source_path,"
                       " file_id, source_offset, type, is_sidechain, text_content, raw, observed_time) VALUES"
                       f" ('t', {lit(p + f['id'])}, {lit(f['t'])}, {lit(sess)}, 'h', 'u', '/p/a.jsonl', 'f',"
                       f" {int(f['id'])}, {lit(f['type'])}, {lit(f['side'])}, {lit(f['text'])}, {lit(f['raw'])}::jsonb,"
                       f" {lit(f['t'])});")
            ev_from = f["t"] if ev_from is None else min(ev_from, f["t"])
        elif kind == "use":
            sql.append("INSERT INTO tool_calls (tenant, tool_use_id, event_time, session_id, event_id, tool_name,"
                       f" tool_category, is_sidechain) VALUES ('t', {lit(p + f['id'])}, {lit(f['t'])}, {lit(sess)},"
                       f" 'e', {lit(f['tool'])}, 'x', {lit(f['side'])});")
        elif kind == "result":
            sql.append(f"UPDATE tool_calls SET result_time = {lit(f['t'])}, is_error = {lit(f['err'])},"
                       " error_excerpt = 'boom', duration_ms = GREATEST(0, (extract(epoch FROM"
                       f" {lit(f['t'])} - event_time) * 1000)::bigint) WHERE tenant = 't'"
                       f" AND tool_use_id = {lit(p + f['id'])};")
        elif kind == "usage":
            sql.append("INSERT INTO message_usage (tenant, usage_key, message_id, session_id, event_id, event_time,"
                       f" model, os_user, host) VALUES ('t', {lit(p + f['key'])}, {lit(p + f['key'])}, {lit(sess)},"
                       f" 'e', {lit(f['t'])}, {lit(f['model'])}, 'u', 'h') ON CONFLICT (tenant, usage_key)"
                       " DO UPDATE SET model = EXCLUDED.model;")
            if f["model"] != "<synthetic>":
                models.add(f["model"])
            repl = repl or f["repl"]
    return sql, ev_from, models, repl


def use_times(batch, calls_by_id):
    """(earliest, latest) call the batch inserted or gave a result: the worker marks a result
    with its use's time (RETURNING event_time)."""
    times = [calls_by_id[f["id"]] for k, f in batch if k == "result"]
    times += [f["t"] for k, f in batch if k == "use"]
    return (min(times), max(times)) if times else (None, None)


STATE = ("SELECT active_ms, models, ended_with, has_errors, insights FROM sessions"
         " WHERE tenant = 't' AND session_id = :'v1'")
INSIGHTS = ("SELECT replace(replace(insight_id, :'v1' || '-', 'S-'), ':' || :'v1', ':S'), kind, severity,"
            " replace(reason, :'v1' || '-', 'S-'), replace(details::text, :'v1' || '-', 'S-'), event_time"
            " FROM insights WHERE tenant = 't' AND session_id = :'v1' ORDER BY 1")


def main():
    if not os.environ.get("DATABASE_URL"):
        print("FAIL: derive-incremental: DATABASE_URL not set (run via tests/run.sh integration)")
        print("0 passed, 1 failed")
        return 1
    seed = int(os.environ.get("OBS_TEST_SEED", time.time_ns() % 1_000_000))
    print(f"seed {seed} (OBS_TEST_SEED={seed} repeats this run)")
    name = f"wrk_derive_{os.getpid()}_{int(time.time())}"
    url = e2e.fresh_db(name)
    try:
        e2e.psql(url, "INSERT INTO tool_medians (tenant, tool_name, median_ms, samples, window_end, computed_at)"
                      " VALUES ('t', 'Bash', 5000, 50, now(), now() - interval '1 day'),"
                      " ('t', 'Read', 20000, 50, now(), now() - interval '1 day');"
                      " INSERT INTO sessions (tenant, session_id, host, os_user) VALUES"
                      " ('t', 'inc', 'h', 'u'), ('t', 'ref', 'h', 'u');")
        g = Gen(seed)
        calls_by_id = {}
        steps, mism = 60, 0
        for step in range(steps):
            batch = g.batch()
            if step in (0, 10):
                # a model only one usage row has, then that row replaced by a copy of another model:
                # the model must leave the list
                batch.append(("usage", dict(key="rare", model="claude-rare-1" if step == 0 else "claude-sonnet-4-5",
                                            t=g.t, repl=step == 10)))
            for k, f in batch:
                if k == "use":
                    calls_by_id[f["id"]] = f["t"]
            if step == steps // 2:
                # the tenant's medians refreshed: the next derive reads every call again
                e2e.psql(url, "UPDATE tool_medians SET median_ms = median_ms / 4, computed_at = now()")
            for sess in SESSIONS:
                sql, ev_from, models, repl = apply_sql(sess, batch)
                tool_from, tool_to = use_times(batch, calls_by_id)
                times = [f["t"] for k, f in batch if k == "event"]
                sql.append("UPDATE sessions SET first_event_at = LEAST(coalesce(first_event_at, 'infinity'),"
                           f" {lit(min(times))}), last_event_at = GREATEST(coalesce(last_event_at, '-infinity'),"
                           f" {lit(max(times))}) WHERE session_id = {lit(sess)};")
                if sess == "inc":
                    arr = "ARRAY[" + ",".join(lit(m) for m in sorted(models)) + "]::text[]" if models else "NULL"
                    sql.append(f"SELECT obs_session_derive('t', 'inc', {lit(ev_from)}, {lit(tool_from)},"
                               f" {lit(tool_to)}, {arr}, {lit(repl)}, false);")
                else:
                    sql.append("SELECT obs_session_derive('t', 'ref');")
                e2e.psql(url, "BEGIN;\n" + "\n".join(sql) + "\nCOMMIT;")
            a, b = (e2e.psql(url, STATE, s) for s in SESSIONS)
            ia, ib = (e2e.psql(url, INSIGHTS, s) for s in SESSIONS)
            if a != b or ia != ib:
                mism += 1
                if mism <= 3:
                    c.eq((a, ia), (b, ib), f"batch {step}: incremental == full")
        c.eq(mism, 0, f"{steps} random batches: derived columns and insights of the incremental session"
                      " == the fully recomputed one after every batch")
        kinds = {r[0] for r in e2e.psql(url, "SELECT DISTINCT kind FROM insights WHERE session_id = 'ref'")}
        c.ok({"tool_error_loop", "long_tool_call"} <= kinds,
             f"the run produced error loops and long calls to compare (kinds {sorted(kinds)})")
        # the stored state is what the incremental path starts from
        st = e2e.psql(url, "SELECT derive_hi = last_event_at, conv_at IS NOT NULL, derived_at IS NOT NULL,"
                           " (tool_lo, tool_hi) = (SELECT min(event_time), max(event_time) FROM tool_calls c"
                           " WHERE c.tenant = s.tenant AND c.session_id = s.session_id)"
                           " FROM sessions s WHERE session_id = 'inc'")
        c.eq(st, [["t", "t", "t", "t"]], "derive_hi, conv_at, derived_at and the tool-call span are kept in sessions")
        # the two-argument form recomputes: the incremental session equals it afterwards too
        before = e2e.psql(url, STATE, "inc")
        e2e.psql(url, "SELECT obs_session_derive('t', 'inc')")
        c.eq(e2e.psql(url, STATE, "inc"), before, "obs_session_derive(tenant, session) changes nothing after it")
    finally:
        e2e.drop_db(name)
    c.finish()


if __name__ == "__main__":
    sys.exit(main())
