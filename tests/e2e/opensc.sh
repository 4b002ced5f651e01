#!/usr/bin/env bash
# End-to-end: OpenSC 0.23 (Debian 12) as an independent client of the simulated CPS3 card,
# through real pcscd + vsmartcard vpcd + cpx-vcard (test-harness.md §7.1, cpx-cards.md §13).
#
#   tests/e2e/opensc.sh
#
# Environment:
#   CPX_VCARD    cpx-vcard binary (default: target/debug/cpx-vcard, built here with
#                `cargo build --features sim --bin cpx-vcard` when CPX_VCARD is unset)
#   CPX_PERSONA  persona (default cps3-doctor); CPX_PIN its PIN (default 1234)
#   CPX_RUN_DIR  scratch directory (default: a new /tmp/cpx-e2e.XXXXXX, kept for inspection)
#   CPX_KEEP=1   keep pcscd and the card running after the checks (debugging)
#   CPX_PCSCD_WAIT  seconds to wait for another suite's pcscd to go away (default 120)
#
# Needs root (pcscd), and pcscd, vsmartcard-vpcd, opensc, opensc-pkcs11, openssl installed:
# a missing tool is a failure, never a skip. Prints PASS/FAIL per check and ends with
# "N passed, M failed"; exits non-zero on any failure. The wrong-PIN checks block the PIN:
# they run last, on a fresh cpx-vcard process. The harness is tests/e2e/lib.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_begin e2e keep
PERSONA=${CPX_PERSONA:-cps3-doctor}
PIN=${CPX_PIN:-1234}
WRONG_PIN=9999
AUT_ID=e828bd080f8025000001ff001002
# The contact IAS application. pkcs15-tool needs it explicitly: OpenSC 0.23's sc_enum_apps
# moves the second known CPx application (the contactless one) to the head of its list, so
# without --aid it binds the CL application, which is not selectable over contact.
P15_AID=E828BD080F8025000001FF0010
TOKEN_LABEL="Code porteur de la carte CPS"
TRACE=$CPX_RUN_DIR/vcard.trace

# --- tools --------------------------------------------------------------------------------
OPENSC_P11=$(dpkg -L opensc-pkcs11 2>/dev/null | grep '/opensc-pkcs11\.so$' | head -1 || true)
[[ -n $OPENSC_P11 && -e $OPENSC_P11 ]] || also_missing+=("opensc-pkcs11.so (package opensc-pkcs11)")
need_tools pkcs11-tool pkcs15-tool openssl dpkg
build_vcard
pass "tools present (OpenSC module $OPENSC_P11, card $CPX_VCARD)"

p11=(pkcs11-tool --module "$OPENSC_P11")

# --- pcscd and the card -------------------------------------------------------------------
start_pcscd
pass "pcscd up, reader \"$CPX_READER\" listed"
start_card "$PERSONA"
pass "card $PERSONA present in \"$CPX_READER\""

# --- (a) driver ---------------------------------------------------------------------------
if run "$W/name.out" opensc-tool -n && grep -qE 'IAS[-/]ECC' "$W/name.out"; then
    pass "opensc-tool -n: driver $(tail -1 "$W/name.out")"
else
    fail "opensc-tool -n does not name the IAS-ECC driver"
    show "$W/name.out"
fi
if run "$W/atr.out" opensc-tool -a &&
    grep -qi '3b:ac:00:40:2a:00:12:25:00:64:80:00:03:10:00:90:00' "$W/atr.out"; then
    pass "opensc-tool -a: the CPS3 ATR"
else
    fail "opensc-tool -a does not show the CPS3 ATR"
    show "$W/atr.out"
fi

# --- (b) token and objects ----------------------------------------------------------------
t0=$(date +%s%N)
if run "$W/L.out" "${p11[@]}" -L && grep -qF "token label        : $TOKEN_LABEL" "$W/L.out"; then
    pass "pkcs11-tool -L: token \"$TOKEN_LABEL\" ($(ms_since "$t0") ms)"
else
    fail "pkcs11-tool -L does not list the token \"$TOKEN_LABEL\""
    show "$W/L.out"
fi
if run "$W/O.out" "${p11[@]}" -O &&
    grep -qF "label:      Certificat d'Authentification CPS" "$W/O.out" &&
    grep -qF "label:      Certificat de Signature CPS" "$W/O.out"; then
    pass "pkcs11-tool -O: authentication and signature certificates"
else
    fail "pkcs11-tool -O does not list both certificates"
    show "$W/O.out" 30
