#!/usr/bin/env bash
# End-to-end: the PIN lifecycle and the data objects through OUR module (release build, no
# simulator inside, PC/SC transport) with real pcscd + vsmartcard vpcd + cpx-vcard, driven by
# OpenSC's pkcs11-tool (issue #4; cryptolib-compat.md §6.3, §9):
#
#   * --change-pin (C_SetPIN): the new PIN works, the old one no longer does;
#   * a wrong PIN costs exactly one try (one VERIFY on the card per attempt, never resent),
#     the token flags follow the card's counters (COUNT_LOW, FINAL_TRY, LOCKED), and a
#     blocked PIN stays blocked even for the right PIN;
#   * the unblock exactly as the Cryptolib does it, C_Login(CKU_SO, PUK) + C_InitPIN(new PIN):
#     `--login --login-type so --so-pin … --init-pin --new-pin …`; the counter is restored and
#     the new PIN works. (`--unlock-pin --login-type so` is refused by pkcs11-tool 0.23 itself,
#     before any module call — that refusal is checked too; its --unlock-pin speaks OpenSC's own
#     convention, C_Login(CKU_CONTEXT_SPECIFIC, PUK) + C_SetPIN(PUK, new), which the module also
#     accepts: `--login --login-type context-specific --so-pin … --unlock-pin --puk … --new-pin …`);
#   * --read-object --type data --label CPS_NAME_PS: the raw value as the card stores it;
#     CPS_ACTIVITY_01_PS only after login;
#   * no PIN in the module's debug log.
#
#   tests/e2e/pin.sh
#
# Environment:
#   CPX_MODULE   the module (default: target/release/libcpx_pkcs11.so, built here with
#                `cargo build --release` — no `sim` feature — when CPX_MODULE is unset)
#   CPX_VCARD    cpx-vcard binary (default: target/debug/cpx-vcard, built here with
#                `cargo build --features sim --bin cpx-vcard` when CPX_VCARD is unset)
#   CPX_RUN_DIR  scratch directory (default: a new /tmp/cpx-pin.XXXXXX, removed after a clean
#                run, kept when a check failed)
#   CPX_KEEP=1   keep the scratch directory, and leave pcscd and the card running
#   CPX_PCSCD_WAIT  seconds to wait for another suite's pcscd to go away (default 120)
#
# Needs root (pcscd), and pcscd, vsmartcard-vpcd, opensc (pkcs11-tool, opensc-tool) and
# openssl installed: a missing tool is a failure, never a skip. Prints PASS/FAIL per check and
# ends with "N passed, M failed"; exits non-zero on any failure. One pcscd per machine: waits
# until no pcscd runs before starting its own; stops only the processes it started, by PID.
# The harness is tests/e2e/lib.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset CPX_SIM_CARDS CPX_SIM_PINPAD
e2e_begin pin
e2e_module_log
PERSONA=cps3-doctor
PIN=1234
NEW_PIN=5678
UNBLOCKED_PIN=2468
OPENSC_UNBLOCKED_PIN=8642
WRONG_PIN=9999
PUK=12345678

# --- tools, builds ------------------------------------------------------------------------
need_tools pkcs11-tool openssl cmp
build_module
build_vcard
if grep -a -q CPX_SIM_CARDS "$M"; then
    fatal "the module is a sim build (it mentions CPX_SIM_CARDS): build it with cargo build --release"
fi
pass "tools present (module $M, card $CPX_VCARD)"

p11=(pkcs11-tool --module "$M")

# expect_flags WHAT PATTERN: the PIN flags match the extended regexp PATTERN ("" = none).
expect_flags() {
    local what=$1 want=$2 got
    got=$(pin_flags)
    if [[ -z $want && -z $got ]] || { [[ -n $want ]] && grep -qE -- "$want" <<<"$got"; }; then
        pass "$what: token PIN flags [${got:-none}]"
    else
        fail "$what: token PIN flags [${got:-none}], expected ${want:-none}"
    fi
}
# answers INS MARK: the status words answering each command INS (hex) with data since trace
# line MARK, comma-separated.
answers() { vcard_answers "$1" "$2" | paste -sd, -; }
# login_o OUT PIN: pkcs11-tool --login --pin PIN -O (lists the private keys on success).
login_o() { run "$1" "${p11[@]}" --login --pin "$2" -O; }

# --- pcscd and the card -------------------------------------------------------------------
start_pcscd
start_card "$PERSONA"
pass "pcscd up, card $PERSONA in \"$CPX_READER\""
if run "$W/L.out" "${p11[@]}" -L && grep -qF "token label        : CPS3v3-" "$W/L.out"; then
    pass "pkcs11-tool -L: the CPS3 token through PC/SC"
else
    fail "pkcs11-tool -L does not list the CPS3 token"
    show "$W/L.out"
