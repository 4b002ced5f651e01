#!/usr/bin/env bash
# End-to-end: a practitioner's desk. Our release module through real pcscd + vpcd + cpx-vcard,
# in applications that keep running (examples/live_client.rs: one command per line on stdin)
# while the card is pulled and put back, reset by another process (examples/pcsc_reset.rs:
# SCardDisconnect with SCARD_RESET_CARD), and pcscd is killed and restarted:
#
#   two processes × 50 signatures on one card at once, each verified;
#   a reset by another process while logged in, PIN cache on (transparent) and off (logged
#   out, C_GetSessionInfo says so, C_Login works again);
#   removal and reinsertion with a session open (session gone, fresh token);
#   pcscd killed and restarted during a session (the slots come back, no reload);
#   a blocking C_WaitForSlotEvent woken by a removal, and by C_Finalize from another thread,
#   each within 1 s;
#   pkcs11-tool --test-fork, and a forked child that initialises the module and signs while
#   the parent keeps working.
#
#   tests/e2e/live.sh      (environment as tests/e2e/module.sh: CPX_MODULE, CPX_VCARD,
#                           CPX_RUN_DIR, CPX_KEEP, CPX_PCSCD_WAIT)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset CPX_SIM_CARDS
e2e_begin live
e2e_module_log
PIN=1234

need_tools pkcs11-tool
build_module
build_vcard
cargo build --quiet --example live_client --example pcsc_reset || fatal "cargo build of the examples failed"
CLIENT=$ROOT/target/debug/examples/live_client
RESETTER=$ROOT/target/debug/examples/pcsc_reset
pass "tools and builds (module $M)"

# --- applications driven line by line --------------------------------------------------------
declare -A client_fd client_pid
# client_start NAME [VAR=VALUE...]: a live_client process reading $W/NAME.in.
client_start() {
    local name=$1 fd
    shift
    rm -f "$W/$name.in" "$W/$name.out"
    mkfifo "$W/$name.in"
    env "$@" "$CLIENT" "$M" <"$W/$name.in" >"$W/$name.out" 2>>"$W/$name.err" &
    client_pid[$name]=$!
    exec {fd}>"$W/$name.in"
    client_fd[$name]=$fd
}
# ask NAME COMMAND [SECONDS]: sends COMMAND, prints the answer line (or "timeout").
ask() {
    local name=$1 cmd=$2 limit=${3:-$T} before i
    before=$(wc -l <"$W/$name.out")
    echo "$cmd" >&"${client_fd[$name]}"
    for ((i = 0; i < limit * 50; i++)); do
        if (($(wc -l <"$W/$name.out") > before)); then
            sed -n "$((before + 1))p" "$W/$name.out"
            return 0
        fi
        sleep 0.02
    done
    echo timeout
}
client_stop() {
    local name=$1
    echo quit >&"${client_fd[$name]}" 2>/dev/null || true
    exec {client_fd[$name]}>&-
    wait "${client_pid[$name]}" 2>/dev/null || true
}
# expect NAME COMMAND WANTED MESSAGE: the answer matches the extended regex WANTED.
expect() {
    local got
    got=$(ask "$1" "$2")
    if [[ $got =~ $3 ]]; then
        pass "$4 ($2 → $got)"
    else
        fail "$4: $2 answered \"$got\", wanted /$3/"
        show "$W/$1.err"
    fi
}

start_pcscd
start_card cps3-doctor

# --- two processes × 50 signatures at once ------------------------------------------------------
for p in a b; do
    printf 'open\nlogin %s\nsign 50\nquit\n' "$PIN" | timeout 300 "$CLIENT" "$M" >"$W/par-$p.out" 2>&1 &
    eval "par_$p=\$!"
done
# shellcheck disable=SC2154 # set by eval
wait "$par_a" && wait "$par_b" || true
if grep -qx 'ok 50' "$W/par-a.out" && grep -qx 'ok 50' "$W/par-b.out"; then
    pass "two processes × 50 signatures on one card at once: all 100 verified"
else
    fail "two processes × 50 signatures"
    show "$W/par-a.out"
    show "$W/par-b.out"
fi