fi
if run "$W/OL.out" "${p11[@]}" --login --pin "$PIN" -O &&
    grep -qF "label:      CPS_PRIV_AUT" "$W/OL.out" &&
    grep -qF "label:      CPS_PRIV_SIG" "$W/OL.out"; then
    pass "pkcs11-tool --login -O: private keys CPS_PRIV_AUT and CPS_PRIV_SIG"
else
    fail "pkcs11-tool --login -O does not list both private keys"
    show "$W/OL.out" 30
fi

if run "$W/p15keys.out" pkcs15-tool --aid "$P15_AID" --list-keys &&
    grep -qF 'Private RSA Key [CPS_PRIV_SIG]' "$W/p15keys.out" &&
    grep -qF 'Private RSA Key [CPS_PRIV_AUT]' "$W/p15keys.out"; then
    pass "pkcs15-tool --list-keys: the PrKDF parses (CPS_PRIV_SIG, CPS_PRIV_AUT)"
else
    fail "pkcs15-tool --list-keys does not show both private keys (PrKDF not parsed?)"
    show "$W/p15keys.out"
fi

# The authentication certificate and its public key, read from the token.
have_pub=0
if run "$W/readcert.out" "${p11[@]}" --read-object --type cert --id "$AUT_ID" -o "$W/aut.der" &&
    run "$W/pub.out" openssl x509 -inform DER -in "$W/aut.der" -pubkey -noout &&
    cp "$W/pub.out" "$W/aut.pub" && grep -q 'BEGIN PUBLIC KEY' "$W/aut.pub"; then
    pass "authentication certificate read from the token ($(openssl x509 -inform DER -in "$W/aut.der" -noout -subject 2>/dev/null))"
    have_pub=1
else
    fail "cannot read the authentication certificate $AUT_ID from the token"
    show "$W/readcert.out"
fi

# --- (c) sign (CKM_RSA_PKCS over a SHA-256 DigestInfo = INTERNAL AUTHENTICATE) ------------
printf 'cpx-pkcs11 e2e %s\n' "$(date +%s%N)" >"$W/data.txt"
{
    printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'
    openssl dgst -sha256 -binary "$W/data.txt"
} >"$W/digestinfo.bin"
if ((have_pub)) &&
    run "$W/sign.out" "${p11[@]}" --login --pin "$PIN" --sign -m RSA-PKCS --id "$AUT_ID" \
        -i "$W/digestinfo.bin" -o "$W/sig.bin"; then
    if run "$W/verify.out" openssl pkeyutl -verify -pubin -inkey "$W/aut.pub" \
        -in "$W/digestinfo.bin" -sigfile "$W/sig.bin" &&
        run "$W/dgstverify.out" openssl dgst -sha256 -verify "$W/aut.pub" \
            -signature "$W/sig.bin" "$W/data.txt"; then
        pass "RSA-PKCS signature by CPS_PRIV_AUT verifies with the certificate's key"
    else
        fail "the signature does not verify"
        show "$W/verify.out"
        show "$W/dgstverify.out"
    fi
else
    fail "pkcs11-tool --sign -m RSA-PKCS --id $AUT_ID failed"
    show "$W/sign.out"
fi

# --- (d) decrypt (PSO DECIPHER) -----------------------------------------------------------
head -c 32 /dev/urandom >"$W/secret.bin"
if ((have_pub)) &&
    run "$W/enc.out" openssl pkeyutl -encrypt -pubin -inkey "$W/aut.pub" \
        -pkeyopt rsa_padding_mode:pkcs1 -in "$W/secret.bin" -out "$W/cipher.bin" &&
    run "$W/dec.out" "${p11[@]}" --login --pin "$PIN" --decrypt -m RSA-PKCS --id "$AUT_ID" \
        -i "$W/cipher.bin" -o "$W/plain.bin" &&
    cmp -s "$W/secret.bin" "$W/plain.bin"; then
    pass "RSA-PKCS decryption by CPS_PRIV_AUT returns the plaintext"
else
    fail "RSA-PKCS decryption failed or returned another plaintext"
    show "$W/dec.out"
fi

# --- trace --------------------------------------------------------------------------------
if [[ -s $TRACE ]] && grep -q '> 00 20 00 01 08 2A 2A 2A 2A 2A 2A 2A 2A' "$TRACE" &&
    ! grep -qE '> 00 20 00 01 08 3[0-9] 3[0-9] 3[0-9] 3[0-9]' "$TRACE"; then
    pass "APDU trace written ($(grep -c ' > ' "$TRACE") C-APDUs), PIN bytes masked"
