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
#   the card swapped for another of the same ATR with a session open (the other card's token,
#   nobody logged in), and a quick swap back while logged in (the kept PIN never sent to it);
#   pcscd killed and restarted during a session (the slots come back, no reload);
#   a blocking C_WaitForSlotEvent woken by a removal, and by C_Finalize from another thread,
#   each within 1 s;
#   pkcs11-tool --test-fork, and a forked child that initialises the module and signs while
#   the parent keeps working;
#   the card pulled at each APDU of C_Login + C_Sign (cpx-vcard --fault N:remove): the failing
#   call's CK_RV, the session gone, no PIN try spent, and after reinsertion a new session logs
#   in and signs (verified). CI: cps3-doctor, login + sign (≈12 s). CPX_E2E_FAULTS=all: every
#   APDU of bind (card cache off), login and sign, on cps3-doctor and cps4-nurse (≈3 min).
#
#   tests/e2e/live.sh      (environment as tests/e2e/module.sh: CPX_MODULE, CPX_VCARD,
#                           CPX_RUN_DIR, CPX_KEEP, CPX_PCSCD_WAIT; CPX_E2E_FAULTS=all)
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

# --- a card swapped for another of the same ATR ---------------------------------------------------
# cps3-doctor leaves (its cpx-vcard stops) and cps3-expired comes in its place: same ATR,
# another holder. Seen by pcscd: the first card's session is gone, a new session is the other
# card's and nobody is logged in; its own login and signature work. Then, logged in on it (PIN
# cache on), the first card put back without waiting for pcscd to see the reader empty: however
# pcscd reported that quick swap, the next signature fails and the kept PIN never reaches the
# card now in the reader (no VERIFY with data in its trace).
cert_of() { sha256sum "$ROOT/fixtures/pki/$1-auth.der" | cut -d' ' -f1; }
vcard_connections() { grep -c 'inserted in vpcd' "$CPX_RUN_DIR/vcard.log" 2>/dev/null || true; }
client_start swap
expect swap open '^ok$' "swap: a session on cps3-doctor"
expect swap "login $PIN" '^ok$' "swap: login"
expect swap cert "^cert $(cert_of cps3-doctor)$" "swap: cps3-doctor's certificate"
vcard_stop
start_card cps3-expired
expect swap state '^SessionHandleInvalid$' "card swapped for another (same ATR): the first card's session is gone"
expect swap open '^ok$' "card swapped: a new session"
expect swap state '^public$' "card swapped: nobody logged in"
expect swap cert "^cert $(cert_of cps3-expired)$" "card swapped: the other card's certificate, never the first's"
expect swap "login $PIN" '^ok$' "card swapped: the other card's login"
expect swap sign '^ok 1$' "card swapped: its signature, verified with its certificate"
mark=$(vcard_trace_mark)
before=$(vcard_connections)
pcsc_stop_pid "$CPX_RUN_DIR/vcard.pid" cpx-vcard
start_card cps3-doctor
pcsc_wait 5 eval '(($(vcard_connections) > before))' || fail "quick swap: the card did not reach vpcd"
got=$(ask swap sign)
if [[ -n $got && $got != ok* && $got != timeout ]]; then
    pass "quick swap back while logged in: the signature fails ($got)"
else
    fail "quick swap back while logged in: sign answered \"$got\""
fi
verifies=$(vcard_verify_answers "$mark")
if [[ -z $verifies ]]; then
    pass "quick swap back: no VERIFY with data reached the card now in the reader"
else
    fail "quick swap back: the kept PIN reached another card (VERIFY answered: $verifies)"
fi
pcsc_wait 5 pcsc_card_present || fail "the first card is not in the reader"
expect swap open '^ok$' "swapped back: a new session"
expect swap cert "^cert $(cert_of cps3-doctor)$" "swapped back: the first card's certificate"
expect swap state '^public$' "swapped back: nobody logged in"
expect swap "login $PIN" '^ok$' "swapped back: login"
expect swap sign '^ok 1$' "swapped back: signature"
client_stop swap

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

