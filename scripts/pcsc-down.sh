#!/usr/bin/env bash
# Stops what scripts/pcsc-up.sh started: the card first, then pcscd, by recorded PID
# (checked against /proc/<pid>/cmdline; SIGTERM, SIGKILL after 5 s). Uses $CPX_RUN_DIR.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=pcsc-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/pcsc-lib.sh"

vcard_stop
pcscd_stop
pcsc_log "stopped (state in $CPX_RUN_DIR)"
