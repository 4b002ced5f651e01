# shellcheck shell=bash
# What the end-to-end suites tests/e2e/*.sh share: the scratch directory, PASS/FAIL counting
# and the closing "N passed, M failed" line, the clean-up on exit (the card and pcscd stopped by
# PID), time-limited client commands, the tool check, the builds and starting pcscd + the card.
# Sourced by each suite (with `set -euo pipefail`); pcscd and the card come from
# scripts/pcsc-lib.sh.
#
#   e2e_begin NAME [keep]  cd to the repository, CPX_RUN_DIR (default: a new
#                          /tmp/cpx-NAME.XXXXXX, removed after a clean run unless `keep`),
#                          W=$CPX_RUN_DIR/e2e, the EXIT trap
#   e2e_module_log         the module under test logs at debug level to $W/module.log
#   pass/fail MESSAGE      one PASS:/FAIL: line; fatal MESSAGE: a FAIL, then stop
#   summary                "elapsed: …", then "N passed, M failed"; false on any failure
#   run OUT CMD...         CMD (at most $T seconds) with its output in OUT; its exit status
#   show OUT [N]           the end of OUT (and the module's warnings meanwhile) under a FAIL
#   need_tools TOOL...     pcscd, opensc-tool, timeout, vpcd, each TOOL, else a fatal FAIL
#   build_module           M: CPX_MODULE, else the release module (no `sim`) built here
#   build_vcard            CPX_VCARD, else target/debug/cpx-vcard built here (exported)
#   start_pcscd            waits for another suite's pcscd to go away, then starts pcscd
#   start_card PERSONA [OPT...]  cpx-vcard --card PERSONA [OPT...], in the reader
#   pin_flags              the user PIN flags `pkcs11-tool -T` prints (the suite's p11 array)
#
# A missing tool is a failure, never a skip. Environment: CPX_RUN_DIR, CPX_KEEP=1 (keep the
# scratch directory, and leave pcscd and the card running), CPX_MODULE, CPX_VCARD,
# CPX_PCSCD_WAIT (seconds to wait for another pcscd, default 120).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=60 # seconds allowed for any one client command
passed=0
failed=0
done_=0
own_run_dir=0
mlog=
mlog_mark=0
also_missing=()

e2e_begin() {
    local name=$1 keep=${2:-}
    cd "$ROOT" || exit 1
    if [[ -z ${CPX_RUN_DIR:-} ]]; then
        CPX_RUN_DIR=$(mktemp -d "/tmp/cpx-$name.XXXXXX")
        [[ $keep == keep ]] || own_run_dir=1
    fi
    export CPX_RUN_DIR
    # shellcheck source-path=SCRIPTDIR source=../../scripts/pcsc-lib.sh
    source "$ROOT/scripts/pcsc-lib.sh"
    W=$CPX_RUN_DIR/e2e
    mkdir -p "$W"
    # Our module's persistent card cache stays in the scratch directory (never ~/.cache).
    export CPX_PKCS11_CACHE_DIR=${CPX_PKCS11_CACHE_DIR:-$CPX_RUN_DIR/card-cache}
    START=$(date +%s%N)
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM HUP
}

e2e_module_log() {
    mlog=$W/module.log
    export CPX_PKCS11_LOG=$mlog CPX_PKCS11_LOG_LEVEL=debug
    : >"$mlog"
}

pass() {
    echo "PASS: $*"
    passed=$((passed + 1))
}
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
summary() {
    done_=1
    echo "elapsed: $(ms_since "$START") ms; scratch: $CPX_RUN_DIR"
    echo "$passed passed, $failed failed"
    ((failed == 0))
}
# A fatal failure: count it and stop here (the EXIT trap cleans up and prints the summary).
fatal() {
    fail "$*"
    summary || true
    exit 1
}
e2e_cleanup() {
    local rc=$?
    if [[ ${CPX_KEEP:-0} == 1 ]]; then
        echo "CPX_KEEP=1: pcscd and cpx-vcard left running; stop them with CPX_RUN_DIR=$CPX_RUN_DIR scripts/pcsc-down.sh"
    else
        vcard_stop || true
        pcscd_stop || true
    fi
    if ((!done_)); then
        fail "the script stopped early (exit $rc)"
        summary || true
        rc=1
    fi
    if ((own_run_dir && failed == 0 && rc == 0)) && [[ ${CPX_KEEP:-0} != 1 ]]; then
        rm -rf "$CPX_RUN_DIR"
    fi
    exit "$rc"
}

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# run OUTFILE CMD...: runs CMD (time-limited) with its output in OUTFILE and returns its exit
# status; remembers where the module log stood, for show.
run() {
    local out=$1
    shift
    [[ -z $mlog ]] || mlog_mark=$(wc -l <"$mlog")
    timeout "$T" "$@" >"$out" 2>&1
}
# show OUTFILE [N]: the end of a command's output, then the module's warnings and errors
# logged while it ran (evidence under a FAIL).
show() {
    [[ -f $1 ]] && sed -e 's/^/    | /' "$1" | tail -n "${2:-15}"
    if [[ -n $mlog ]]; then
        tail -n +"$((mlog_mark + 1))" "$mlog" | grep -E ' (WARN|ERROR) ' |
            sed -e 's/^/    module| /' | tail -n 10 || true
    fi
    return 0
}