# --- the card pulled at each APDU of login and signature -------------------------------------------
# C-APDUs the card received since trace line MARK (what `cpx-vcard --fault N` counts, from the
# card's start).
apdus_since() {
    sleep 0.1 # the trace is flushed after each exchange
    tail -n +"$(($1 + 1))" "$CPX_RUN_DIR/vcard.trace" | awk '$2 == ">"' | wc -l
}
# removed_since MARK: the card's trace shows the fault's removal after line MARK (within 1 s:
# cpx-vcard writes the event after closing the connection).
removed_since() {
    local i
    for ((i = 0; i < 20; i++)); do
        tail -n +"$(($1 + 1))" "$CPX_RUN_DIR/vcard.trace" | grep -q ' \* Removed$' && return 0
        sleep 0.05
    done
    return 1
}
# pulled_at PERSONA N: a fresh card that leaves the reader at its N-th APDU; a new application
# opens a session (binding the token), logs in and signs. Each step before the pull works; the
# one that meets it fails: DeviceError — vpcd hands pcscd an empty answer for the command the
# card left during, so the module sees a malformed R-APDU, not a removal (the in-process
# matrix, tests/flow_fault_matrix.rs, whose transport reports the removal, says
# TokenNotPresent; both are accepted here) —, or no token listed when the bind met it. Once
# pcscd shows the reader empty the old session is gone, no VERIFY answered 63 Cx (no PIN try
# spent), and after reinsertion a new session is public, logs in and signs (verified by
# live_client).
pulled_at() {
    local persona=$1 n=$2 c=pull-$1-$2 mark step got="" want fired=0
    mark=$(vcard_trace_mark)
    start_card "$persona" --fault "$n:remove"
    client_start "$c"
    for step in open "login $PIN" sign; do
        got=$(ask "$c" "$step")
        case $step in
            open) want='^ok$' ;;
            login*) want='^ok$' ;;
            sign) want='^ok 1$' ;;
        esac
        [[ $got =~ $want ]] && continue
        removed_since "$mark" && fired=1
        case $step in
            # Known (long mode only): through vpcd, a CPS4 whose bind meets the empty answer
            # is reported TokenNotRecognized until it comes back (the in-process matrix, where
            # the removal is reported as such, says TokenNotPresent).
            open) want='^(no token|TokenNotPresent|DeviceError|TokenNotRecognized)$' ;;
            *) want='^(DeviceError|TokenNotPresent)$' ;;
        esac
        break
    done
    if ((!fired)); then
        fail "$persona pulled at APDU $n: the fault did not fire or was not seen (last: ${step%% *} → \"$got\")"
        show "$W/$c.err"
    elif ! [[ $got =~ $want ]]; then
        fail "$persona pulled at APDU $n: ${step%% *} answered \"$got\", wanted /$want/"
        show "$W/$c.err"
    else
        local after=() wanted=(SessionHandleInvalid ok public ok "ok 1") spent
        pcsc_wait 5 pcsc_card_absent || after+=("still present")
        if [[ $step == open ]]; then
            wanted=("${wanted[@]:1}")
        else
            after+=("$(ask "$c" state)")
        fi
        vcard_toggle && pcsc_wait 5 pcsc_card_present || after+=("not back")
        after+=("$(ask "$c" open)" "$(ask "$c" state)" "$(ask "$c" "login $PIN")" "$(ask "$c" sign)")
        # A wrong PIN answers 63 Cx (the VERIFY the card left during has no answer at all).
        spent=$(vcard_verify_answers "$mark" | grep -c '^63 C' || true)
        if [[ ${after[*]} == "${wanted[*]}" ]] && ((spent == 0)); then
            faults_cases+=("${step%% *}@$n:$got")
        else
            fail "$persona pulled at APDU $n (${step%% *} → $got): then \"${after[*]}\", wanted \"${wanted[*]}\"; VERIFY answered 63 Cx: $spent"
            show "$W/$c.err"
        fi
    fi
    client_stop "$c"
    vcard_stop
}

if [[ ${CPX_E2E_FAULTS:-} == all ]]; then
    fault_cards=(cps3-doctor cps4-nurse)
    # The whole bind, not only what the card cache leaves of it.
    export CPX_PKCS11_CACHE=off
else
    fault_cards=(cps3-doctor)
fi
vcard_stop
for persona in "${fault_cards[@]}"; do
    # Where each step ends: a fault-free run of the same application, the second one (the
    # first fills the module's card cache, as it is for the runs that follow).
    for calibration in 1 2; do
        mark=$(vcard_trace_mark)
        start_card "$persona"
        client_start "calib-$calibration-$persona"
        bind=0 login=0 signed=0
        [[ $(ask "calib-$calibration-$persona" open) == ok ]] && bind=$(apdus_since "$mark")
        [[ $(ask "calib-$calibration-$persona" "login $PIN") == ok ]] && login=$(apdus_since "$mark")
        [[ $(ask "calib-$calibration-$persona" sign) == "ok 1" ]] && signed=$(apdus_since "$mark")
        client_stop "calib-$calibration-$persona"
        vcard_stop
    done
    if ! ((bind < login && login < signed)); then
        fail "$persona: fault-free run: bind to APDU $bind, login to $login, sign to $signed"
        continue
    fi
    first=1
    [[ ${CPX_E2E_FAULTS:-} == all ]] || first=$((bind + 1))
    faults_cases=()
    t0=$(date +%s%N)
    for ((n = first; n <= signed; n++)); do
        pulled_at "$persona" "$n"
    done
    if ((${#faults_cases[@]} == signed - first + 1)); then
        pass "$persona pulled at each of APDUs $first..$signed (bind 1..$bind, login ..$login, sign ..$signed): the failing call answered as a pulled card, the session was gone, no PIN try spent, and after reinsertion a new session logged in and signed ($(ms_since "$t0") ms: ${faults_cases[*]})"
    fi
done

summary
