#!/usr/bin/env bash
# End-to-end: the `cpx` tool (release build, PC/SC) through real pcscd + vsmartcard vpcd +
# cpx-vcard (issue #8):
#
#   * `cpx pin change` and `cpx pin unblock` typed through a pseudo-terminal
#     (tests/e2e/pty-drive.py): nothing typed is echoed; after each step the card's counters
#     are read by a separate `cpx pin status --json` (the card state lives in cpx-vcard, so it
#     carries over between processes), and the card's own trace shows what each step sent:
#     a wrong PIN costs exactly one try (one CHANGE REFERENCE DATA / VERIFY answered 63 Cx),
#     a mistyped confirmation or a malformed PIN costs none (nothing reaches the card), the
#     third wrong PIN blocks and the tool says what to do, a wrong PUK costs one PUK try, the
#     right PUK unblocks (tries back to 3, one unblock use less);
#   * `cpx diag` through pcscd: pcscd installed, answering, the card recognised; then with
#     pcscd stopped: "pcscd is not running" with the command that starts it, exit status 3,
#     in French and in English; `cpx info` then says there is no reader.
#
#   tests/e2e/cli.sh
#
# Environment: CPX_VCARD, CPX_RUN_DIR, CPX_KEEP=1, CPX_PCSCD_WAIT as the other suites
# (tests/e2e/lib.sh); CPX_CLI: the cpx binary (default: target/release/cpx, built here).
# Needs root (pcscd), pcscd, vsmartcard-vpcd and python3: a missing tool is a failure, never
# a skip. Prints PASS/FAIL per check and ends with "N passed, M failed".
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset CPX_SIM_CARDS CPX_SIM_PINPAD LC_ALL LC_MESSAGES
e2e_begin cli
PERSONA=cps3-doctor
PIN=1234
NEW_PIN=5678
UNBLOCKED_PIN=2468
WRONG_PIN=9999
PUK=12345678
WRONG_PUK=87654321

need_tools python3 certutil
build_vcard
if [[ -z ${CPX_CLI:-} ]]; then
    cargo build --quiet --release --bin cpx || fatal "cargo build --release --bin cpx failed"
    CPX_CLI=$ROOT/target/release/cpx
fi
[[ -x $CPX_CLI ]] || fatal "cpx binary $CPX_CLI missing"
DRIVE=(python3 "$ROOT/tests/e2e/pty-drive.py")
pass "tools present (cpx $CPX_CLI, card $CPX_VCARD)"

start_pcscd
start_card "$PERSONA"
pass "pcscd + vpcd + cpx-vcard --card $PERSONA"

fr() { LANG=fr_FR.UTF-8 "$CPX_CLI" "$@"; }
en() { LANG=en_US.UTF-8 "$CPX_CLI" "$@"; }

# counters: "tries_left/max_tries/unblock_left" from a separate `cpx pin status --json`.
counters() {
    # (exit status 3 when the PIN is blocked: the JSON is what counts here)
    { fr --json pin status 2>/dev/null || true; } | python3 -c '
import json, sys
p = json.load(sys.stdin)["pin"]
print("%s/%s/%s" % (p["tries_left"], p["max_tries"], p["unblock_left"]))'
}

# step NAME EXPECTED_STATUS EXPECTED_TEXT EXPECTED_COUNTERS ANSWERS_INS EXPECTED_ANSWERS
#      PROMPT=ANSWER... -- cpx ARGS: one interactive run through the pseudo-terminal.
step() {
    local name=$1 want_rc=$2 want_text=$3 want_counters=$4 ins=$5 want_answers=$6
    shift 6
    local pairs=()
    while [[ $1 != -- ]]; do
        pairs+=("$1")
        shift
    done
    shift
    local mark rc=0 got_counters got_answers
    mark=$(vcard_trace_mark)
    timeout "$T" "${DRIVE[@]}" "$W/$name.txt" "${pairs[@]}" -- env LANG="${STEP_LANG:-fr_FR.UTF-8}" \
        "$CPX_CLI" "$@" >"$W/$name.err" 2>&1 || rc=$?
    got_counters=$(counters)
    got_answers=$(vcard_answers "$ins" "$mark" | paste -sd, -)
    if [[ $rc == "$want_rc" ]] && grep -qF -- "$want_text" "$W/$name.txt" &&
        [[ $got_counters == "$want_counters" && $got_answers == "$want_answers" ]]; then
        pass "$name: exit $rc, \"$want_text\", nothing echoed; counters $got_counters; card answered [$got_answers] to INS $ins"
    else
        fail "$name: exit $rc (want $want_rc), counters $got_counters (want $want_counters), INS $ins answers [$got_answers] (want [$want_answers]), \"$want_text\" in:"
        show "$W/$name.txt"
        show "$W/$name.err"
    fi
}