# need_tools TOOL...: pcscd, opensc-tool, timeout, vsmartcard's vpcd driver and each TOOL are
# installed, and the suite put nothing in the array also_missing; else one fatal FAIL naming
# all that is missing.
need_tools() {
    pcsc_missing_tools timeout "$@" || true
    local all=("${pcsc_missing[@]}" "${also_missing[@]}")
    ((${#all[@]} == 0)) || fatal "missing tools: ${all[*]} (scripts/deps.sh installs them)"
}

# build_module: M, the real path of the module under test: CPX_MODULE, else
# target/release/libcpx_pkcs11.so built here with `cargo build --release` (no `sim` feature).
build_module() {
    if [[ -z ${CPX_MODULE:-} ]]; then
        CPX_MODULE=$ROOT/target/release/libcpx_pkcs11.so
        cargo build --quiet --release || fatal "cargo build --release failed"
    fi
    M=$(realpath "$CPX_MODULE" 2>/dev/null) || fatal "module $CPX_MODULE missing"
    [[ -f $M ]] || fatal "module $CPX_MODULE missing"
}

# build_vcard: CPX_VCARD, else target/debug/cpx-vcard built here with
# `cargo build --features sim --bin cpx-vcard`; exported for vcard_start.
build_vcard() {
    if [[ -z ${CPX_VCARD:-} ]]; then
        CPX_VCARD=$ROOT/target/debug/cpx-vcard
        cargo build --quiet --features sim --bin cpx-vcard || fatal "cargo build of cpx-vcard failed"
    fi
    export CPX_VCARD
    [[ -x $CPX_VCARD ]] || fatal "cpx-vcard binary $CPX_VCARD missing"
}

# start_pcscd: one pcscd per machine: waits until no other pcscd runs (another suite's), then
# starts ours.
start_pcscd() {
    # Suites started at once (several work trees, several developers' shells) queue on a
    # machine-wide lock held until this suite exits (the daemons it starts do not inherit it).
    # Taken once per suite: a suite that restarts pcscd already holds it.
    if [[ -z ${E2E_LOCK_FD:-} ]]; then
        exec {E2E_LOCK_FD}>/tmp/cpx-pcscd.lock
        flock -w "${CPX_PCSCD_WAIT:-1800}" "$E2E_LOCK_FD" || fatal "another suite held the pcscd lock too long"
    fi
    pcsc_wait_free "${CPX_PCSCD_WAIT:-120}" || fatal "another pcscd is still running: one pcscd per machine"
    pcscd_start || fatal "pcscd did not start (log: $CPX_RUN_DIR/pcscd.log)"
}

# start_card PERSONA [cpx-vcard options...]: a fresh cpx-vcard process with PERSONA's card
# (e.g. `--fault N:remove`), shown in the reader.
start_card() {
    vcard_start "$@" || fatal "cpx-vcard --card $1 did not show in the reader (log: $CPX_RUN_DIR/vcard.log)"
}

# The user PIN flags of C_GetTokenInfo as `pkcs11-tool -T` prints them (count low, final try,
# locked, to be changed; "PIN initialized" left out), comma-separated. The suite's array p11
# is the pkcs11-tool command line with its --module.
pin_flags() {
    # shellcheck disable=SC2154 # p11 is set by the suite
    timeout "$T" "${p11[@]}" -T 2>/dev/null | sed -nE 's/^ *token flags *: *//p' | tr ',' '\n' |
        sed -nE 's/^ *(.*PIN.*)$/\1/p' | { grep -v 'PIN initialized' || true; } | paste -sd, -
}
