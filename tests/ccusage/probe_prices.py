#!/usr/bin/env python3
"""Derive ccusage's offline per-token prices by feeding it one-line transcripts.

For every model id and every token category (input, output, 5-minute cache
write, 1-hour cache write, cache read) this writes two throw-away sessions into
a temporary CLAUDE_CONFIG_DIR: one line with 100,000 tokens of that category
(below the 200k tier) and one with 1,000,000 (above it).  ccusage prices each
session offline; then

    base  = cost(100k) / 100,000
    above = (cost(1M) - 200,000 * base) / 800,000   (only if != base)

The result is written to common/model_prices.json (stdlib only).

Usage: tests/ccusage/probe_prices.py [--write]   (prints the table; --write
also rewrites common/model_prices.json).  Needs the ccusage binary, see run.sh.
"""
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CCUSAGE_VERSION = "20.0.24"
BIN = ROOT / ".cache" / "ccusage" / "node_modules" / ".bin" / "ccusage"

# (model id, description).  Full dated ids where Anthropic publishes them,
# short ids where Claude Code writes the short form.
MODELS = [
    ("claude-opus-4-20250514", "Claude Opus 4"),
    ("claude-opus-4-1-20250805", "Claude Opus 4.1"),
    ("claude-opus-4-5-20251101", "Claude Opus 4.5"),
    ("claude-opus-4-6", "Claude Opus 4.6"),
    ("claude-sonnet-4-20250514", "Claude Sonnet 4"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
]
CATS = ["input", "output", "cache5m", "cache1h", "read", "fast"]
SMALL, BIG, TIER = 100_000, 1_000_000, 200_000


def usage_for(cat, n):
    u = {"input_tokens": 0, "cache_creation_input_tokens": 0,
         "cache_read_input_tokens": 0, "output_tokens": 0}
    if cat == "input":
        u["input_tokens"] = n
    elif cat == "output":
        u["output_tokens"] = n
    elif cat == "cache5m":
        u["cache_creation_input_tokens"] = n
        u["cache_creation"] = {"ephemeral_5m_input_tokens": n, "ephemeral_1h_input_tokens": 0}
    elif cat == "cache1h":
        u["cache_creation_input_tokens"] = n
        u["cache_creation"] = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": n}
    elif cat == "read":
        u["cache_read_input_tokens"] = n
    elif cat == "fast":
        u["input_tokens"] = n
        u["speed"] = "fast"
    return u


def main():
    if not BIN.exists():
        sys.exit(f"ccusage not installed at {BIN}; run tests/ccusage/run.sh first")
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp, "cfg", "projects", "-probe")
        proj.mkdir(parents=True)
        keys = {}
        i = 0
        for mi, (model, _) in enumerate(MODELS):
            for cat in CATS:
                for n in (SMALL, BIG):
                    i += 1
                    sid = f"00000000-0000-4000-8000-{i:012d}"
                    keys[sid] = (model, cat, n)
                    line = {"type": "assistant", "sessionId": sid, "version": "2.0.46",
                            "timestamp": "2025-10-01T10:00:00.000Z",
                            "requestId": f"req_probe{i}", "uuid": sid,
                            "message": {"id": f"msg_probe{i}", "type": "message",
                                        "role": "assistant", "model": model,
                                        "content": [], "usage": usage_for(cat, n)}}
                    (proj / f"{sid}.jsonl").write_text(
                        json.dumps(line, separators=(",", ":")) + "\n")
        env = dict(os.environ, CLAUDE_CONFIG_DIR=str(Path(tmp, "cfg")),
                   HOME=tmp, TZ="UTC", NO_COLOR="1")
        out = subprocess.run([str(BIN), "claude", "session", "--offline", "--json",
                              "--timezone", "UTC", "--mode", "calculate"],
                             env=env, check=True, capture_output=True, text=True).stdout
    cost = {}
    for s in json.loads(out)["sessions"]:
        cost[keys[s["sessionId"]]] = s["totalCost"]

    def r(x):  # prices are decimal numbers of a few significant digits
        return float(f"{x:.6g}")

    field = {"input": "input_cost_per_token", "output": "output_cost_per_token",
             "cache5m": "cache_creation_input_token_cost",
             "cache1h": None, "read": "cache_read_input_token_cost"}
    table = {}
    for model, desc in MODELS:
        entry = {"description": desc}
        if cost[(model, "input", SMALL)] == 0:
            print(f"warning: ccusage has no offline price for {model}; skipped", file=sys.stderr)
            continue
        for cat in CATS:
            base = r(cost[(model, cat, SMALL)] / SMALL)
            above = r((cost[(model, cat, BIG)] - TIER * base) / (BIG - TIER))
            if cat == "fast":
                # usage.speed == "fast": whole line cost x fast multiplier
                mult = r(cost[(model, cat, SMALL)] / cost[(model, "input", SMALL)])
                if mult != 1.0:
                    entry["fast_multiplier"] = mult
                continue
            if cat == "cache1h":
                # ccusage 20 prices 1-hour cache writes at 2 x input (both tiers);
                # check that instead of storing a field.
                inp = entry["input_cost_per_token"]
                inp_above = entry.get("input_cost_per_token_above_200k_tokens", inp)
                assert abs(base - 2 * inp) < 1e-12 and abs(above - 2 * inp_above) < 1e-12, \
                    (model, base, above)
                continue
            entry[field[cat]] = base
            if abs(above - base) > 1e-15:
                entry[field[cat] + "_above_200k_tokens"] = above
        table[model] = entry
    doc = {
        "version": f"{date.today().isoformat()}.1",
        "source": f"ccusage {CCUSAGE_VERSION} offline table (LiteLLM fields)",
        "derived_by": "tests/ccusage/probe_prices.py: one-line sessions of 100k and 1M tokens "
                      "per model and category, priced by `ccusage claude session --offline "
                      "--json --mode calculate`",
        "rules": {
            "unit": "USD per token",
            "tier_threshold_tokens": TIER,
            "tiering": "per line and per token category: n <= 200000 or no _above_200k price "
                       "-> n*base; else 200000*base + (n-200000)*above",
            "cache_creation_5m": "cache_creation_input_token_cost (also used for "
                                 "cache_creation_input_tokens when usage.cache_creation is absent)",
            "cache_creation_1h": "2 x input_cost_per_token (2 x input_cost_per_token_above_200k_tokens above the tier)",
            "fast": "usage.speed == \"fast\": line cost x fast_multiplier (1 when absent); "
                    "ccusage reports the model as <model>-fast",
            "unknown_model_or_synthetic": "cost 0",
        },
        "models": table,
    }
    text = json.dumps(doc, indent=2) + "\n"
    print(text, end="")
    if "--write" in sys.argv:
        (ROOT / "common" / "model_prices.json").write_text(text)


if __name__ == "__main__":
    main()
