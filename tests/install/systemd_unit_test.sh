#!/usr/bin/env bash
# Verifies deploy/clipembed.service with systemd-analyze (skipped, exit 77, where it is missing),
# with ExecStart pointed at the built binary so that the check finds the executable.
#   systemd_unit_test.sh CLIPEMBED_BINARY SOURCE_DIR
set -euo pipefail
binary=$1
source=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/clipembed|$binary|" "$source/deploy/clipembed.service" >"$work/clipembed.service"
# Warnings about this container (no running systemd, no /etc/default file) are not the unit's.
out=$(systemd-analyze verify --man=no "$work/clipembed.service" 2>&1 || true)
echo "$out"
if grep -v -E "Failed to (connect|prepare)|not booted|System has not been booted" <<<"$out" |
   grep -q "clipembed.service"; then
  exit 1
fi
echo "systemd unit verified"
