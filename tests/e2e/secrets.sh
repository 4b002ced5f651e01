#!/usr/bin/env bash
# End-to-end: no PIN or PUK in any output, at the highest verbosity, over every PIN flow.
#
# Our release module (PC/SC, log level trace into a file) driven by OpenSC's pkcs11-tool,
# with real pcscd + vpcd and cpx-vcard (--verbose, and its APDU trace: the simulator's trace)
# holding a copy of the cps3-signer persona whose PIN and PUK are changed to values that
# cannot occur by chance. Flows: login and signatures with the kept PIN replayed silently
# (PIN cache on: the signature key wants a fresh VERIFY before each signature), the
# per-signature PIN (PIN cache off: C_Login(CKU_CONTEXT_SPECIFIC)), wrong PINs up to the
# block, C_SetPIN, the unblock (C_Login(CKU_SO, PUK) + C_InitPIN) and OpenSC's unblock
# convention (C_Login(CKU_CONTEXT_SPECIFIC, PUK) + C_SetPIN).
#
# Then every file written — the module's trace log, pkcs11-tool's outputs, cpx-vcard's log
# and APDU trace, the module's persistent card cache — is searched for each PIN and PUK used: as ASCII (a whole token), as hex of
# the ASCII (upper and lower case, with and without separators) and as the card's encoding
# (the block padded to the AODF's stored length with FF, as PinRecord::encode sends it; also
# 00-padded). Not searched: pcscd's own log (`pcscd -a` prints every APDU in clear; it is not
# our code, and production pcscd does not run with -a).
#
# The detector proves itself first: a planted file holding a canary secret in each encoding
# must be flagged, one encoding at a time. It was also proved once against the real thing: a
# module built with a temporary `log::trace!` of the PIN makes this suite fail
# (docs/security.md).
#
#   tests/e2e/secrets.sh        Environment: as tests/e2e/pin.sh (CPX_MODULE, CPX_VCARD, …)
#
# Needs root (pcscd), pcscd, vsmartcard-vpcd, opensc. Ends with "N passed, M failed".
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset CPX_SIM_CARDS CPX_SIM_PINPAD
e2e_begin secrets
mlog=$W/module.log
export CPX_PKCS11_LOG=$mlog CPX_PKCS11_LOG_LEVEL=trace
: >"$mlog"
# The persistent card cache (on by default) is written inside the searched directory.
export CPX_PKCS11_CACHE_DIR=$CPX_RUN_DIR/cache

# Values chosen to look like nothing else in a log (leading zero, no runs).
PIN=0739
WRONG=0462
NEW=0815
UNBLOCKED=0927
UNBLOCKED2=0361
PUK=05820461
SECRETS=("$PIN" "$WRONG" "$NEW" "$UNBLOCKED" "$UNBLOCKED2" "$PUK")

need_tools pkcs11-tool od
build_module
build_vcard
pass "tools present (module $M, card $CPX_VCARD)"

# The persona, with our PIN and PUK (outside the searched directory).
P=$CPX_RUN_DIR/persona
rm -rf "$P"
cp -r "$ROOT/fixtures/cards/cps3-signer" "$P"
sed -i -e "s/^value = \"1234\"$/value = \"$PIN\"/" -e "s/^value = \"12345678\"$/value = \"$PUK\"/" "$P/card.toml"
grep -q "value = \"$PIN\"" "$P/card.toml" && grep -q "value = \"$PUK\"" "$P/card.toml" ||
    fatal "could not set the persona's PIN and PUK"

