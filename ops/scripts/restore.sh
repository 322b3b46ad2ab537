#!/usr/bin/env bash
# restore.sh - restore a backup.sh dump with pg_restore
# (ops/runbooks/backup-restore.md).
#
# Restores into an EMPTY database by default (restore beside, check, then
# switch the release's URL): overwriting the live database needs both
# --clean and --yes-overwrite. After the restore it runs `obsctl migrate`,
# so a dump taken before the current release is brought up to the schema the
# running pods expect (migrations are forward-only and expand/contract).
set -euo pipefail

PROG="restore.sh"
# shellcheck source=ops/scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<USAGE
Usage: $PROG [options] DUMP_DIR

Options:
  -d, --url URL          target database URL (default: \$OBS_RESTORE_URL; never
                         defaults to the live \$OBS_DATABASE_URL)
  -j, --jobs N           parallel restore jobs (default: 2)
      --clean            drop the objects of the dump before recreating them
      --yes-overwrite    required with --clean: you mean to overwrite data
      --no-migrate       skip 'obsctl migrate' afterwards
      --dry-run          print the commands instead of running them
  -h, --help             show this help

Examples:
  $PROG --url postgres://…/observatory_restore /backups/obs-2025-01-10.dump
  $PROG --dry-run --url postgres://…/observatory_restore ./observatory-20250110T020000Z.dump
USAGE
}

url=${OBS_RESTORE_URL:-}
jobs=2
clean=0
overwrite=0
migrate=1
dump=""

while (($#)); do
    case $1 in
        -d|--url) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; url=$2; shift 2 ;;
        -j|--jobs) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; jobs=$2; shift 2 ;;
        --clean) clean=1; shift ;;
        --yes-overwrite) overwrite=1; shift ;;
        --no-migrate) migrate=0; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) usage_error "unknown option $1" ;;
        *) [[ -z $dump ]] || usage_error "unexpected argument $1"; dump=$1; shift ;;
    esac
done

[[ -n $dump ]] || usage_error "DUMP_DIR is required"
[[ -n $url ]] || usage_error "no target: pass --url (or set OBS_RESTORE_URL)"
is_uint "$jobs" && ((jobs >= 1)) || usage_error "--jobs must be at least 1"
((clean == 0 || overwrite == 1)) || usage_error "--clean overwrites data: add --yes-overwrite if you mean it"
if [[ $DRY_RUN == 0 ]]; then
    [[ -d $dump ]] || die "$dump is not a backup.sh dump directory"
fi

need pg_restore psql sha256sum

if [[ -f $dump.sha256 && $DRY_RUN == 0 ]]; then
    (cd "$dump" && sha256sum --check --quiet "../$(basename "$dump").sha256") ||
        die "$dump does not match $dump.sha256: the dump is damaged"
    log "checksums match"
fi

# Refuse a non-empty target unless overwriting was asked for.
check_sql="SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
if ((clean == 0)); then
    if [[ $DRY_RUN == 1 ]]; then
        print_cmd psql --dbname "$url" --no-psqlrc --tuples-only --command "$check_sql"
    else
        tables=$(psql --dbname "$url" --no-psqlrc --tuples-only --command "$check_sql" | tr -d ' ')
        [[ $tables == 0 ]] || die "the target already has $tables tables; restore into an empty database, or use --clean --yes-overwrite"
    fi
fi

confirm "restore $dump into $(mask_secrets "$url")?"

restore=(pg_restore --dbname "$url" --jobs "$jobs" --no-owner --no-privileges --exit-on-error --verbose)
((clean)) && restore+=(--clean --if-exists)
restore+=("$dump")
run "${restore[@]}"

run psql --dbname "$url" --no-psqlrc --command "ANALYZE"

if ((migrate)); then
    need obsctl
    run env "OBS_DATABASE_URL=$url" obsctl migrate
fi
log "restored; check with: psql \"\$URL\" -c 'SELECT max(version) FROM schema_migrations'"
