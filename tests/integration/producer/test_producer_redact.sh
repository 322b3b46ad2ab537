#!/usr/bin/env bash
# test_producer_redact.sh - redaction against the real broker: a transcript
# holding (fake, rule-shaped) secrets of several built-in rule types, a
# 4096-bit-sized PEM key, near-misses that must pass untouched and a line on
# which a user rule hits PCRE2's match limit, followed by obs-producer in
# follow mode. The topic is read back raw (kcat) and decoded (records.py):
# no secret byte in any record, every payload still valid JSON, near-misses
# byte-identical, the match-limit line published as its metadata only, and
# the per-rule counters on /metrics equal to what was planted.
# Every check prints PASS:/FAIL:; the last line is "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/stack.sh"
: "${KAFKA_BOOTSTRAP:=127.0.0.1:19092}"
BIN=$OBS_BIN/obs-producer
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else ko "$what"; fi; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

work=$(mktemp -d /tmp/obs-producer-redact.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
[ -x "$BIN" ] || { ko "binary $BIN missing"; finish; }

T=$(obs_test_topics "t.producer.$$.redact" 3) || { ko "create topic"; finish; }
R=$work/root
mkdir -p "$R/-w-app"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/producer.conf" <<CONF
watch.roots = $R
checkpoint.path = $work/ckpt
kafka.topic = $T
kafka.bootstrap = $KAFKA_BOOTSTRAP
host = it-host
tenant = it
admin.listen = 127.0.0.1:$port
redact.rules = slow=(?:a|a)*[\x01\x02]
CONF

# The transcript and the expectations are written by one script so they
# cannot drift apart: plan.json lists the secrets, the near-misses and the
# expected count per rule.
python3 - "$R/-w-app/0d6c1f7e-redact.jsonl" "$work/plan.json" <<'PY'
import json, sys
out, plan_path = sys.argv[1:3]
def user(text, extra=None):
    d = {"type": "user", "sessionId": "0d6c1f7e-redact", "cwd": "/w/app", "uuid": "u",
         "message": {"role": "user", "content": text}}
    d.update(extra or {})
    return json.dumps(d, separators=(",", ":"))
pem_body = "\n".join("MIIJKAIBAAKCAgEA%048d" % i for i in range(52))  # ~3.3 KB: a 4096-bit key
secrets = {
    "aws_access_key": ["AKIAIOSFODNN7EXAMPLE"],
    "github_token": ["ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"],
    "openai_key": ["sk-proj-AbCdEfGhIjKlMnOpQrSt1234uvWX"],
    "anthropic_key": ["sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx_yz-0123"],
    "url_password": ["s3cretPassFAKE"],
    "auth_value": ["hunter2-fake-password"],
    "slack_token": ["xoxb-123456789012-abcdefghijkl"],
    "jwt": ["eyJzdWIiOiIxMjM0NTY3ODkwIn0"],
    "pem_private_key": ["MIIJKAIBAAKCAgEA000000000000000000000000000000000000000000000000"],
}
lines = [
    user("my key is AKIAIOSFODNN7EXAMPLE, ok?"),
    user("export GH_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 && gh pr list"),
    user("OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrSt1234uvWX\nANTHROPIC_API_KEY=sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx_yz-0123"),
    user("psql postgres://admin:s3cretPassFAKE@db.example.com:5432/app"),
    json.dumps({"type": "assistant", "message": {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t1", "name": "Bash",
         "input": {"command": "login", "password": "hunter2-fake-password"}}]}}, separators=(",", ":")),
    user("slack xoxb-123456789012-abcdefghijkl and jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"),
    user("cat id_rsa\n-----BEGIN RSA PRIVATE KEY-----\n" + pem_body + "\n-----END RSA PRIVATE KEY-----\ndone"),
]
near = [
    user("pip install sk-learn; ghp_short123; AKIAIOSFODNN7EXAMPL is 19; glpat-short; "
         "https://user@example.com/x; the authorization flow uses bearer tokens"),
    user("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0B\n-----END PUBLIC KEY-----"),
]
# A user rule PCRE2 cannot evaluate on this line (exponential backtracking):
# it must fail closed, i.e. the text (and the key in it) must not go out.
limit = user("a" * 40 + " AKIAIOSFODNN7EXAMPLE hunter3-limit-text")
with open(out, "w") as o:
    for l in lines + near + [limit]:
        o.write(l + "\n")
counts = {"aws_access_key": 1, "github_token": 1, "openai_key": 1, "anthropic_key": 1, "url_password": 1,
          "auth_value": 1, "slack_token": 1, "jwt": 1, "pem_private_key": 1}
# The match-limit line's AKIA key is gone with its text: not counted as a redaction.
json.dump({"secrets": [s for v in secrets.values() for s in v] + ["hunter3-limit-text", "a" * 40],
           "near": near, "counts": counts, "lines": len(lines) + len(near) + 1}, open(plan_path, "w"))
