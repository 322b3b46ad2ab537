#!/usr/bin/env bash
# ops/local/deps.sh — install the Debian/Ubuntu packages needed to build
# Observatory and to run its local services (PostgreSQL, Kafka via Java+Maven,
# kcat, load and leak tools). Installs only what is missing; silent when
# everything is already there.
set -euo pipefail

PROG=deps

PACKAGES=(
    build-essential pkg-config
    librdkafka-dev libpq-dev libavro-dev libevent-dev libjansson-dev
    libpcre2-dev libssl-dev
    postgresql postgresql-contrib
    openjdk-17-jre-headless maven
    kcat wrk valgrind time bc clang-format
    nodejs npm
    curl python3
)

usage() {
    cat <<EOF
Usage: ops/local/deps.sh [--check] [--list]

Installs the missing ones of these packages with apt-get (apt-get update
runs only when something is missing; sudo is used only when not root):
  ${PACKAGES[*]}

A package counts as present when it is installed or when an installed package
provides it (e.g. NodeSource's nodejs provides npm; installing Debian's npm
next to it would conflict).

  --check   install nothing; list missing packages and exit 1 if any
  --list    print the package list, one a line
  --help    this text
EOF
}

die() {
    printf '%s: %s\n' "$PROG" "$*" >&2
    exit 1
}

CHECK=0
for arg in "$@"; do
    case $arg in
        --check) CHECK=1 ;;
        --list) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
        -h | --help) usage; exit 0 ;;
        *) printf '%s: unknown argument %s (try --help)\n' "$PROG" "$arg" >&2; exit 2 ;;
    esac
done

command -v dpkg-query >/dev/null || die "dpkg not found: this script supports Debian and Ubuntu only"

# Names provided by installed packages (virtual packages), one a line.
PROVIDED=$(dpkg-query -W -f='${db:Status-Abbrev} ${Provides}\n' 2>/dev/null |
    awk '$1 ~ /^ii/ { $1 = ""; print }' | tr ',' '\n' |
    sed -e 's/([^)]*)//g' -e 's/:any//g' -e 's/^ *//' -e 's/ *$//' | sort -u)

installed() {
    local st
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)
    [[ $st == ii* ]] && return 0
    grep -qxF "$1" <<<"$PROVIDED"
}

missing=()
for p in "${PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
done

((${#missing[@]} == 0)) && exit 0

if ((CHECK)); then
    echo "deps: missing: ${missing[*]}" >&2
    exit 1
fi

SUDO=()
if ((EUID != 0)); then
    command -v sudo >/dev/null || die "not root and sudo not found; install as root: ${missing[*]}"
    SUDO=(sudo)
fi

log=$(mktemp "${TMPDIR:-/tmp}/obs-deps.XXXXXX.log")
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -q >>"$log" 2>&1 ||
    die "apt-get update failed; see $log"

# Older Ubuntu releases call kcat kafkacat.
to_install=()
for p in "${missing[@]}"; do
    if [[ $p == kcat ]] && ! apt-cache show kcat >/dev/null 2>&1 &&
        apt-cache show kafkacat >/dev/null 2>&1; then
        p=kafkacat
    fi
    to_install+=("$p")
done

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${to_install[@]}" >>"$log" 2>&1 || {
    why=$(grep -m1 -E '^E: ' "$log" || true)
    die "apt-get install failed${why:+: $why}; see $log"
}
rm -f "$log"
