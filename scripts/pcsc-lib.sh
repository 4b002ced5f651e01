# shellcheck shell=bash
# Helpers to run pcscd + vsmartcard vpcd + cpx-vcard without systemd (sourced by
# pcsc-up.sh, pcsc-down.sh and tests/e2e/lib.sh). See shared/reference/test-harness.md §3–4.
#
# Everything lives in $CPX_RUN_DIR (default /tmp/cpx-run):
#   pcscd.pid  pcscd.log          the daemon started by pcscd_start (pcscd -f -a)
#   vcard.pid  vcard.log          the card started by vcard_start
#   vcard.trace                   its APDU trace (PIN bytes masked)
# Processes are stopped by recorded PID only, after checking /proc/<pid>/cmdline.

CPX_RUN_DIR=${CPX_RUN_DIR:-/tmp/cpx-run}
CPX_READER=${CPX_READER:-Virtual PCD 00 00}
PCSCD_SOCKET=/run/pcscd/pcscd.comm
PCSCD_SYSTEM_PIDFILE=/run/pcscd/pcscd.pid
VPCD_DRIVER=/usr/lib/pcsc/drivers/serial/libifdvpcd.so

pcsc_log() { echo "pcsc: $*" >&2; }

# pcsc_close_lock CMD...: runs CMD (exec) without the descriptor of the e2e suites' pcscd lock.
pcsc_close_lock() {
    if [[ -n ${E2E_LOCK_FD:-} ]]; then
        exec {E2E_LOCK_FD}>&- "$@"
    else
        exec "$@"
    fi
}

# The PID in a file ("" when missing); pcscd's own file is NUL-padded.
pcsc_read_pid() {
    [[ -f $1 ]] || return 0
    tr -cd '0-9' <"$1"
}

# pcsc_pid_is PID WORD: the process is alive and its command line contains WORD.
pcsc_pid_is() {
    local pid=$1 word=$2
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$word"
}

