#!/usr/bin/env bash
# Reproduces the ccusage figures for the transcript fixtures.
#
#   tests/ccusage/run.sh            print `ccusage claude session` then `daily` JSON
#   tests/ccusage/run.sh --update   rewrite tests/fixtures/expected/ccusage-*.json
#   tests/ccusage/run.sh --check    regenerate into a temp dir and diff with the saved files
#
# ccusage 20.0.24 is installed from the npm registry into .cache/ccusage
# (git-ignored) when missing. It runs offline (embedded price table), in UTC,
# with HOME pointed at an empty directory so nothing but the fixtures is read.
set -euo pipefail

VERSION=20.0.24
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX="$ROOT/.cache/ccusage"
BIN="$PREFIX/node_modules/.bin/ccusage"
FIX="$ROOT/tests/fixtures"
EXPECTED="$FIX/expected"

if [[ ! -x "$BIN" ]] || [[ "$("$BIN" --version 2>/dev/null)" != "ccusage $VERSION" ]]; then
    echo "installing ccusage@$VERSION into $PREFIX" >&2
    npm install --silent --no-audit --no-fund --prefix "$PREFIX" "ccusage@$VERSION" >&2
fi

EMPTY_HOME=$(mktemp -d)
trap 'rm -rf "$EMPTY_HOME"' EXIT

# $1 = config dir (the directory that holds projects/), $2 = report
cc() {
    env -u XDG_CONFIG_HOME HOME="$EMPTY_HOME" TZ=UTC NO_COLOR=1 CLAUDE_CONFIG_DIR="$1" \
        "$BIN" claude "$2" --offline --json --timezone UTC
}

generate() { # $1 = output dir
    cc "$FIX" session >"$1/ccusage-session.json"
    cc "$FIX" daily >"$1/ccusage-daily.json"
    cc "$FIX/bad" session >"$1/ccusage-bad-session.json"
}

case "${1:-}" in
--update)
    generate "$EXPECTED"
    echo "wrote $EXPECTED/ccusage-{session,daily,bad-session}.json" >&2
    ;;
--check)
    TMP=$(mktemp -d)
    trap 'rm -rf "$EMPTY_HOME" "$TMP"' EXIT
    generate "$TMP"
    for f in ccusage-session.json ccusage-daily.json ccusage-bad-session.json; do
        diff -u "$EXPECTED/$f" "$TMP/$f"
    done
    echo "ccusage $VERSION output matches tests/fixtures/expected" >&2
    ;;
"")
    cc "$FIX" session
    cc "$FIX" daily
    ;;
*)
    echo "usage: $0 [--update|--check]" >&2
    exit 2
    ;;
esac
