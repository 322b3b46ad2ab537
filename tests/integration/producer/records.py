#!/usr/bin/env python3
"""records.py - read every record of a topic with kcat and print one line per
record, tab-separated:
    key  kafka_offset  event_id  file_id  source_offset  source_path  payload_len  event_id_ok  payload(first 200 bytes, escaped)
Decodes the Avro single-object value (schemas/session_event.avsc, field
order fixed there) with the standard library only, and recomputes event_id
from the CONTRACTS.md rule so tests can check it.
usage: records.py BOOTSTRAP TOPIC TENANT HOST
(decode() is imported by other tests.)"""
import hashlib
import subprocess
import sys


def zz(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return (n >> 1) ^ -(n & 1), i


def s(buf, i):
    n, i = zz(buf, i)
    return buf[i:i + n], i + n


def decode(v):
    assert v[:2] == b"\xc3\x01", "bad magic"
    i = 10
    r = {}
    for f in ("event_id", "tenant", "host", "user", "source_path", "file_id"):
        x, i = s(v, i)
        r[f] = x.decode()
    r["source_offset"], i = zz(v, i)
    x, i = s(v, i)
    r["session_id"] = x.decode()
    u, i = zz(v, i)
    if u == 1:
        _, i = zz(v, i)
    _, i = zz(v, i)  # observed_time
    x, i = s(v, i)  # agent
    u, i = zz(v, i)
    if u == 1:
        _, i = s(v, i)
    _, i = s(v, i)  # producer_version
    r["redactions"], i = zz(v, i)
    r["payload"], i = s(v, i)
    return r


def main():
    bootstrap, topic, tenant, host = sys.argv[1:5]
    out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-f", "%K:%S:%o:%k%s"],
                         capture_output=True, timeout=60).stdout
    i = 0
    while i < len(out):
        j = out.index(b":", i)
        klen = int(out[i:j])
        k = out.index(b":", j + 1)
        vlen = int(out[j + 1:k])
        m = out.index(b":", k + 1)
        off = int(out[k + 1:m])
        key = out[m + 1:m + 1 + max(klen, 0)]
        val = out[m + 1 + max(klen, 0):m + 1 + max(klen, 0) + vlen]
        i = m + 1 + max(klen, 0) + vlen
        r = decode(val)
        h = hashlib.sha256(b"\0".join(x.encode() for x in (tenant, host, r["source_path"], r["file_id"],
                                                           str(r["source_offset"])))).hexdigest()[:32]
        pay = r["payload"][:200].decode("utf-8", "replace").replace("\t", " ").replace("\n", " ")
        print("\t".join([key.decode(), str(off), r["event_id"], r["file_id"], str(r["source_offset"]),
                         r["source_path"], str(len(r["payload"])), "1" if h == r["event_id"] else "0", pay]))


if __name__ == "__main__":
    main()