# pcsc_stop_pid PIDFILE WORD: SIGTERM the recorded process if it is still the one we started,
# wait up to 5 s, then SIGKILL. Removes the PID file.
pcsc_stop_pid() {
    local pidfile=$1 word=$2 pid i
    pid=$(pcsc_read_pid "$pidfile")
    if [[ -z $pid ]]; then
        rm -f "$pidfile"
        return 0
    fi
    if ! pcsc_pid_is "$pid" "$word"; then
        pcsc_log "$pidfile: process $pid is gone (or is not $word); nothing to stop"
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        pcsc_pid_is "$pid" "$word" || break
        sleep 0.1
    done
    if pcsc_pid_is "$pid" "$word"; then
        pcsc_log "$word ($pid) ignored SIGTERM for 5 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    # Reap it if it is our child (harmless otherwise).
    wait "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

# pcsc_wait SECONDS COMMAND...: retry COMMAND every 50 ms until it succeeds.
pcsc_wait() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

# pcsc_missing_tools [TOOL...]: sets the array pcsc_missing to what is not installed among
# pcscd, opensc-tool, vsmartcard's vpcd driver and each TOOL; true when nothing is missing.
pcsc_missing=()
# shellcheck disable=SC2120 # tests/e2e/lib.sh passes TOOLs
pcsc_missing_tools() {
    local t
    pcsc_missing=()
    for t in pcscd opensc-tool "$@"; do
        command -v "$t" >/dev/null 2>&1 || pcsc_missing+=("$t")
    done
    [[ -e $VPCD_DRIVER ]] || pcsc_missing+=("$VPCD_DRIVER (package vsmartcard-vpcd)")
    ((${#pcsc_missing[@]} == 0))
}

pcsc_need_tools() {
    # shellcheck disable=SC2119 # the base tools only
    pcsc_missing_tools && return 0
    pcsc_log "missing: ${pcsc_missing[*]}"
    return 1
}

# The reader line of `opensc-tool -l` ("0    Yes             Virtual PCD 00 00").
pcsc_reader_line() {
    opensc-tool -l 2>/dev/null | grep -F -- "$CPX_READER" | head -1
}
pcsc_reader_listed() { [[ -n $(pcsc_reader_line) ]]; }
pcsc_card_present() { pcsc_reader_line | grep -qE '^[0-9]+ +Yes '; }
pcsc_card_absent() {
    local l
    l=$(pcsc_reader_line)
    [[ -n $l ]] && ! grep -qE '^[0-9]+ +Yes ' <<<"$l"
}

# Starts pcscd -f -a; refuses when a pcscd is already alive.
pcscd_start() {
    pcsc_need_tools || return 1
    mkdir -p "$CPX_RUN_DIR"
    local pid
    pid=$(pcsc_read_pid "$CPX_RUN_DIR/pcscd.pid")
    if pcsc_pid_is "$pid" pcscd; then
        pcsc_log "pcscd already running from $CPX_RUN_DIR (pid $pid); run pcsc-down.sh first"
        return 1
    fi
    pid=$(pcsc_read_pid "$PCSCD_SYSTEM_PIDFILE")
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        pcsc_log "another pcscd is alive (pid $pid in $PCSCD_SYSTEM_PIDFILE): one pcscd per machine, refusing"
        return 1
    fi
    if [[ ! -w /run ]]; then
        pcsc_log "pcscd needs to write /run/pcscd (run as root)"
        return 1
    fi
    # The daemons do not inherit the suites' machine-wide lock (tests/e2e/lib.sh): a suite
    # that dies leaves no process holding it.
    pcsc_close_lock pcscd -f -a >"$CPX_RUN_DIR/pcscd.log" 2>&1 &
    echo $! >"$CPX_RUN_DIR/pcscd.pid"
    if ! pcsc_wait 5 test -S "$PCSCD_SOCKET"; then
        pcsc_log "pcscd socket $PCSCD_SOCKET did not appear; log: $CPX_RUN_DIR/pcscd.log"
        pcscd_stop
        return 1
    fi
    if ! pcsc_wait 5 pcsc_reader_listed; then
        pcsc_log "reader \"$CPX_READER\" not listed; log: $CPX_RUN_DIR/pcscd.log"
        pcscd_stop
        return 1
    fi
    pcsc_log "pcscd up (pid $(cat "$CPX_RUN_DIR/pcscd.pid")), reader \"$CPX_READER\""
}

pcscd_stop() {
    pcsc_stop_pid "$CPX_RUN_DIR/pcscd.pid" pcscd
}

# vcard_start PERSONA [cpx-vcard options...]: starts $CPX_VCARD and waits for the card to show.
vcard_start() {
    local persona=$1 bin=${CPX_VCARD:-target/debug/cpx-vcard} pid
    shift
    if [[ ! -x $bin ]]; then
        pcsc_log "cpx-vcard binary $bin not found (cargo build --features sim --bin cpx-vcard)"
        return 1
    fi
    mkdir -p "$CPX_RUN_DIR"
    pid=$(pcsc_read_pid "$CPX_RUN_DIR/vcard.pid")
    if pcsc_pid_is "$pid" cpx-vcard; then
        pcsc_log "cpx-vcard already running (pid $pid)"
        return 1
    fi
    pcsc_close_lock "$bin" --card "$persona" --trace "$CPX_RUN_DIR/vcard.trace" "$@" \
        >>"$CPX_RUN_DIR/vcard.log" 2>&1 &
    pid=$!
    echo "$pid" >"$CPX_RUN_DIR/vcard.pid"
    local i
    for ((i = 0; i < 200; i++)); do
        if pcsc_card_present; then
            pcsc_log "card $persona in \"$CPX_READER\" (cpx-vcard pid $pid)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            pcsc_log "cpx-vcard exited; log: $CPX_RUN_DIR/vcard.log"
            tail -5 "$CPX_RUN_DIR/vcard.log" >&2
            rm -f "$CPX_RUN_DIR/vcard.pid"
            return 1
        fi
        sleep 0.05
    done
    pcsc_log "the card did not show in \"$CPX_READER\" within 10 s; log: $CPX_RUN_DIR/vcard.log"
    vcard_stop
    return 1
}

# Stops the card and, when pcscd runs, waits until it has seen the card leave (so that the
# next vcard_start does not mistake the old card for the new one).
vcard_stop() {
    local had
    had=$(pcsc_read_pid "$CPX_RUN_DIR/vcard.pid")
    pcsc_stop_pid "$CPX_RUN_DIR/vcard.pid" cpx-vcard
    if [[ -n $had ]] && pcsc_pid_is "$(pcsc_read_pid "$CPX_RUN_DIR/pcscd.pid")" pcscd; then
        pcsc_wait 5 pcsc_card_absent || pcsc_log "pcscd still shows a card in \"$CPX_READER\""
    fi
    return 0
}

# Sends SIGUSR1 (remove/insert toggle) to the running card.
vcard_toggle() {
    local pid
    pid=$(pcsc_read_pid "$CPX_RUN_DIR/vcard.pid")
    pcsc_pid_is "$pid" cpx-vcard || {
        pcsc_log "no cpx-vcard running"
        return 1
    }
    kill -USR1 "$pid"
}

# pcsc_wait_free SECONDS: waits until no pcscd is alive on the machine (the PID in
# /run/pcscd/pcscd.pid): one pcscd per machine, so a second suite waits for the first.
pcsc_wait_free() {
    local limit=$1 pid i
    for ((i = 0; i < limit * 10; i++)); do
        pid=$(pcsc_read_pid "$PCSCD_SYSTEM_PIDFILE")
        [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null && return 0
        ((i == 0)) && pcsc_log "another pcscd is alive (pid $pid): waiting up to ${limit} s"
        sleep 0.1
    done
    return 1
}

# The number of lines in the card's APDU trace (a mark for vcard_answers).
vcard_trace_mark() {
    if [[ -f $CPX_RUN_DIR/vcard.trace ]]; then
        wc -l <"$CPX_RUN_DIR/vcard.trace"
    else
        echo 0
    fi
}

# vcard_answers INS [MARK]: the status word ("63 C2") answering each command with instruction
# INS (hex, "20") that carries data (any CLA, so any logical channel) in the trace after line
# MARK, one per line.
vcard_answers() {
    tail -n +"$((${2:-0} + 1))" "$CPX_RUN_DIR/vcard.trace" 2>/dev/null |
        awk -v ins="$1" '$2 == ">" && $4 == ins && NF > 7 { want = 1; next }
             want && $2 == "<" { print $(NF - 1), $NF; want = 0 }'
}

# vcard_verify_answers [MARK]: the answers to each VERIFY that carries a PIN (INS 20 with
# data). VERIFY without data (the tries-left query) is not listed.
vcard_verify_answers() { vcard_answers 20 "${1:-0}"; }
