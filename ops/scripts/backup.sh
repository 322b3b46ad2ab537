#!/usr/bin/env bash
# backup.sh - logical backup of the Observatory database with pg_dump
# (ops/runbooks/backup-restore.md).
#
# The managed database has its own automated backups and point-in-time
# recovery; this is the portable copy: before a risky migration, to move
# between environments, or to keep beyond the RDS retention. Directory
# format, dumped in parallel, verified with pg_restore --list, with a SHA-256
# manifest beside it.
set -euo pipefail

PROG="backup.sh"
# shellcheck source=ops/scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<USAGE
Usage: $PROG [options]

Options:
  -d, --url URL          database URL (default: \$OBS_DATABASE_URL or \$DATABASE_URL)
  -o, --out DIR          where the dump goes (default: ./observatory-<UTC timestamp>.dump)
  -j, --jobs N           parallel dump jobs (default: 2)
      --schema-only      dump the schema only (fast; for reviewing a migration)
      --exclude-events   leave out the rows of the big partitioned tables
                         (events, tool_calls): sessions, rollups and keys only
      --dry-run          print the commands instead of running them
  -h, --help             show this help

The password never appears on the command line printed by --dry-run.

Examples:
  OBS_DATABASE_URL=postgres://… $PROG --out /backups/obs-\$(date -u +%F).dump
  $PROG --schema-only --out /tmp/schema.dump
USAGE
}

url=${OBS_DATABASE_URL:-${DATABASE_URL:-}}
out=""
jobs=2
schema_only=0
exclude_events=0

while (($#)); do
    case $1 in
        -d|--url) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; url=$2; shift 2 ;;
        -o|--out) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; out=$2; shift 2 ;;
        -j|--jobs) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; jobs=$2; shift 2 ;;
        --schema-only) schema_only=1; shift ;;
        --exclude-events) exclude_events=1; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown argument $1" ;;
    esac
done

[[ -n $url ]] || usage_error "no database: set OBS_DATABASE_URL or pass --url"
is_uint "$jobs" && ((jobs >= 1)) || usage_error "--jobs must be at least 1"
out=${out:-./observatory-$(date -u +%Y%m%dT%H%M%SZ).dump}
[[ -e $out && $DRY_RUN == 0 ]] && die "$out exists; choose another --out"

need pg_dump pg_restore sha256sum

dump=(pg_dump --dbname "$url" --format directory --jobs "$jobs" --file "$out"
      --no-owner --no-privileges --compress 6 --verbose)
((schema_only)) && dump+=(--schema-only)
if ((exclude_events)); then
    # Partitions inherit the pattern: events_2025_01_01, tool_calls_default, ...
    dump+=(--exclude-table-data 'events*' --exclude-table-data 'tool_calls*')
fi

log "dumping to $out"
run "${dump[@]}"

# A dump that pg_restore cannot list is no backup.
run pg_restore --list "$out" --file "$out.toc"
if [[ $DRY_RUN == 1 ]]; then
    print_cmd sh -c "cd $out && sha256sum -- * > ../$(basename "$out").sha256"
else
    (cd "$out" && sha256sum -- * > "../$(basename "$out").sha256")
    entries=$(grep -cv '^;' "$out.toc" || true)
    log "ok: $out ($(du -sh "$out" | cut -f1), $entries TOC entries; checksums in $out.sha256)"
fi