fi
expect_flags "fresh card" ""

# --- data objects -------------------------------------------------------------------------
if run "$W/name.out" "${p11[@]}" --read-object --type data --label CPS_NAME_PS -o "$W/name.der" &&
    cmp -s "$W/name.der" "fixtures/cards/$PERSONA/do-cps-name-ps.der"; then
    pass "--read-object --type data --label CPS_NAME_PS: the raw value the card stores ($(wc -c <"$W/name.der") bytes)"
else
    fail "--read-object --type data --label CPS_NAME_PS differs from fixtures/cards/$PERSONA/do-cps-name-ps.der"
    show "$W/name.out"
fi
if ! run "$W/act0.out" "${p11[@]}" --read-object --type data --label CPS_ACTIVITY_01_PS -o "$W/act0.der"; then
    pass "CPS_ACTIVITY_01_PS is not readable before login"
else
    fail "CPS_ACTIVITY_01_PS was read without login"
fi
if run "$W/act.out" "${p11[@]}" --login --pin "$PIN" --read-object --type data \
    --label CPS_ACTIVITY_01_PS -o "$W/act.der" &&
    cmp -s "$W/act.der" "fixtures/cards/$PERSONA/do-cps-activity-01-ps.der"; then
    pass "CPS_ACTIVITY_01_PS after login: the raw value the card stores"
else
    fail "CPS_ACTIVITY_01_PS after login differs or failed"
    show "$W/act.out"
fi

# --- change the PIN -----------------------------------------------------------------------
mark=$(vcard_trace_mark)
if run "$W/change.out" "${p11[@]}" --change-pin --pin "$PIN" --new-pin "$NEW_PIN"; then
    pass "--change-pin: C_SetPIN accepted (CHANGE REFERENCE DATA answered $(answers 24 "$mark"))"
else
    fail "--change-pin --pin $PIN --new-pin $NEW_PIN failed"
    show "$W/change.out"
fi
if login_o "$W/new.out" "$NEW_PIN" && grep -qF "CPS_PRIV_SIG" "$W/new.out"; then
    pass "the new PIN logs in"
else
    fail "the new PIN does not log in"
    show "$W/new.out"
fi
mark=$(vcard_trace_mark)
if ! login_o "$W/old.out" "$PIN"; then
    got=$(answers 20 "$mark")
    if [[ $got == "63 C2" ]]; then
        pass "the old PIN is refused: one VERIFY, answered 63 C2 (exactly one try spent)"
    else
        fail "the old PIN: VERIFY answers [$got], expected exactly one 63 C2"
    fi
else
    fail "the old PIN still logs in"
fi
expect_flags "after one wrong PIN" "count low"
if login_o "$W/reset.out" "$NEW_PIN"; then
    pass "the right PIN logs in again"
else
    fail "the right PIN does not log in"
    show "$W/reset.out"
fi
expect_flags "a good PIN resets the counter" ""
# pkcs11-tool logs in with the old PIN (--pin) before C_SetPIN: the wrong PIN is one VERIFY.
mark=$(vcard_trace_mark)
if ! run "$W/change-bad.out" "${p11[@]}" --change-pin --pin "$WRONG_PIN" --new-pin 1111; then
    got="$(answers 20 "$mark")/$(answers 24 "$mark")"
    if [[ $got == "63 C2/" ]]; then
        pass "--change-pin with a wrong old PIN: one VERIFY answered 63 C2, no CHANGE REFERENCE DATA"
    else
        fail "--change-pin with a wrong old PIN: VERIFY/CHANGE answers [$got], expected [63 C2/]"
    fi
else
    fail "--change-pin with a wrong old PIN succeeded"
fi
expect_flags "after a wrong old PIN" "count low"
mark=$(vcard_trace_mark)
if ! run "$W/change-short.out" "${p11[@]}" --change-pin --pin "$NEW_PIN" --new-pin 12 &&
    [[ -z $(answers 24 "$mark") ]]; then
    pass "--change-pin to a 2-digit PIN refused without reaching the card"
else
    fail "--change-pin to a 2-digit PIN reached the card or succeeded"
    show "$W/change-short.out"
fi

# --- block, then unblock with the PUK -----------------------------------------------------
login_o "$W/reset2.out" "$NEW_PIN" || true
expect_flags "the right PIN resets the counter" ""
mark=$(vcard_trace_mark)
for i in 1 2 3; do
    login_o "$W/wrong$i.out" "$WRONG_PIN" || true
done
got=$(answers 20 "$mark")
if [[ $got == "63 C2,63 C1,63 C0" ]]; then
    pass "three wrong PINs: one VERIFY each, answered [$got]"
else
    fail "three wrong PINs: VERIFY answers [$got], expected [63 C2,63 C1,63 C0]"