# --- reset by another process, PIN cache on and off ---------------------------------------
for cache in on off; do
    client_start "reset-$cache" CPX_PKCS11_PIN_CACHE=$cache
    expect "reset-$cache" open '^ok$' "cache $cache: session"
    expect "reset-$cache" "login $PIN" '^ok$' "cache $cache: login"
    expect "reset-$cache" sign '^ok 1$' "cache $cache: a signature before the reset"
    if [[ $(timeout "$T" "$RESETTER" "$CPX_READER" 2>&1) == reset ]]; then
        pass "cache $cache: another process reset the card (SCARD_RESET_CARD)"
    else
        fail "cache $cache: pcsc_reset failed"
    fi
    if [[ $cache == on ]]; then
        expect "reset-$cache" sign '^ok 1$' "cache on: the next signature works without a new C_Login"
        expect "reset-$cache" state '^user$' "cache on: still logged in"
    else
        expect "reset-$cache" state '^public$' "cache off: C_GetSessionInfo says logged out"
        expect "reset-$cache" sign '^(0 objects|UserNotLoggedIn)' "cache off: no signature without a new C_Login"
        expect "reset-$cache" "login $PIN" '^ok$' "cache off: C_Login works again"
        expect "reset-$cache" sign '^ok 1$' "cache off: then the signature works"
    fi
    client_stop "reset-$cache"
done

# --- removal and reinsertion with a session open ------------------------------------------------
client_start pull
expect pull open '^ok$' "pull: session"
expect pull "login $PIN" '^ok$' "pull: login"
vcard_toggle && pcsc_wait 5 pcsc_card_absent || fail "the card did not leave the reader"
expect pull state '^SessionHandleInvalid$' "card pulled: the session is gone"
vcard_toggle && pcsc_wait 5 pcsc_card_present || fail "the card did not come back"
expect pull open '^ok$' "card back: a new session"
expect pull state '^public$' "card back: a fresh token, nobody logged in"
expect pull "login $PIN" '^ok$' "card back: login"
expect pull sign '^ok 1$' "card back: signature"

# --- pcscd killed and restarted during a session -------------------------------------------------
pcscd_stop
expect pull state '^(SessionHandleInvalid|TokenNotPresent|DeviceRemoved)$' "pcscd gone: the session is over"
expect pull slots '^slots 0$' "pcscd gone: no slot with a token, no error"
pcscd_start || fatal "pcscd did not start again"
pcsc_wait 30 pcsc_card_present || fatal "the card did not come back after the pcscd restart"
back=""
for _ in $(seq 50); do
    back=$(ask pull slots)
    [[ $back == "slots 1" ]] && break
    sleep 0.1
done
[[ $back == "slots 1" ]] && pass "pcscd restarted: the slot comes back in the same process" ||
    fail "pcscd restarted: slots answered \"$back\""
expect pull open '^ok$' "after the restart: a new session"
expect pull "login $PIN" '^ok$' "after the restart: login"
expect pull sign '^ok 1$' "after the restart: signature"
client_stop pull

# --- blocking C_WaitForSlotEvent -------------------------------------------------------------------
client_start waiter
echo wait >&"${client_fd[waiter]}"
sleep 0.5
t0=$(date +%s%N)
vcard_toggle
got=""
for ((i = 0; i < 250; i++)); do
    got=$(sed -n 1p "$W/waiter.out")
    [[ -n $got ]] && break
    sleep 0.02
done
ms=$(ms_since "$t0")
if [[ $got =~ ^slot\ [0-9]+ ]] && ((ms < 1000)); then
    pass "a blocking C_WaitForSlotEvent returns the slot $ms ms after the card is pulled ($got)"
else
    fail "blocking wait and removal: \"$got\" after $ms ms"
fi
vcard_toggle && pcsc_wait 5 pcsc_card_present || fail "the card did not come back"
expect waiter wait '^slot [0-9]+' "the card coming back is an event too"
got=$(ask waiter "wait 300")
woke=$(sed -nE 's/^CryptokiNotInitialized in ([0-9]+) ms$/\1/p' <<<"$got")
if [[ -n $woke ]] && ((woke < 1300)); then
    pass "C_Finalize from another thread wakes a blocking C_WaitForSlotEvent within 1 s ($got, 300 ms of which before C_Finalize)"
else
    fail "C_Finalize and a blocking C_WaitForSlotEvent: wait 300 answered \"$got\""
fi
client_stop waiter

# --- fork ------------------------------------------------------------------------------------------
if run "$W/fork.out" pkcs11-tool --module "$M" --test-fork; then
    pass "pkcs11-tool --test-fork"
else
    fail "pkcs11-tool --test-fork"
    show "$W/fork.out"
fi
client_start fork
expect fork open '^ok$' "fork: parent session"
expect fork "login $PIN" '^ok$' "fork: parent login"
expect fork "fork-sign $PIN" '^child ok$' "a forked child initialises the module afresh, logs in and signs"
expect fork sign '^ok 1$' "the parent keeps working after its child's C_Finalize"
client_stop fork

summary