# --- PIN change and unblock through the pseudo-terminal -----------------------------------
c=$(counters)
[[ $c == 3/3/100 ]] && pass "cpx pin status --json: 3/3 tries, 100 unblock uses" ||
    fail "initial counters $c"

OLD="Code porteur actuel : "
NEW="Nouveau code porteur : "
AGAIN="Nouveau code porteur (encore) : "
step change-wrong-old 1 "Code porteur incorrect : il reste 2 essais" 2/3/100 24 "63 C2" \
    "$OLD=$WRONG_PIN" "$NEW=$NEW_PIN" "$AGAIN=$NEW_PIN" -- pin change
step change-right 0 "Code porteur changé (3 essais restant(s) sur 3)" 3/3/100 24 "90 00" \
    "$OLD=$PIN" "$NEW=$NEW_PIN" "$AGAIN=$NEW_PIN" -- pin change
step change-confirmation-differs 1 "les deux saisies du nouveau code diffèrent" 3/3/100 24 "" \
    "$OLD=$NEW_PIN" "$NEW=1111" "$AGAIN=2222" -- pin change
if grep -q "diffèrent (rien n'a été envoyé à la carte)" "$W/change-confirmation-differs.txt"; then
    pass "mistyped confirmation: refused before the card, said so"
else
    fail "mistyped confirmation message"
    show "$W/change-confirmation-differs.txt"
fi
step change-malformed 1 "a 4 chiffres, pas 2 (rien n'a été envoyé à la carte)" 3/3/100 24 "" \
    "$OLD=12" -- pin change
STEP_LANG=en_US.UTF-8 step change-wrong-en 1 "Wrong PIN: 2 tries left" 2/3/100 24 "63 C2" \
    "Current PIN: =$WRONG_PIN" "New PIN: =$NEW_PIN" "New PIN (again): =$NEW_PIN" -- pin change
step change-wrong-2 1 "il reste 1 essai" 1/3/100 24 "63 C1" \
    "$OLD=$WRONG_PIN" "$NEW=$NEW_PIN" "$AGAIN=$NEW_PIN" -- pin change
step change-wrong-3 1 "cpx pin unblock" 0/3/100 24 "63 C0" \
    "$OLD=$WRONG_PIN" "$NEW=$NEW_PIN" "$AGAIN=$NEW_PIN" -- pin change
if grep -q "maintenant bloqué" "$W/change-wrong-3.txt"; then
    pass "third wrong PIN: \"il est maintenant bloqué\" and the way out (PUK: cpx pin unblock)"
else
    fail "third wrong PIN message"
    show "$W/change-wrong-3.txt"
fi
if fr pin status >"$W/blocked.out" 2>&1; then rc=0; else rc=$?; fi
if [[ $rc == 3 ]] && grep -q "BLOQUÉ (0/3 essai restant)" "$W/blocked.out"; then
    pass "cpx pin status on the blocked PIN: exit 3, BLOQUÉ"
else
    fail "cpx pin status on the blocked PIN (exit $rc)"
    show "$W/blocked.out"
fi

PUKP="Code de déblocage (PUK) : "
step unblock-wrong-puk 1 "il reste 9 essais" 0/3/100 20 "63 C9" \
    "$PUKP=$WRONG_PUK" "$NEW=$UNBLOCKED_PIN" "$AGAIN=$UNBLOCKED_PIN" -- pin unblock
step unblock-right 0 "Code porteur débloqué" 3/3/99 2C "90 00" \
    "$PUKP=$PUK" "$NEW=$UNBLOCKED_PIN" "$AGAIN=$UNBLOCKED_PIN" -- pin unblock
step change-after-unblock 0 "Code porteur changé" 3/3/99 24 "90 00" \
    "$OLD=$UNBLOCKED_PIN" "$NEW=$PIN" "$AGAIN=$PIN" -- pin change

