#!/usr/bin/env bash
# install.sh - install obs-producer as a systemd user unit on this workstation.
#
# Copies obs-producer.service to ~/.config/systemd/user/, the example
# producer.conf to ~/.config/observatory/ (never over an existing one), then
# reloads the user manager and enables the unit.
set -euo pipefail

PROG="install.sh"
# shellcheck source=ops/scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

usage() {
    cat <<USAGE
Usage: $PROG [options]

Options:
      --no-start   install and enable, but do not start now
      --linger     keep the producer running while you are logged out (loginctl enable-linger)
      --dry-run    print the commands instead of running them
  -h, --help       show this help
USAGE
}

start=1
linger=0
while (($#)); do
    case $1 in
        --no-start) start=0; shift ;;
        --linger) linger=1; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown argument $1" ;;
    esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
unit_dir=$config_home/systemd/user
conf_dir=$config_home/observatory

need systemctl install
[[ $DRY_RUN == 1 ]] || command -v obs-producer >/dev/null 2>&1 || [[ -x /usr/local/bin/obs-producer ]] ||
    log "warning: obs-producer is not installed in /usr/local/bin yet (make install, or edit ExecStart with systemctl --user edit)"

run install -d -m 0700 "$conf_dir"
run install -D -m 0644 "$here/obs-producer.service" "$unit_dir/obs-producer.service"
if [[ -e $conf_dir/producer.conf ]]; then
    log "keeping the existing $conf_dir/producer.conf"
else
    run install -m 0600 "$here/producer.conf" "$conf_dir/producer.conf"
    log "edit $conf_dir/producer.conf (tenant, kafka.bootstrap) before the producer can deliver"
fi
run systemctl --user daemon-reload
if ((start)); then
    run systemctl --user enable --now obs-producer.service
else
    run systemctl --user enable obs-producer.service
fi
if ((linger)); then
    run loginctl enable-linger "$(id -un)"
fi
log "logs: journalctl --user -u obs-producer -f"
