#!/usr/bin/env python3
"""bench/producer/latency.py - how long after a line is appended to a followed
transcript is it in Kafka?

Runs obs-producer in follow mode on a fresh directory, appends realistic
transcript lines to one session file at a steady rate (default 200 lines/s
for 20 s), and consumes the topic at the same time with kcat (fetch wait
5 ms). Each line carries its sequence number and the wall-clock time of its
append. Three figures, all from the same lines:

  e2e      append -> the record is readable by a consumer (kcat hands it to
           this script). A record is readable only after the broker
           committed it, which with acks=all is when the producer's ack is
           sent, so this is an upper bound of append -> ack (it adds the
           consumer's fetch and a pipe). This is the figure reported as
           ack_latency_p99_ms.
  read     append -> obs-producer read the line (the record's observed_time,
           millisecond resolution): the inotify / poll-loop part.
  ack      obs-producer's own histogram observatory_producer_delivery_latency_
           seconds (read -> ack), from /metrics: the upper bound of the bucket
           holding the 99th percentile.

usage: latency.py BOOTSTRAP TOPIC PRODUCER_BIN WORKDIR ADMIN_PORT [RATE] [SECONDS]
Prints one JSON object on stdout; progress on stderr.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request


def zz(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (n >> 1) ^ -(n & 1), i


def skip_str(buf, i):
    n, i = zz(buf, i)
    return i + n, buf[i:i + n]


def decode(v):
    """observed_time_ms and payload of a SessionEvent (schemas/session_event.avsc order)."""
    if v[:2] != b"\xc3\x01":
        raise ValueError("bad magic")
    i = 10
    for _ in range(6):  # event_id tenant host user source_path file_id
        i, _x = skip_str(v, i)
    _, i = zz(v, i)  # source_offset
    i, _x = skip_str(v, i)  # session_id
    u, i = zz(v, i)  # event_time union
    if u == 1:
        _, i = zz(v, i)
    observed, i = zz(v, i)
    i, _x = skip_str(v, i)  # agent
    u, i = zz(v, i)  # agent_version union
    if u == 1:
        i, _x = skip_str(v, i)
    i, _x = skip_str(v, i)  # producer_version
    _, i = zz(v, i)  # redactions
    i, payload = skip_str(v, i)
    return observed, payload


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def hist_p99_le(text, name):
    """Upper bound (seconds) of the bucket holding the 99th percentile."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    if not buckets:
        return None
    buckets.sort()
    total = buckets[-1][1]
    for le, n in buckets:
        if n >= 0.99 * total:
            return le
    return None


def main():
    bootstrap, topic, binary, work, port = sys.argv[1:6]
    rate = float(sys.argv[6]) if len(sys.argv) > 6 else 200.0
    seconds = float(sys.argv[7]) if len(sys.argv) > 7 else 20.0
    root = os.path.join(work, "latency-root")
    proj = os.path.join(root, "-bench-latency")
    os.makedirs(proj, exist_ok=True)
    path = os.path.join(proj, "0b7e6f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b.jsonl")
    pad = "x" * 600  # lines of a realistic size (~750 bytes)

    def line(seq):
        return (json.dumps({"type": "user", "sessionId": "0b7e6f3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
                            "bench_seq": seq, "t_append_ns": time.time_ns(),
                            "message": {"role": "user", "content": pad}}) + "\n").encode()

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(fd, line(-1))  # the first line fixes the file's fingerprint
    env = dict(os.environ, OBS_WATCH_ROOTS=root, OBS_KAFKA_TOPIC=topic, KAFKA_BOOTSTRAP=bootstrap,
               OBS_CHECKPOINT_PATH=os.path.join(work, "latency.ckpt"), OBS_ADMIN_LISTEN=f"127.0.0.1:{port}",
               OBS_LOG_LEVEL="warn")
    prod = subprocess.Popen([binary], env=env)
    kc = None
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or prod.poll() is not None:
                raise SystemExit("latency: obs-producer did not become ready")
            time.sleep(0.1)
        kc = subprocess.Popen(["kcat", "-C", "-u", "-q", "-b", bootstrap, "-t", topic, "-o", "beginning",
                               "-X", "fetch.wait.max.ms=5", "-X", "fetch.min.bytes=1", "-f", "%S:%s"],
                              stdout=subprocess.PIPE)
        recv = {}  # seq -> (receive ns, observed ms, append ns)
        lock = threading.Lock()

        def reader():
            f = kc.stdout
            while True:
                n = b""
                while True:
                    c = f.read(1)
                    if not c:
                        return
                    if c == b":":
                        break
                    n += c
                val = f.read(int(n))
                now = time.time_ns()
                observed, payload = decode(val)
                d = json.loads(payload)
                with lock:
                    recv[d["bench_seq"]] = (now, observed, d["t_append_ns"])

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        time.sleep(1.0)  # the consumer has its partitions
        n = int(rate * seconds)
        print(f"latency: appending {n} lines at {rate:.0f}/s", file=sys.stderr)
        t0 = time.monotonic()
        for seq in range(n):
            wait = t0 + seq / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            os.write(fd, line(seq))
        deadline = time.time() + 15
        while time.time() < deadline:
            with lock:
                if all(s in recv for s in range(n)):
                    break
            time.sleep(0.05)
        text = metrics(port)
        with lock:
            got = {s: recv[s] for s in range(n) if s in recv}
        e2e = [(r - a) / 1e6 for r, _, a in got.values()]
        read = [o - a / 1e6 for _, o, a in got.values()]
        ack_le = hist_p99_le(text, "observatory_producer_delivery_latency_seconds")
        out = {
            "lines": n, "received": len(got), "rate_per_s": rate, "seconds": seconds,
            "e2e_p50_ms": round(pct(e2e, 50), 2), "e2e_p99_ms": round(pct(e2e, 99), 2),
            "e2e_max_ms": round(max(e2e), 2) if e2e else None,
            "read_p50_ms": round(pct(read, 50), 2), "read_p99_ms": round(pct(read, 99), 2),
            "ack_hist_p99_le_ms": ack_le * 1000 if ack_le is not None else None,
        }
        print(json.dumps(out))
        if len(got) != n:
            print(f"latency: only {len(got)} of {n} lines arrived", file=sys.stderr)
            sys.exit(1)
    finally:
        os.close(fd)
        if kc:
            kc.kill()
            kc.wait()
        prod.send_signal(signal.SIGTERM)
        try:
            prod.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prod.kill()


if __name__ == "__main__":
    main()