# --- diag through pcscd, then with pcscd stopped ------------------------------------------
export HOME=$W/home
mkdir -p "$HOME"
if fr diag >"$W/diag.out" 2>&1; then rc=0; else rc=$?; fi
if grep -q '^\[ OK  \] pcscd installé' "$W/diag.out" && grep -q '^\[ OK  \] pcscd répond' "$W/diag.out" &&
    grep -q '^\[ OK  \] carte CPS3 reconnue : jeton CPS3v3-2699700011' "$W/diag.out" &&
    grep -q '^\[ OK  \] code porteur : 3/3 essais restants' "$W/diag.out"; then
    pass "cpx diag through pcscd: pcscd installed and answering, CPS3 recognised, PIN 3/3 (exit $rc)"
else
    fail "cpx diag through pcscd"
    show "$W/diag.out" 30
fi

# The README's example: a blocked PIN, and a Firefox profile without the module.
vcard_stop
start_card cps3-pharmacist-blocked
PROFILE=$HOME/.mozilla/firefox/abcd1234.default-esr
mkdir -p "$PROFILE"
printf '[Profile0]\nName=default-esr\nIsRelative=1\nPath=abcd1234.default-esr\nDefault=1\n' \
    >"$HOME/.mozilla/firefox/profiles.ini"
certutil -N -d "sql:$PROFILE" --empty-password >"$W/certutil.out" 2>&1 ||
    fail "certutil -N for the Firefox profile"
if fr diag >"$W/diag-blocked.out" 2>&1; then rc=0; else rc=$?; fi
if [[ $rc == 3 ]] && grep -q '^\[ÉCHEC\] code porteur : BLOQUÉ (0/3 essai restant), 100 déblocages restants' "$W/diag-blocked.out" &&
    grep -q '→ cpx pin unblock' "$W/diag-blocked.out" &&
    grep -q '^\[ÉCHEC\] Firefox (profil abcd1234.default-esr) : module non enregistré' "$W/diag-blocked.out" &&
    grep -q '→ cpx register firefox' "$W/diag-blocked.out"; then
    pass "cpx diag, blocked PIN and a Firefox profile without the module: exit 3, both failing with their fix"
else
    fail "cpx diag on the blocked card (exit $rc)"
    show "$W/diag-blocked.out" 30
fi
cp "$W/diag-blocked.out" "$CPX_RUN_DIR/diag-blocked.txt"

vcard_stop
pcscd_stop
for lang in fr en; do
    if $lang diag >"$W/diag-stopped-$lang.out" 2>&1; then rc=0; else rc=$?; fi
    case $lang in
    fr) want=("[ÉCHEC] pcscd n'est pas lancé" "→ sudo systemctl enable --now pcscd.socket" "[ÉCHEC] pcscd ne répond pas" "[ÉCHEC] aucun lecteur de carte" "→ réparez d'abord pcscd") ;;
    en) want=("[FAIL ] pcscd is not running" "→ sudo systemctl enable --now pcscd.socket" "[FAIL ] pcscd does not answer" "[FAIL ] no smart-card reader" "→ fix pcscd first") ;;
    esac
    missing=()
    for w in "${want[@]}"; do
        grep -qF -- "$w" "$W/diag-stopped-$lang.out" || missing+=("$w")
    done
    if [[ $rc == 3 && ${#missing[@]} == 0 ]]; then
        pass "cpx diag ($lang) with pcscd stopped: exit 3, not running / not answering / no reader, each with its fix"
    else
        fail "cpx diag ($lang) with pcscd stopped: exit $rc, missing: ${missing[*]}"
        show "$W/diag-stopped-$lang.out" 30
    fi
done
cp "$W/diag-stopped-fr.out" "$CPX_RUN_DIR/diag-pcscd-stopped.txt"
if fr info >"$W/info-stopped.out" 2>&1; then rc=0; else rc=$?; fi
if [[ $rc == 1 ]] && grep -q "cpx: erreur : aucun lecteur de carte trouvé" "$W/info-stopped.out"; then
    pass "cpx info with pcscd stopped: exit 1, \"aucun lecteur de carte trouvé … voir « cpx diag »\""
else
    fail "cpx info with pcscd stopped (exit $rc)"
    show "$W/info-stopped.out"
fi

summary