else
    fail "APDU trace $TRACE missing, without VERIFY, or with a clear PIN"
fi

# --- (f) removal and insertion (SIGUSR1) --------------------------------------------------
if vcard_toggle && pcsc_wait 5 pcsc_card_absent; then
    if vcard_toggle && pcsc_wait 5 pcsc_card_present &&
        run "$W/L2.out" "${p11[@]}" -L && grep -qF "$TOKEN_LABEL" "$W/L2.out"; then
        pass "SIGUSR1 removes the card, SIGUSR1 inserts it again, the token is back"
    else
        fail "the card did not come back after the second SIGUSR1"
    fi
else
    fail "SIGUSR1 did not remove the card"
fi

# --- (e) wrong PIN, counter, blocking (a fresh card process) ------------------------------
vcard_stop
: >"$TRACE"
start_card "$PERSONA"

# Tries left as the card shows them: its answer to VERIFY without data (00 20 00 01), sent
# through pcscd by opensc-tool: 63 Cx = x tries left, 69 83 = blocked, 90 00 = verified.
# (pkcs15-tool --list-pins does not query the card in 0.23, and opensc-explorer cannot start
# on a CPS3: SELECT MF by path answers 90 00 without FCP, cpx-cards.md §5.5 #12.)
reader_nr=$(pcsc_reader_line | awk '{ print $1 }')
tries_shown() {
    timeout "$T" opensc-tool -r "$reader_nr" -s 00:20:00:01 >"$W/pins.out" 2>&1 || true
    if grep -q 'SW1=0x69, SW2=0x83' "$W/pins.out"; then
        echo blocked
    else
        sed -nE 's/.*SW1=0x63, SW2=0xC([0-9A-F]).*/\1/p' "$W/pins.out" | head -1
    fi
}
n=$(tries_shown)
if [[ $n == 3 ]]; then
    pass "the card shows 3 PIN tries before the wrong PINs (VERIFY status 63 C3)"
else
    fail "the card shows \"$n\" PIN tries, expected 3"
    show "$W/pins.out"
fi
declare -A want_flag=([2]="user PIN count low" [1]="final user PIN try" [0]="user PIN locked")
for expect in 2 1 0; do
    before=$(wc -l <"$TRACE")
    if run "$W/wrong$expect.out" "${p11[@]}" --login --pin "$WRONG_PIN" -O; then
        fail "login with the wrong PIN succeeded"
        continue
    fi
    answers=$(vcard_verify_answers "$before" | tr '\n' ',')
    rv=$(grep -oE 'CKR_[A-Z_]+' "$W/wrong$expect.out" | head -1 || true)
    if [[ $answers == "63 C$expect," ]]; then
        pass "wrong PIN refused ($rv): exactly one VERIFY, answered 63 C$expect"
    else
        fail "wrong PIN ($rv): VERIFY answers \"$answers\", expected exactly \"63 C$expect,\""
        show "$W/wrong$expect.out" 5
    fi
    n=$(tries_shown)
    if [[ $n == "$expect" ]] || [[ $expect == 0 && $n == blocked ]]; then
        pass "the card then shows $expect tries left (status query: $n)"
    else
        fail "the card shows \"$n\" tries left, expected $expect"
        show "$W/pins.out"
    fi
    flags=$(pin_flags || true)
    if [[ ,$flags, == *",${want_flag[$expect]},"* ]]; then
        pass "pkcs11-tool -T: ${want_flag[$expect]}"
    else
        fail "pkcs11-tool -T token flags \"$flags\" lack \"${want_flag[$expect]}\""
    fi
done
if run "$W/locked.out" "${p11[@]}" --login --pin "$WRONG_PIN" -O; then
    fail "login with a wrong PIN succeeded on a blocked PIN"
elif grep -q CKR_PIN_LOCKED "$W/locked.out"; then
    pass "a further wrong PIN gives CKR_PIN_LOCKED"
else
    fail "a further wrong PIN did not give CKR_PIN_LOCKED"
    show "$W/locked.out" 5
fi
if run "$W/good.out" "${p11[@]}" --login --pin "$PIN" -O; then
    fail "the right PIN still opens a blocked PIN"
elif grep -q CKR_PIN_LOCKED "$W/good.out"; then
    pass "the right PIN no longer works: CKR_PIN_LOCKED"
else
    fail "the right PIN fails on the blocked card, but not with CKR_PIN_LOCKED"
    show "$W/good.out" 5
fi
if grep -qE '> 00 20 00 01 08 3[0-9]' "$TRACE"; then
    fail "a clear PIN appears in the trace"
fi

summary
