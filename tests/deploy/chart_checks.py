#!/usr/bin/env python3
"""Checks of the rendered chart, the runbooks, the Terraform and the
Dockerfile, called by tests/deploy/run.sh one at a time:

    chart_checks.py CHECK WORKDIR

WORKDIR holds the chart renderings run.sh made (<scenario>.yaml for every
deploy/helm/observatory/ci/<scenario>-values.yaml). Each check prints what
it looked at and exits 0 (pass) or 1 (fail, with the reasons). Only the
chart checks need PyYAML.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "ops" / "runbooks"
ALERTS = {
    "ObservatoryWorkerLagHigh",
    "ObservatoryDLQRateHigh",
    "ObservatoryApiHighErrorRate",
    "ObservatoryApiHighLatency",
    "ObservatoryApiKeyListenerDown",
    "ObservatoryProducerDeliveryErrors",
    "ObservatoryPartitionsMissing",
}
PROCEDURES = ["deploy", "rollback", "scaling", "dlq-replay", "partitions-and-retention", "backup-restore"]
SECTIONS = ["Meaning", "Impact", "Diagnosis", "Mitigation", "Rollback", "Escalation"]
IMMUTABLE = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}

problems = []


def problem(msg):
    problems.append(msg)


def docs(work, scenario):
    import yaml  # only the chart checks need it

    path = pathlib.Path(work) / f"{scenario}.yaml"
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def scenarios(work):
    return sorted(p.name[: -len("-values.yaml")] for p in (ROOT / "deploy/helm/observatory/ci").glob("*-values.yaml"))


def kind(ds, k):
    return [d for d in ds if d.get("kind") == k]


def name(d):
    return d["metadata"]["name"]


def workloads(ds):
    return [d for d in ds if d.get("kind") in ("Deployment", "DaemonSet")]


def pod_specs(ds):
    """(label, pod spec, pod metadata) of every pod template in the documents."""
    for d in ds:
        k = d.get("kind")
        if k in ("Deployment", "DaemonSet"):
            t = d["spec"]["template"]
        elif k == "Job":
            t = d["spec"]["template"]
        elif k == "CronJob":
            t = d["spec"]["jobTemplate"]["spec"]["template"]
        elif k == "Pod":
            t = {"metadata": d["metadata"], "spec": d["spec"]}
        else:
            continue
        yield f"{k}/{name(d)}", t["spec"], t.get("metadata", {})


# ---------------------------------------------------------------------------
# chart
# ---------------------------------------------------------------------------


def check_no_replicas_when_autoscaling(work):
    for s in scenarios(work):
        ds = docs(work, s)
        scaled = {d["spec"]["scaleTargetRef"]["name"] for d in kind(ds, "HorizontalPodAutoscaler") + kind(ds, "ScaledObject")}
        for d in kind(ds, "Deployment"):
            if name(d) in scaled and "replicas" in d["spec"]:
                problem(f"{s}: Deployment {name(d)} sets replicas although an autoscaler owns it")
            if name(d) not in scaled and "replicas" not in d["spec"]:
                problem(f"{s}: Deployment {name(d)} has neither an autoscaler nor replicas")
        print(f"{s}: autoscaled {sorted(scaled)}")


def check_selectors_immutable(work):
    for s in scenarios(work):
        ds = docs(work, s)
        for d in workloads(ds) + kind(ds, "PodDisruptionBudget"):
            sel = d["spec"]["selector"]["matchLabels"]
            extra = set(sel) - IMMUTABLE
            if extra:
                problem(f"{s}: {d['kind']} {name(d)} selects on mutable labels {sorted(extra)}")
            if "app.kubernetes.io/component" not in sel:
                problem(f"{s}: {d['kind']} {name(d)} selector lacks the component label")
        for d in kind(ds, "Service"):
            extra = set(d["spec"].get("selector", {})) - IMMUTABLE
            if extra:
                problem(f"{s}: Service {name(d)} selects on mutable labels {sorted(extra)}")
        for d in workloads(ds):
            tl = d["spec"]["template"]["metadata"]["labels"]
            for k, v in d["spec"]["selector"]["matchLabels"].items():
                if tl.get(k) != v:
                    problem(f"{s}: {name(d)} pod labels do not match its selector ({k})")
    print("selectors use only", sorted(IMMUTABLE))


def check_checksum_annotations(work):
    for s in scenarios(work):
        for d in workloads(docs(work, s)):
            ann = d["spec"]["template"]["metadata"].get("annotations", {})
            if not re.fullmatch(r"[0-9a-f]{64}", ann.get("checksum/config", "")):
                problem(f"{s}: {d['kind']} {name(d)} has no checksum/config annotation")
            print(f"{s}: {name(d)} checksum/config={ann.get('checksum/config', '')[:12]}")


def check_security_context(work):
    for s in scenarios(work):
        for label, spec, _ in pod_specs(docs(work, s)):
            psc = spec.get("securityContext", {})
            if spec.get("automountServiceAccountToken") is not False:
                problem(f"{s}: {label} mounts a service account token")
            for c in spec.get("containers", []) + spec.get("initContainers", []):
                csc = c.get("securityContext", {})
                where = f"{s}: {label}/{c['name']}"
                if not (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                    problem(f"{where}: runAsNonRoot is not set")
                if csc.get("readOnlyRootFilesystem") is not True:
                    problem(f"{where}: readOnlyRootFilesystem is not true")
                if csc.get("allowPrivilegeEscalation") is not False:
                    problem(f"{where}: allowPrivilegeEscalation is not false")
                if csc.get("capabilities", {}).get("drop") != ["ALL"]:
                    problem(f"{where}: capabilities are not drop [ALL]")
                seccomp = csc.get("seccompProfile") or psc.get("seccompProfile") or {}
                if seccomp.get("type") != "RuntimeDefault":
                    problem(f"{where}: seccompProfile is not RuntimeDefault")
                uid = csc.get("runAsUser", psc.get("runAsUser"))
                if uid in (None, 0):
                    problem(f"{where}: runAsUser is {uid}")
            print(f"{s}: {label} ok")


def check_probes(work):
    want = {"api": "http", "worker": "admin", "producer": "admin"}
    for s in scenarios(work):
        for d in workloads(docs(work, s)):
            comp = d["metadata"]["labels"]["app.kubernetes.io/component"]
            c = d["spec"]["template"]["spec"]["containers"][0]
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                p = c.get(probe, {}).get("httpGet", {})
                if p.get("path") != path or p.get("port") != want[comp]:
                    problem(f"{s}: {name(d)} {probe} is {p}, expected {path} on port {want[comp]}")
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            expected = {"api": 8080, "worker": 9102, "producer": 9101}[comp]
            if ports.get(want[comp]) != expected:
                problem(f"{s}: {name(d)} port {want[comp]} is {ports.get(want[comp])}, docs/CONTRACTS.md says {expected}")
    print("probes /healthz and /readyz on 8080 (api), 9102 (worker), 9101 (producer)")


def check_migrations_hook(work):
    for s in scenarios(work):
        ds = docs(work, s)
        jobs = [d for d in kind(ds, "Job") if d["metadata"]["labels"].get("app.kubernetes.io/component") == "migrations"]
        if len(jobs) != 1:
            problem(f"{s}: expected one migrations Job, found {len(jobs)}")
            continue
        j = jobs[0]
        ann = j["metadata"]["annotations"]
        if ann.get("helm.sh/hook") != "pre-install,pre-upgrade":
            problem(f"{s}: migrations Job hook is {ann.get('helm.sh/hook')!r}")
        c = j["spec"]["template"]["spec"]["containers"][0]
        if c["command"] != ["obsctl", "migrate"]:
            problem(f"{s}: migrations Job runs {c['command']}")
        # Everything the hook Job uses must exist before it: hooks with a lower weight.
        sa = j["spec"]["template"]["spec"]["serviceAccountName"]
        env = {e["name"]: e for e in c["env"]}
        ref = env["OBS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"]
        hooks = {(d["kind"], name(d)) for d in ds if "helm.sh/hook" in d["metadata"].get("annotations", {})}
        if ("ServiceAccount", sa) not in hooks:
            problem(f"{s}: the migrations Job's ServiceAccount {sa} is not a hook, so it does not exist at pre-install")
        chart_secrets = {name(d) for d in kind(ds, "Secret")}
        if ref in chart_secrets and ("Secret", ref) not in hooks:
            problem(f"{s}: the migrations Job reads Secret {ref}, which is not a hook, so it does not exist at pre-install")
        print(f"{s}: migrations hook reads {ref}")


def check_partitions_cronjob(work):
    for s in scenarios(work):
        ds = docs(work, s)
        cj = kind(ds, "CronJob")
        enabled = "partitions:\n  enabled: false" not in (ROOT / f"deploy/helm/observatory/ci/{s}-values.yaml").read_text()
        if not enabled:
            if cj:
                problem(f"{s}: partitions disabled but a CronJob is rendered")
            continue
        if len(cj) != 1:
            problem(f"{s}: expected one CronJob, found {len(cj)}")
            continue
        spec = cj[0]["spec"]
        c = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        if c["command"] != ["obsctl", "partitions", "maintain"]:
            problem(f"{s}: CronJob runs {c['command']}")
        if spec.get("concurrencyPolicy") != "Forbid":
            problem(f"{s}: CronJob concurrencyPolicy is not Forbid")
        print(f"{s}: CronJob {spec['schedule']}")


def check_helm_test_pod(work):
    ds = docs(work, "default")
    pods = [d for d in kind(ds, "Pod") if d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
    if len(pods) != 1:
        problem(f"expected one helm test Pod, found {len(pods)}")
        return
    args = " ".join(pods[0]["spec"]["containers"][0].get("args", []))
    api = [name(d) for d in kind(ds, "Service") if d["metadata"]["labels"].get("app.kubernetes.io/component") == "api"]
    if not api or f"http://{api[0]}:8080/readyz" not in args:
        problem(f"helm test does not curl the api Service's /readyz: {args}")
    print("helm test:", args)


def check_keda_replaces_hpa(work):
    ds = docs(work, "keda")
    so = kind(ds, "ScaledObject")
    if len(so) != 1:
        problem(f"keda: expected one ScaledObject, found {len(so)}")
        return
    target = so[0]["spec"]["scaleTargetRef"]["name"]
    if any(h["spec"]["scaleTargetRef"]["name"] == target for h in kind(ds, "HorizontalPodAutoscaler")):
        problem("keda: the workers have both a ScaledObject and an HPA")
    trig = so[0]["spec"]["triggers"][0]
    if trig["type"] != "kafka":
        problem(f"keda: trigger type {trig['type']}")
    md = trig["metadata"]
    cm = [d for d in kind(ds, "ConfigMap") if d["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"][0]
    if md["consumerGroup"] != cm["data"]["OBS_KAFKA_GROUP"]:
        problem("keda: the ScaledObject watches another consumer group than the workers use")
    if so[0]["spec"]["maxReplicaCount"] > 24:
        problem("keda: maxReplicaCount above the partition count")
    ta = kind(ds, "TriggerAuthentication")
    if not ta or trig.get("authenticationRef", {}).get("name") != name(ta[0]):
        problem("keda: SASL scenario without TriggerAuthentication")
    default = docs(work, "default")
    if kind(default, "ScaledObject") or not any(
        h["spec"]["scaleTargetRef"]["name"].endswith("-worker") for h in kind(default, "HorizontalPodAutoscaler")
    ):
        problem("default: KEDA off should give the workers the fallback HPA")
    print("keda: ScaledObject", name(so[0]), "group", md["consumerGroup"])


def check_minimal_fixed_replicas(work):
    ds = docs(work, "minimal")
    if kind(ds, "HorizontalPodAutoscaler") or kind(ds, "ScaledObject"):
        problem("minimal: autoscalers rendered although autoscaling is off")
    reps = {name(d): d["spec"].get("replicas") for d in kind(ds, "Deployment")}
    if sorted(reps.values()) != [1, 2]:
        problem(f"minimal: replicas {reps}, expected api 1 and worker 2")
    for k in ("PodDisruptionBudget", "NetworkPolicy", "CronJob"):
        if kind(ds, k):
            problem(f"minimal: {k} rendered although disabled")
    print("minimal:", reps)


def check_external_secrets_no_chart_secret(work):
    ds = docs(work, "external-secrets")
    if kind(ds, "Secret"):
        problem(f"external-secrets: the chart renders Secrets {[name(d) for d in kind(ds, 'Secret')]}")
    for label, spec, _ in pod_specs(ds):
        for c in spec["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] not in ("observatory-db", "observatory-kafka"):
                    problem(f"external-secrets: {label} reads Secret {ref['name']}")
    for d in kind(ds, "ConfigMap"):
        for k, v in d.get("data", {}).items():
            if "PASSWORD" in k or re.search(r"://[^/@]+:[^@]+@", v):
                problem(f"external-secrets: ConfigMap {name(d)} carries a credential in {k}")
    print("external-secrets: no chart-managed Secret; credentials from existing Secrets only")


def check_producer_kinds(work):
    keda = docs(work, "keda")
    if [d["kind"] for d in workloads(keda) if "producer" in name(d)] != ["DaemonSet"]:
        problem("keda scenario: producer should be a DaemonSet")
    ext = docs(work, "external-secrets")
    p = [d for d in workloads(ext) if "producer" in name(d)]
    if [d["kind"] for d in p] != ["Deployment"] or p[0]["spec"]["strategy"]["type"] != "Recreate":
        problem("external-secrets scenario: producer should be a Deployment with the Recreate strategy")
    if any("producer" in name(d) for d in workloads(docs(work, "default"))):
        problem("default scenario: the producer is off by default")
    for label, spec, _ in pod_specs(keda):
        if "producer" in label:
            mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
            if not mounts["transcripts"].get("readOnly"):
                problem("producer mounts the transcripts writable")
    print("producer: DaemonSet (hostPath) and Deployment (PVC) kinds")


def check_alerts_runbook_urls(work):
    for s in ("keda",):
        rules = kind(docs(work, s), "PrometheusRule")
        if len(rules) != 1:
            problem(f"{s}: expected one PrometheusRule")
            continue
        for r in rules[0]["spec"]["groups"][0]["rules"]:
            url = r.get("annotations", {}).get("runbook_url", "")
            if not url.endswith(f"/ops/runbooks/{r['alert']}.md"):
                problem(f"{r['alert']}: runbook_url {url!r} does not point at ops/runbooks/{r['alert']}.md")
            for k in ("summary", "description"):
                if not r.get("annotations", {}).get(k):
                    problem(f"{r['alert']}: no {k}")
            if r.get("labels", {}).get("severity") not in ("warning", "critical"):
                problem(f"{r['alert']}: severity label missing")
            print(r["alert"], "->", url)


def check_values_params(work):
    """Every value in values.yaml is documented by an @param line (on itself or on
    the map it belongs to), every @param names a real value, and the schema
    describes every top-level key."""
    import json

    import yaml

    text = (ROOT / "deploy/helm/observatory/values.yaml").read_text()
    params = re.findall(r"@param (\S+)", text)
    values = yaml.safe_load(text)
    leaves = []

    def walk(node, path):
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else k)
        else:
            leaves.append(path)

    walk(values, "")
    documented = set(params)
    for leaf in leaves:
        parts = leaf.split(".")
        if not any(".".join(parts[:i]) in documented for i in range(1, len(parts) + 1)):
            problem(f"values.yaml: {leaf} has no @param")
    for p in params:
        node = values
        for part in p.split("."):
            if not isinstance(node, dict) or part not in node:
                problem(f"values.yaml: @param {p} names no value")
                break
            node = node[part]
    schema = json.loads((ROOT / "deploy/helm/observatory/values.schema.json").read_text())
    for k in values:
        if k not in schema.get("properties", {}):
            problem(f"values.schema.json does not describe {k}")
    print(f"{len(leaves)} values, {len(params)} @param lines")


PROGRAM_SOURCES = {
    "api": "api/main.c",
    "worker": "workers/main.c",
    "producer": "producer/main.c",
    "migrations": "tools/obsctl.c",
    "partitions": "tools/obsctl.c",
}


def program_env_names(component):
    """OBS_* names a program reads: its configuration table's keys, as
    obs_config_env_name makes them (docs/CONTRACTS.md "Configuration")."""
    src = ROOT / PROGRAM_SOURCES[component]
    keys = re.findall(r'^\s*\{"([a-z0-9_.]+)",\s*OBS_CFG_', src.read_text(), re.M) if src.is_file() else []
    return {"OBS_" + k.upper().replace(".", "_") for k in keys}


def check_env_keys_known(work):
    """Every OBS_ variable the chart gives a program is a key of that program's
    configuration table: a misspelt or unknown variable is silently ignored
    by the program, so only this test can catch it."""
    for s in scenarios(work):
        ds = docs(work, s)
        cms = {name(d): d.get("data", {}) for d in kind(ds, "ConfigMap")}
        for label, spec, meta in pod_specs(ds):
            comp = meta.get("labels", {}).get("app.kubernetes.io/component")
            if comp not in PROGRAM_SOURCES:
                continue
            known = program_env_names(comp)
            if not known:
                problem(f"no configuration table found in {PROGRAM_SOURCES[comp]}")
                continue
            for c in spec["containers"]:
                names = [e["name"] for e in c.get("env", [])]
                for ef in c.get("envFrom", []):
                    names += list(cms.get(ef.get("configMapRef", {}).get("name"), {}))
                for n in names:
                    if n.startswith("OBS_RDKAFKA__") or not n.startswith("OBS_"):
                        continue
                    if n not in known:
                        problem(f"{s}: {label} sets {n}, which {PROGRAM_SOURCES[comp]} does not read")
            print(f"{s}: {label} ({comp}) ok")


def check_alerts_metrics_exported(work):
    """Every observatory_* series an alert reads is a metric some program
    registers (a string literal in its C sources), so a renamed metric
    cannot leave an alert silently watching nothing."""
    rules = kind(docs(work, "keda"), "PrometheusRule")
    exported = set()
    for d in ("api", "workers", "producer", "common", "tools"):
        for f in (ROOT / d).glob("*.c"):
            exported |= set(re.findall(r'"(observatory_[a-z0-9_]+)"', f.read_text()))
    for r in rules[0]["spec"]["groups"][0]["rules"] if rules else []:
        for m in sorted(set(re.findall(r"\b(observatory_[a-z0-9_]+)", r["expr"]))):
            base = re.sub(r"_(bucket|sum|count)$", "", m)
            if base not in exported:
                problem(f"{r['alert']} reads {m}, but no program exports {base}")
            else:
                print(f"{r['alert']}: {m}")


def alerts_in_rule(work):
    rules = kind(docs(work, "keda"), "PrometheusRule")
    return {r["alert"] for r in rules[0]["spec"]["groups"][0]["rules"]} if rules else set()


def check_alerts_have_runbooks(work):
    alerts = alerts_in_rule(work)
    if alerts != ALERTS:
        problem(f"the PrometheusRule has {sorted(alerts)}, expected {sorted(ALERTS)}")
    for a in sorted(alerts):
        if not (RUNBOOKS / f"{a}.md").is_file():
            problem(f"alert {a} has no ops/runbooks/{a}.md")
        else:
            print(f"{a}: ops/runbooks/{a}.md")


def check_runbooks_belong_to_alerts(work):
    alerts = alerts_in_rule(work)
    for p in sorted(RUNBOOKS.glob("Observatory*.md")):
        if p.stem not in alerts:
            problem(f"ops/runbooks/{p.name} is named like an alert, but no alert {p.stem} exists")
        else:
            print(f"{p.name}: alert {p.stem}")


# ---------------------------------------------------------------------------
# runbooks (no YAML needed)
# ---------------------------------------------------------------------------


def check_runbooks_sections(work):
    for a in sorted(ALERTS):
        p = RUNBOOKS / f"{a}.md"
        if not p.is_file():
            problem(f"missing {p.name}")
            continue
        text = p.read_text()
        if not text.startswith(f"# {a}\n"):
            problem(f"{p.name}: the title is not the alert name")
        heads = re.findall(r"^## (\w+)", text, re.M)
        if heads != SECTIONS:
            problem(f"{p.name}: sections {heads}, expected {SECTIONS}")
        diag = text.split("## Diagnosis", 1)[1].split("## Mitigation", 1)[0]
        hyps = re.findall(r"^### H\d", diag, re.M)
        if len(hyps) < 2:
            problem(f"{p.name}: Diagnosis has {len(hyps)} hypotheses, expected at least 2")
        if "```sh" not in diag:
            problem(f"{p.name}: Diagnosis has no copy-paste commands")
        if not re.search(r"Confirmed (when|by)", diag):
            problem(f"{p.name}: Diagnosis states no confirming threshold")
        print(f"{p.name}: {len(hyps)} hypotheses")


def check_runbooks_procedures(work):
    for n in PROCEDURES:
        p = RUNBOOKS / f"{n}.md"
        if not p.is_file() or "```sh" not in p.read_text():
            problem(f"ops/runbooks/{n}.md is missing or has no commands")
        else:
            print(f"{n}.md")
    rb = (RUNBOOKS / "rollback.md").read_text()
    if "never rolled back" not in rb or "expand/contract" not in rb:
        problem("rollback.md must say the schema is never rolled back and why (expand/contract)")
    sc = (RUNBOOKS / "scaling.md").read_text()
    if "partition" not in sc or "--partitions" not in sc:
        problem("scaling.md must explain the partition bound and how to add partitions")


def check_runbooks_links(work):
    for p in sorted(RUNBOOKS.glob("*.md")):
        for target in re.findall(r"\]\(([^)#]+\.md)\)", p.read_text()):
            if not (p.parent / target).is_file():
                problem(f"{p.name}: link to {target} does not resolve")
    print("links checked")


def check_runbooks_scripts(work):
    for p in sorted(RUNBOOKS.glob("*.md")):
        for script in sorted(set(re.findall(r"\bops/(?:scripts|systemd)/[\w.-]+\.sh", p.read_text()))):
            if not (ROOT / script).is_file():
                problem(f"{p.name}: {script} does not exist")
            else:
                print(f"{p.name}: {script}")


def runbook_dry_run_lines(work):
    """Print every `ops/... --dry-run ...` command of the runbooks, one a line."""
    seen = []
    for p in sorted(RUNBOOKS.glob("*.md")):
        text = p.read_text()
        candidates = re.findall(r"`(ops/[^`\n]+)`", text)  # inline code
        candidates += [l.strip() for l in text.splitlines() if l.strip().startswith("ops/")]  # code blocks
        for c in candidates:
            c = c.split(" #", 1)[0].strip()
            if "--dry-run" in c and c not in seen:
                seen.append(c)
    for c in seen:
        print(c)


# ---------------------------------------------------------------------------
# systemd, Dockerfile, Terraform
# ---------------------------------------------------------------------------


def check_systemd_unit(work):
    text = (ROOT / "ops/systemd/obs-producer.service").read_text()
    for want in (
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "--config %h/.config/observatory/producer.conf",
        "NoNewPrivileges=yes",
        "WantedBy=default.target",
    ):
        if want not in text:
            problem(f"obs-producer.service lacks {want}")
    # Options that need a mount namespace fail in many user managers.
    for bad in ("ProtectSystem=", "ProtectHome=", "PrivateTmp=", "ReadWritePaths=", "User=", "DynamicUser="):
        if re.search(r"^" + re.escape(bad), text, re.M):
            problem(f"obs-producer.service uses {bad}, which does not work reliably in a user unit")
    conf = (ROOT / "ops/systemd/producer.conf").read_text()
    keys = [l.split("=", 1)[0].strip() for l in conf.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    table = (ROOT / "producer/main.c").read_text() if (ROOT / "producer/main.c").is_file() else ""
    allowed = set(re.findall(r'^\s*\{"([a-z0-9_.]+)",\s*OBS_CFG_', table, re.M)) or {
        "log.level", "tenant", "kafka.bootstrap", "kafka.topic", "admin.listen"}
    for k in keys:
        if k not in allowed and not k.startswith("kafka.rdkafka."):
            problem(f"producer.conf sets {k}, which is not a documented key (unknown keys are errors)")
        if "password" in k:
            problem("producer.conf must not hold the SASL password (use producer.env)")
    print("unit and producer.conf ok:", keys)


def check_dockerfile(work):
    text = (ROOT / "deploy/docker/Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    if len(froms) < 2:
        problem("the Dockerfile is not multi-stage")
    if not re.search(r"^ARG DEBIAN_RELEASE=bookworm$", text, re.M):
        problem("the Dockerfile is not based on Debian bookworm")
    for pkg in ("librdkafka-dev", "libpq-dev", "libavro-dev", "libevent-dev", "libjansson-dev", "libpcre2-dev", "libssl-dev"):
        if pkg not in text:
            problem(f"the build stage does not install {pkg}")
    runtime = text.split("AS runtime", 1)[-1]
    if "-dev" in re.sub(r"#.*", "", runtime):
        problem("the runtime stage installs -dev packages")
    for want in ("make build", "USER 10001:10001", "/usr/local/bin/",
                 "/usr/share/observatory/migrations/", "/usr/share/observatory/model_prices.json"):
        if want not in text:
            problem(f"the Dockerfile lacks {want}")
    for src in re.findall(r"COPY --from=build /src/(\S+)", text):
        if not src.startswith("build/") and not (ROOT / src).exists():
            problem(f"the Dockerfile copies {src}, which is not in the repository")
    print("stages:", froms)


def tf_blocks(text, kind):
    for m in re.finditer(r'^%s "([^"]+)" \{\n(.*?)^\}' % kind, text, re.M | re.S):
        yield m.group(1), m.group(2)


def check_terraform_variables(work):
    files = sorted((ROOT / "deploy/terraform").glob("**/variables.tf"))
    files = [f for f in files if ".terraform" not in f.parts]
    n = 0
    for f in files:
        rel = f.relative_to(ROOT)
        for var, body in tf_blocks(f.read_text(), "variable"):
            n += 1
            if not re.search(r"^  type\s*=", body, re.M):
                problem(f"{rel}: variable {var} has no type")
            d = re.search(r'^  description\s*=\s*"(.*)"$', body, re.M)
            if not d or not d.group(1).rstrip().endswith("."):
                problem(f"{rel}: variable {var} has no full-sentence description")
            is_bool = re.search(r"^  type\s*=\s*bool$", body, re.M)
            if not is_bool and "validation {" not in body:
                problem(f"{rel}: variable {var} has no validation")
            for msg in re.findall(r'error_message\s*=\s*"(.*)"', body):
                if not (msg[:1].isupper() and msg.rstrip().endswith(".")):
                    problem(f"{rel}: variable {var}: error message is not a full sentence: {msg!r}")
    for f in sorted((ROOT / "deploy/terraform").glob("**/outputs.tf")):
        for out, body in tf_blocks(f.read_text(), "output"):
            if "description" not in body:
                problem(f"{f.relative_to(ROOT)}: output {out} has no description")
    print(f"{n} variables in {len(files)} files")


def check_terraform_versions(work):
    for f in sorted((ROOT / "deploy/terraform").glob("**/versions.tf")):
        text = f.read_text()
        if not re.search(r'required_version\s*=\s*">= 1\.\d+\.\d+, < 2\.0\.0"', text):
            problem(f"{f.relative_to(ROOT)}: required_version is not bounded")
        for src, ver in re.findall(r'source\s*=\s*"([^"]+)"\s*\n\s*version\s*=\s*"([^"]+)"', text):
            if not re.fullmatch(r"~> \d+\.\d+", ver):
                problem(f"{f.relative_to(ROOT)}: provider {src} version {ver!r} is not pinned to a minor series")
        print(f.relative_to(ROOT), re.findall(r'source\s*=\s*"([^"]+)"', text))
    for main in sorted((ROOT / "deploy/terraform").glob("**/main.tf")):
        for mod in re.findall(r'source\s*=\s*"(\.[^"]+)"', main.read_text()):
            if not (main.parent / mod).is_dir():
                problem(f"{main.relative_to(ROOT)}: module source {mod} does not exist")
    root = ROOT / "deploy/terraform"
    for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        if not (root / f).is_file():
            problem(f"deploy/terraform/{f} is missing")
    for m in ("kafka", "postgres", "release"):
        for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            if not (root / "modules" / m / f).is_file():
                problem(f"deploy/terraform/modules/{m}/{f} is missing")


CHECKS = {
    "no-replicas-when-autoscaling": check_no_replicas_when_autoscaling,
    "selectors-immutable": check_selectors_immutable,
    "checksum-annotations": check_checksum_annotations,
    "security-context": check_security_context,
    "probes": check_probes,
    "migrations-hook": check_migrations_hook,
    "partitions-cronjob": check_partitions_cronjob,
    "helm-test-pod": check_helm_test_pod,
    "keda-replaces-hpa": check_keda_replaces_hpa,
    "minimal-fixed-replicas": check_minimal_fixed_replicas,
    "external-secrets-no-chart-secret": check_external_secrets_no_chart_secret,
    "producer-kinds": check_producer_kinds,
    "alerts-runbook-urls": check_alerts_runbook_urls,
    "values-params": check_values_params,
    "env-keys-known": check_env_keys_known,
    "alerts-metrics-exported": check_alerts_metrics_exported,
    "alerts-have-runbooks": check_alerts_have_runbooks,
    "runbooks-belong-to-alerts": check_runbooks_belong_to_alerts,
    "runbooks-sections": check_runbooks_sections,
    "runbooks-procedures": check_runbooks_procedures,
    "runbooks-links": check_runbooks_links,
    "runbooks-scripts": check_runbooks_scripts,
    "runbook-dry-run-lines": runbook_dry_run_lines,
    "systemd-unit": check_systemd_unit,
    "dockerfile": check_dockerfile,
    "terraform-variables": check_terraform_variables,
    "terraform-versions": check_terraform_versions,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: chart_checks.py {{{','.join(CHECKS)}}} WORKDIR")
    CHECKS[sys.argv[1]](sys.argv[2])
    for p in problems:
        print("problem:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
