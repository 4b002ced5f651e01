#!/usr/bin/env bash
# Starts pcscd (-f -a) and a simulated card in vsmartcard's "Virtual PCD 00 00" reader.
#
#   scripts/pcsc-up.sh [PERSONA [CPX_VCARD_BIN]] [-- cpx-vcard options...]
#   scripts/pcsc-up.sh --no-card            # pcscd only
#
# PERSONA defaults to cps3-doctor; the binary to $CPX_VCARD, else target/debug/cpx-vcard
# (cargo build --features sim --bin cpx-vcard). State, logs and the APDU trace go to
# $CPX_RUN_DIR (default /tmp/cpx-run). Refuses to start when a pcscd is already alive.
# Needs root (pcscd writes /run/pcscd). Stop everything with scripts/pcsc-down.sh.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=pcsc-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/pcsc-lib.sh"

persona=cps3-doctor
card=1
extra=()
if [[ ${1:-} == --no-card ]]; then
    card=0
    shift
elif [[ $# -gt 0 && $1 != -- ]]; then
    persona=$1
    shift
    if [[ $# -gt 0 && $1 != -- ]]; then
        CPX_VCARD=$1
        shift
    fi
fi
if [[ ${1:-} == -- ]]; then
    shift
    extra=("$@")
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [PERSONA [CPX_VCARD_BIN]] [-- cpx-vcard options...] | --no-card" >&2
    exit 2
fi
export CPX_VCARD

pcscd_start
if ((card)); then
    if ! vcard_start "$persona" "${extra[@]}"; then
        pcscd_stop
        exit 1
    fi
fi
echo "CPX_RUN_DIR=$CPX_RUN_DIR"