PY
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lines"])' "$work/plan.json")

"$BIN" -c "$work/producer.conf" 2>"$work/producer.err" &
pid=$!
metrics() { curl -s "http://127.0.0.1:$port/metrics"; }
caught_up() {
    local m
    m=$(metrics) || return 1
    echo "$m" | grep -q "^observatory_producer_lines_total $want$" &&
        echo "$m" | grep -q '^observatory_producer_queue_depth 0$' &&
        echo "$m" | grep -q '^observatory_producer_bytes_behind 0$'
}
check "follow mode: all $want lines published and acknowledged" wait_until 30 caught_up
metrics >"$work/metrics.txt"
kill -TERM "$pid"
wait "$pid"
check "SIGTERM: exit 0" [ $? -eq 0 ]
pid=

kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T" -e -q -f '%k%s\n' >"$work/raw.bin" 2>/dev/null
# The checks below print PASS:/FAIL: lines; they are counted here.
count_lines() {
    local l
    while IFS= read -r l; do
        case "$l" in
            "PASS: "*) ok "${l#PASS: }" ;;
            "FAIL: "*) ko "${l#FAIL: }" ;;
            *) echo "$l" ;;
        esac
    done
}
count_lines < <(python3 - "$here" "$KAFKA_BOOTSTRAP" "$T" "$work/plan.json" "$work/raw.bin" <<'PY' || echo "FAIL: record checks crashed"
import json, subprocess, sys
sys.path.insert(0, sys.argv[1])
from records import decode
bootstrap, topic, plan_path, raw_path = sys.argv[2:6]
plan = json.load(open(plan_path))
raw = open(raw_path, "rb").read()
def res(ok, what):
    print(("PASS: " if ok else "FAIL: ") + what)
leaked = [s for s in plan["secrets"] if s.encode() in raw]
res(not leaked, "no secret byte sequence in any record read back from Kafka (%d checked)%s"
    % (len(plan["secrets"]), "" if not leaked else ": leaked " + ", ".join(leaked)))
out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-f", "%S:%s"],
                     capture_output=True, timeout=60).stdout
recs, i = [], 0
while i < len(out):
    j = out.index(b":", i)
    n = int(out[i:j])
    recs.append(decode(out[j + 1:j + 1 + n]))
    i = j + 1 + n
recs.sort(key=lambda r: r["source_offset"])
res(len(recs) == plan["lines"], "one record per line (%d)" % len(recs))
bad = [r["source_offset"] for r in recs if not isinstance(json.loads(r["payload"]), dict)]
valid = True
for r in recs:
    try:
        json.loads(r["payload"])
    except ValueError:
        valid = False
res(valid and not bad, "every payload is still a valid JSON object")
pays = [r["payload"].decode() for r in recs]
res(all("[REDACTED:" in p for p in pays[:7]), "each secret line carries [REDACTED:<rule>] markers")
res(all(r["redactions"] >= 1 for r in recs[:7]), "redactions field >= 1 on each secret line: %s"
    % [r["redactions"] for r in recs[:7]])
res("[REDACTED:pem_private_key]\\ndone" in pays[6],
    "4096-bit-sized PEM key replaced in one piece, text after it kept")
res("[REDACTED:url_password]@db.example.com" in pays[3], "url_password: user and host kept")
res(pays[7:9] == plan["near"], "near-misses published byte-identical (not redacted)")
res(recs[7]["redactions"] == 0 and recs[8]["redactions"] == 0, "near-misses: redactions 0")
lim = json.loads(pays[9])
res(lim.get("message", {}).get("content") == "" and lim.get("cwd") == "/w/app",
    "match-limit line published as its metadata only: %s" % pays[9][:160])
PY
)
check "metrics: redaction error counted for the user rule" \
    grep -q '^observatory_producer_redaction_errors_total{rule="slow"} 1$' "$work/metrics.txt"
check "metrics: no redaction error for built-in rules" \
    [ "$(grep '^observatory_producer_redaction_errors_total{' "$work/metrics.txt" | grep -v 'rule="slow"' | awk '$2 != 0' | wc -l)" -eq 0 ]
check "log: the match-limit warning names the rule" grep -q 'rule slow hit a PCRE2 limit' "$work/producer.err"
while read -r rule n; do
    check "metrics: redactions_total{rule=\"$rule\"} = $n" \
        grep -q "^observatory_producer_redactions_total{rule=\"$rule\"} $n\$" "$work/metrics.txt"
done < <(python3 -c 'import json,sys; [print(k, v) for k, v in json.load(open(sys.argv[1]))["counts"].items()]' "$work/plan.json")
check "metrics: no other rule counted" \
    [ "$(grep '^observatory_producer_redactions_total{' "$work/metrics.txt" | awk '$2 != 0' | wc -l)" -eq 9 ]
finish
