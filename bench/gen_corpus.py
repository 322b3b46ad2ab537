#!/usr/bin/env python3
"""bench/gen_corpus.py - generate a large corpus of realistic transcript
files from the shapes in tests/fixtures/projects.

Every output session is a fixture file whose UUIDs, message ids and request
ids are rewritten per copy (so sessions, messages and usage keys are all
distinct), repeated until the file reaches --file-mb. Timestamps move on
with every copy (by the fixture's span plus a minute), so a session's lines
keep distinct, increasing times as real ones do, and the files start on
different days over 90 days, counted from one base day (180 days ago) for
every template: the fixtures were recorded on dates years apart, and
shifting each from its own date spread the corpus over ~945 day partitions
instead of ~160 (docs/adr/0024, fourth pass). Layout mirrors
~/.claude/projects: <out>/<project>/<session>.jsonl.

usage: gen_corpus.py OUT_DIR --bytes N [--file-mb 8]
"""
import argparse
import datetime
import os
import re
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ID_RE = re.compile(rb"(msg_|req_|toolu_)([0-9A-Za-z]{6,})")
TS_RE = re.compile(rb'"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z"')


def parse_ts(b):
    return datetime.datetime.fromisoformat(b.decode())


def span_s(tpl):
    ts = [parse_ts(m.group(1)) for m in TS_RE.finditer(tpl)]
    return (max(ts) - min(ts)).total_seconds() if ts else 0.0


def start(tpl):
    ts = [parse_ts(m.group(1)) for m in TS_RE.finditer(tpl)]
    return min(ts) if ts else None


def shift(body, seconds):
    d = datetime.timedelta(seconds=seconds)

    def one(m):
        t = parse_ts(m.group(1)) + d
        return b'"timestamp":"' + t.strftime("%Y-%m-%dT%H:%M:%S.").encode() + b"%03dZ\"" % (t.microsecond // 1000)

    return TS_RE.sub(one, body)


def templates():
    out = []
    base = os.path.join(REPO, "tests", "fixtures", "projects")
    for d, _, files in os.walk(base):
        for f in files:
            if f.endswith(".jsonl") and "/subagents" not in d:
                data = open(os.path.join(d, f), "rb").read()
                if data.count(b"\n") > 5:
                    out.append(data)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--bytes", type=int, required=True)
    ap.add_argument("--file-mb", type=int, default=8)
    a = ap.parse_args()
    tpls = templates()
    spans = [span_s(t) + 60 for t in tpls]
    today = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    base = today - datetime.timedelta(days=180)
    to_base = [((base - start(t)).total_seconds() if start(t) else 0.0) for t in tpls]
    total, n = 0, 0
    while total < a.bytes:
        sid = uuid.uuid4()
        proj = os.path.join(a.out, f"-bench-project-{n % 16}")
        os.makedirs(proj, exist_ok=True)
        tpl = tpls[n % len(tpls)]
        size, rep = 0, 0
        with open(os.path.join(proj, f"{sid}.jsonl"), "wb") as f:
            while size < a.file_mb << 20 and total + size < a.bytes:
                salt = f"{sid}-{rep}".encode()
                body = UUID_RE.sub(lambda m: str(uuid.uuid5(uuid.NAMESPACE_OID, (salt + m.group(0)).decode()))
                                   .encode(), tpl)
                body = ID_RE.sub(lambda m: m.group(1) + m.group(2)[:8] + salt[-12:].replace(b"-", b"x"), body)
                body = body.replace(b'"sessionId":"', b'"sessionId":"' + str(sid).encode() + b'","origSessionId":"')
                body = shift(body, to_base[n % len(tpls)] + (n % 90) * 86400 + rep * spans[n % len(tpls)])
                f.write(body)
                size += len(body)
                rep += 1
        total += size
        n += 1
    print(f"{n} files, {total} bytes")


if __name__ == "__main__":
    main()