fi
expect_flags "three wrong PINs" "locked"
mark=$(vcard_trace_mark)
if ! login_o "$W/blocked.out" "$NEW_PIN" && grep -q 'CKR_PIN_LOCKED' "$W/blocked.out"; then
    pass "the right PIN on a blocked card: CKR_PIN_LOCKED (VERIFY answers [$(answers 20 "$mark")])"
else
    fail "the right PIN on a blocked card is not CKR_PIN_LOCKED"
    show "$W/blocked.out"
fi
expect_flags "blocked stays blocked" "locked"
mlog_mark=$(wc -l <"$CPX_PKCS11_LOG")
if ! timeout "$T" "${p11[@]}" --unlock-pin --login-type so --so-pin "$PUK" \
    --new-pin "$UNBLOCKED_PIN" >"$W/unlock-so.out" 2>&1 &&
    grep -q "Invalid login type for 'Unlock User PIN'" "$W/unlock-so.out" &&
    ! tail -n +"$((mlog_mark + 1))" "$CPX_PKCS11_LOG" | grep -qE 'C_(Login|InitPIN|SetPIN)'; then
    pass "--unlock-pin --login-type so: refused by pkcs11-tool 0.23 itself, no PIN call reached the module"
else
    fail "--unlock-pin --login-type so: expected pkcs11-tool's own refusal"
    show "$W/unlock-so.out"
fi
mark=$(vcard_trace_mark)
if run "$W/unlock.out" "${p11[@]}" --login --login-type so --so-pin "$PUK" --init-pin \
    --new-pin "$UNBLOCKED_PIN"; then
    pass "--login --login-type so --so-pin … --init-pin: C_Login(CKU_SO) + C_InitPIN (PUK VERIFY answered $(answers 20 "$mark"), RESET RETRY COUNTER $(answers 2C "$mark"))"
else
    fail "--login --login-type so --so-pin $PUK --init-pin --new-pin $UNBLOCKED_PIN failed"
    show "$W/unlock.out"
fi
expect_flags "after the unblock" ""
if login_o "$W/unblocked.out" "$UNBLOCKED_PIN" && grep -qF "CPS_PRIV_SIG" "$W/unblocked.out"; then
    pass "the PIN set by the unblock logs in"
else
    fail "the PIN set by the unblock does not log in"
    show "$W/unblocked.out"
fi

# OpenSC's own unblock convention, which pkcs11-tool's --unlock-pin speaks:
# C_Login(CKU_CONTEXT_SPECIFIC, PUK) outside any operation, then C_SetPIN(PUK, new PIN).
mark=$(vcard_trace_mark)
if run "$W/unlock-cs.out" "${p11[@]}" --login --login-type context-specific --so-pin "$PUK" \
    --unlock-pin --puk "$PUK" --new-pin "$OPENSC_UNBLOCKED_PIN"; then
    pass "--unlock-pin --login-type context-specific: C_Login(CKU_CONTEXT_SPECIFIC, PUK) + C_SetPIN (PUK VERIFY answered $(answers 20 "$mark"), RESET RETRY COUNTER $(answers 2C "$mark"))"
else
    fail "--unlock-pin --login-type context-specific --puk $PUK --new-pin $OPENSC_UNBLOCKED_PIN failed"
    show "$W/unlock-cs.out"
fi
if login_o "$W/unblocked-cs.out" "$OPENSC_UNBLOCKED_PIN" && grep -qF "CPS_PRIV_SIG" "$W/unblocked-cs.out"; then
    pass "the PIN set by pkcs11-tool --unlock-pin logs in"
else
    fail "the PIN set by pkcs11-tool --unlock-pin does not log in"
    show "$W/unblocked-cs.out"
fi

# --- no PIN in the logs -------------------------------------------------------------------
hexpin() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n' | tr a-f A-F; }
leaks=0
for p in "$NEW_PIN" "$UNBLOCKED_PIN" "$OPENSC_UNBLOCKED_PIN" "$PUK"; do
    h=$(hexpin "$p")
    # As a whole word: a process ID in the log's prefix (cpx-pkcs11[22468]) is not a PIN.
    if grep -a -q -w -F -- "$p" "$CPX_PKCS11_LOG" || tr -d ' ' <"$CPX_PKCS11_LOG" | grep -qiF -- "$h" ||
        tr -d ' ' <"$CPX_RUN_DIR/vcard.trace" | grep -qiF -- "$h"; then
        leaks=$((leaks + 1))
        echo "    PIN or PUK $p (or $h) found in a log"
    fi
done
if ((leaks == 0)) && [[ -s $CPX_PKCS11_LOG ]]; then
    pass "no PIN or PUK in the module's debug log ($(wc -l <"$CPX_PKCS11_LOG") lines) or the card trace"
else
    fail "PIN material in the logs"
fi

summary