# --- the detector ---------------------------------------------------------------------------
# hexes S: hex forms of the ASCII of S and of its card blocks, one per line (lower case,
# separated by nothing, spaces and colons). grep -i covers upper case.
hexes() {
    local s=$1 block len pad
    local plain
    plain=$(printf %s "$s" | od -An -v -tx1 | tr -d ' \n')
    printf '%s\n' "$plain"
    for len in 8 16; do
        for pad in ff 00; do
            block=$plain
            while ((${#block} < len * 2)); do block+=$pad; done
            printf '%s\n' "$block"
        done
    done
}
# patterns_file S OUT: every fixed-string pattern for S.
patterns_file() {
    local h
    while read -r h; do
        printf '%s\n' "$h" "$(sed 's/../& /g; s/ $//' <<<"$h")" "$(sed 's/../&:/g; s/:$//' <<<"$h")"
    done < <(hexes "$1") >"$2"
}
# leaks DIR...: prints "file: form" for every secret found in the files under DIR; false if none.
leaks() {
    local s found=1 f
    for s in "${SECRETS[@]}" "${CANARY[@]}"; do
        patterns_file "$s" "$W/.patterns"
        while IFS= read -r f; do
            if grep -a -q -P "(?<![0-9A-Za-z._:-])$s(?![0-9A-Za-z_-])" "$f"; then
                echo "$f: $s in ASCII"
                found=0
            fi
            if grep -a -q -i -F -f "$W/.patterns" "$f"; then
                echo "$f: $s in hex ($(grep -a -o -i -F -f "$W/.patterns" "$f" | head -1))"
                found=0
            fi
        done < <(find "$@" -type f ! -name .patterns ! -name .leaks ! -name pcscd.log ! -path "$P/*")
    done
    return $found
}

CANARY=(0174)
canary_forms=("pin=0174" "30313734" "30 31 37 34" "30:31:37:34" "3031373 4" "30313734FFFFFFFF"
    "30 31 37 34 ff ff ff ff" "30 31 37 34 00 00 00 00 00 00 00 00 00 00 00 00")
# The 5th form is not an encoding (a split byte): it must NOT be flagged.
D=$CPX_RUN_DIR/canary
ok=1
for i in "${!canary_forms[@]}"; do
    rm -rf "$D"
    mkdir -p "$D"
    printf 'some log line 12 34 then %s and more\n' "${canary_forms[$i]}" >"$D/log"
    if leaks "$D" >/dev/null; then hit=1; else hit=0; fi
    if { ((i == 4)) && ((hit)); } || { ((i != 4)) && ((!hit)); }; then
        ok=0
        fail "detector: form \"${canary_forms[$i]}\" $( ((hit)) && echo flagged || echo missed)"
    fi
done
rm -rf "$D"
CANARY=()
((ok)) && pass "detector flags a planted PIN in ASCII, hex (3 separators) and padded blocks, and nothing else"

# --- the flows ------------------------------------------------------------------------------
start_pcscd
vcard_start "$P" --verbose || fatal "cpx-vcard --card $P did not show in the reader"
pass "pcscd up, card (cps3-signer, PIN and PUK changed) in \"$CPX_READER\""
p11=(pkcs11-tool --module "$M")
# The CPS3 keys' CKA_IDs (AID ‖ key number, as tests/e2e/module.sh).
SIG=e828bd080f8025000001ff001001
AUT=e828bd080f8025000001ff001002
head -c 100 /dev/urandom >"$W/data.bin"

# step WHAT EXPECT CMD...: runs CMD into $W/NAME.out, expecting success (ok) or failure (fail).
n=0
step() {
    local what=$1 want=$2 rc=0
    shift 2
    n=$((n + 1))
    run "$W/flow-$n.out" "$@" || rc=$?
    if { [[ $want == ok ]] && ((rc == 0)); } || { [[ $want == fail ]] && ((rc != 0)); }; then
        pass "$what"
    else
        fail "$what (exit $rc)"
        show "$W/flow-$n.out"
    fi
}
step "login, list private objects" ok "${p11[@]}" --login --pin "$PIN" -O
step "PIN cache on: sign with the signature key (card wants the PIN each time)" ok \
    "${p11[@]}" --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id "$SIG" -i "$W/data.bin" -o "$W/s1.sig"
step "PIN cache on: pkcs11-tool --test (many signatures, silent re-verifications)" ok \
    "${p11[@]}" --login --pin "$PIN" --test
step "PIN cache off: per-signature PIN (C_Login(CKU_CONTEXT_SPECIFIC))" ok \
    env CPX_PKCS11_PIN_CACHE=off "${p11[@]}" --login --pin "$PIN" --sign -m SHA256-RSA-PKCS \
    --id "$SIG" -i "$W/data.bin" -o "$W/s2.sig"
step "wrong PIN refused" fail "${p11[@]}" --login --pin "$WRONG" -O
step "C_SetPIN: change the PIN" ok "${p11[@]}" --change-pin --pin "$PIN" --new-pin "$NEW"
step "the new PIN signs" ok "${p11[@]}" --login --pin "$NEW" --sign -m SHA256-RSA-PKCS --id "$AUT" \
    -i "$W/data.bin" -o "$W/s3.sig"
for i in 1 2 3; do
    step "wrong PIN $i/3 (blocks the PIN)" fail "${p11[@]}" --login --pin "$WRONG" -O
done
step "blocked: even the right PIN is refused" fail "${p11[@]}" --login --pin "$NEW" -O
step "unblock: C_Login(CKU_SO, PUK) + C_InitPIN" ok \
    "${p11[@]}" --login --login-type so --so-pin "$PUK" --init-pin --new-pin "$UNBLOCKED"
step "wrong PUK refused" fail "${p11[@]}" --login --login-type so --so-pin 06139274 --init-pin --new-pin "$UNBLOCKED2"
step "OpenSC's unblock: C_Login(CKU_CONTEXT_SPECIFIC, PUK) + C_SetPIN" ok \
    "${p11[@]}" --login --login-type context-specific --so-pin "$PUK" --unlock-pin --puk "$PUK" \
    --new-pin "$UNBLOCKED2"
step "the unblocked PIN signs" ok "${p11[@]}" --login --pin "$UNBLOCKED2" --sign -m SHA256-RSA-PKCS \
    --id "$SIG" -i "$W/data.bin" -o "$W/s4.sig"
vcard_stop
SECRETS+=(06139274)

# --- the search -----------------------------------------------------------------------------
lines=$(cat "$mlog" "$CPX_RUN_DIR/vcard.trace" "$CPX_RUN_DIR/vcard.log" | wc -l)
[[ $(grep -c ' TRACE ' "$mlog" || true) -gt 0 ]] || fail "the module log has no TRACE lines: not the highest verbosity"
grep -q ' 20 ' "$CPX_RUN_DIR/vcard.trace" || fail "the card trace shows no VERIFY"
if leaks "$CPX_RUN_DIR" >"$W/.leaks"; then
    fail "a PIN or PUK appears in the outputs:"
    sed 's/^/    /' "$W/.leaks"
else
    pass "no PIN or PUK (${#SECRETS[@]} values x ASCII, hex, padded blocks) in $(find "$CPX_RUN_DIR" -type f ! -name pcscd.log ! -path "$P/*" | wc -l) files, $lines lines of module log and card trace"
fi
summary
