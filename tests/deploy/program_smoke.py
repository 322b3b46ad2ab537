#!/usr/bin/env python3
"""Start each program with exactly the configuration the chart gives it.

For every pod template of the rendered chart (WORKDIR/<scenario>.yaml) whose
component is a program (api, worker, producer, migrations, partitions), this
builds the container's environment as Kubernetes would (ConfigMap envFrom +
env; Secret values replaced by harmless stand-ins, the database pointed at
a closed port), maps the image's paths onto the repository, and runs the
command from build/bin for a couple of seconds inside a private network
namespace (`unshare -rn`, so 0.0.0.0:8080 binds nowhere real). A program that
exits with status 2 or prints "config:" rejected its configuration: that is
a failure. Anything else (running until stopped, or failing later for lack
of Kafka/PostgreSQL) passes.

Usage: program_smoke.py WORKDIR BINDIR SCENARIO...
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROGRAMS = {"api", "worker", "producer", "migrations", "partitions"}


def main():
    work, bindir, scenarios = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
    tmp = pathlib.Path(tempfile.mkdtemp())
    (tmp / "transcripts").mkdir()
    (tmp / "state").mkdir()
    image_paths = {  # where the image keeps things -> where the repository has them
        "/usr/share/observatory/model_prices.json": str(ROOT / "common/model_prices.json"),
        "/usr/share/observatory/migrations": str(ROOT / "migrations"),
        "/transcripts": str(tmp / "transcripts"),
        "/var/lib/observatory": str(tmp / "state"),
    }
    failures, seen = [], set()
    try:
        for scenario in scenarios:
            docs = [d for d in yaml.safe_load_all((pathlib.Path(work) / f"{scenario}.yaml").read_text()) if d]
            cms = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
            for d in docs:
                if d["kind"] in ("Deployment", "DaemonSet", "Job"):
                    tpl = d["spec"]["template"]
                elif d["kind"] == "CronJob":
                    tpl = d["spec"]["jobTemplate"]["spec"]["template"]
                else:
                    continue
                comp = tpl["metadata"]["labels"].get("app.kubernetes.io/component")
                if comp not in PROGRAMS:
                    continue
                c = tpl["spec"]["containers"][0]
                env = {}
                for ef in c.get("envFrom", []):
                    env.update(cms[ef["configMapRef"]["name"]])
                for e in c.get("env", []):
                    if "value" in e:
                        env[e["name"]] = str(e["value"])
                    elif "secretKeyRef" in e.get("valueFrom", {}):
                        env[e["name"]] = ("postgres://observatory:x@127.0.0.1:1/observatory?connect_timeout=1"
                                          if "DATABASE_URL" in e["name"] else "stand-in")
                    elif "fieldRef" in e.get("valueFrom", {}):
                        env[e["name"]] = "node-1"
                for k, v in env.items():
                    for image_path, local in image_paths.items():
                        if v == image_path or v.startswith(image_path + "/"):
                            env[k] = local + v[len(image_path):]
                cmd = list(c["command"]) + list(c.get("args", []))
                key = (tuple(cmd), tuple(sorted(env.items())))
                if key in seen:
                    continue
                seen.add(key)
                binary = bindir / cmd[0]
                if not binary.is_file():
                    failures.append(f"{scenario}: {cmd[0]} is not built in {bindir}")
                    continue
                run_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), **env}
                try:
                    p = subprocess.run(["unshare", "-rn", str(binary)] + cmd[1:], env=run_env,
                                       capture_output=True, text=True, timeout=2.5)
                    rc, err = p.returncode, p.stderr
                except subprocess.TimeoutExpired as e:
                    rc, err = "running", (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
                bad = rc == 2 or "config:" in err
                print(f"{scenario}: {comp}: {' '.join(cmd)} -> {rc}{'  REJECTED' if bad else ''}")
                if bad:
                    failures.append(f"{scenario}: {comp} rejected its configuration:\n{err.strip()[-800:]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("problem:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
