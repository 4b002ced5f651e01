#!/usr/bin/env bash
# End-to-end: Java through Debian's OpenJDK and its SunPKCS11 provider — what practice and
# pharmacy software written in Java does — with OUR module (release build, PC/SC) and the card
# cps3-doctor behind real pcscd + vpcd + cpx-vcard (issue #11; cryptolib-compat.md §13):
#
#   * a SunPKCS11 configuration file naming the module by its absolute path (slotListIndex 0);
#   * `keytool -list`: both certificates of the card as PrivateKeyEntry, under their CKA_LABEL,
#     and `keytool -exportcert` gives back fixtures/pki/cps3-doctor-{auth,sig}.der;
#   * `jarsigner` signs a jar with the signature key ("Certificat de Signature CPS"), SunPKCS11
#     using CKM_SHA256_RSA_PKCS (partial hash on the card); then again with that mechanism
#     disabled in the configuration, so SunPKCS11 falls back to CKM_RSA_PKCS over a DigestInfo
#     (which the module turns into a hash-only PSO CDS on the CPS3 signature key);
#   * `jarsigner -verify` against a trust store holding the test CAs (fixtures/pki), the
#     signature block checked independently by `openssl cms -verify` (signer = the card's
#     signature certificate), and a tampered copy of the jar refused.
#
#   tests/e2e/java.sh
#
# The PIN goes through the environment (-storepass:env), never on a command line.
# Environment: CPX_MODULE, CPX_VCARD, CPX_RUN_DIR, CPX_KEEP, CPX_PCSCD_WAIT as in module.sh.
# Installs default-jdk-headless when missing (tests/e2e/apt-need.sh). Needs root (pcscd).
# Prints PASS/FAIL per check and ends with "N passed, M failed".
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset CPX_SIM_CARDS CPX_SIM_PINPAD
e2e_begin java
e2e_module_log
PERSONA=cps3-doctor
export CPX_E2E_PIN=1234
AUTH_ALIAS="Certificat d'Authentification CPS"
SIG_ALIAS="Certificat de Signature CPS"

bash "$ROOT/tests/e2e/apt-need.sh" default-jdk-headless || fatal "tests/e2e/apt-need.sh could not install default-jdk-headless"
need_tools java keytool jarsigner jar openssl unzip
build_module
grep -a -q CPX_SIM_CARDS "$M" && fatal "the module $M is a sim build: it must reach the card through PC/SC"
build_vcard
pass "tools present ($(java -version 2>&1 | head -1); module $M)"

CFG=$W/cpx-java.cfg
printf 'name = CPx\nlibrary = %s\nslotListIndex = 0\n' "$M" >"$CFG"
# The same with CKM_SHA256_RSA_PKCS disabled: SunPKCS11 then signs with CKM_RSA_PKCS (DigestInfo).
CFG_RAW=$W/cpx-java-rsa-pkcs.cfg
printf 'name = CPxRaw\nlibrary = %s\nslotListIndex = 0\ndisabledMechanisms = {\n  CKM_SHA256_RSA_PKCS\n}\n' "$M" >"$CFG_RAW"
p11ks() { # CFG: the keytool/jarsigner options that open the card as a PKCS11 key store
    echo -keystore NONE -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$1"
}
read -r -a KS <<<"$(p11ks "$CFG")"
read -r -a KS_RAW <<<"$(p11ks "$CFG_RAW")"

start_pcscd
start_card "$PERSONA"
pass "pcscd + vpcd + cpx-vcard --card $PERSONA"

# --- keytool -list --------------------------------------------------------------------------
t0=$(date +%s%N)
if run "$W/list.out" keytool -list -v "${KS[@]}" -storepass:env CPX_E2E_PIN &&
    grep -q "Your keystore contains 2 entries" "$W/list.out" &&
    [[ $(grep -c "Entry type: PrivateKeyEntry" "$W/list.out") == 2 ]] &&
    grep -qF "Alias name: $AUTH_ALIAS" "$W/list.out" && grep -qF "Alias name: $SIG_ALIAS" "$W/list.out"; then
    pass "keytool -list: 2 PrivateKeyEntry, \"$AUTH_ALIAS\" and \"$SIG_ALIAS\" ($(ms_since "$t0") ms)"
else
    fail "keytool -list: expected the card's two key entries"
    show "$W/list.out"
fi
for pair in "auth:$AUTH_ALIAS" "sig:$SIG_ALIAS"; do
    n=${pair%%:*} alias=${pair#*:}
    if run "$W/export-$n.out" keytool -exportcert "${KS[@]}" -storepass:env CPX_E2E_PIN -alias "$alias" \
        -file "$W/$n.der" && cmp -s "$W/$n.der" "$ROOT/fixtures/pki/$PERSONA-$n.der"; then
        pass "keytool -exportcert \"$alias\" = fixtures/pki/$PERSONA-$n.der"
    else
        fail "keytool -exportcert \"$alias\" differs from fixtures/pki/$PERSONA-$n.der"
        show "$W/export-$n.out"
    fi
done

# --- jarsigner ----------------------------------------------------------------------------------
mkdir -p "$W/src/fr/example"
printf 'ordonnance de test %s\n' "$(date -u +%FT%TZ)" >"$W/src/fr/example/ordonnance.txt"
(cd "$W" && jar cf app.jar -C src .) || fatal "jar cf"
# A trust store with the test PKI, for -strict verification.
rm -f "$W/trust.p12"
for ca in root-ca intermediate-ca; do
    keytool -importcert -noprompt -keystore "$W/trust.p12" -storetype PKCS12 -storepass changeit \
        -alias "$ca" -file "$ROOT/fixtures/pki/$ca.pem" >>"$W/trust.out" 2>&1 || fatal "trust store ($ca)"
done

# The C-APDUs the card received after line MARK of its trace.
capdus_since() { tail -n +"$(($1 + 1))" "$CPX_RUN_DIR/vcard.trace" | awk '$2 == ">"'; }

# sign_and_check NAME KS-ARRAY-NAME APDU-REGEX WHAT: signs a copy of app.jar with the signature
# key (the card must have received a command matching APDU-REGEX: WHAT), verifies it.
sign_and_check() {
    local name=$1 jarf=$W/$1.jar apdu=$3 what=$4 mark t0 tmark
    local -n ks=$2
    cp "$W/app.jar" "$jarf"
    mark=$(wc -l <"$mlog")
    tmark=$(vcard_trace_mark)
    t0=$(date +%s%N)
    if run "$W/$name.sign.out" jarsigner "${ks[@]}" -storepass:env CPX_E2E_PIN -sigalg SHA256withRSA \
        -sigfile CPX "$jarf" "$SIG_ALIAS" && grep -q "jar signed" "$W/$name.sign.out"; then
        pass "$name: jarsigner signed the jar with \"$SIG_ALIAS\" ($(ms_since "$t0") ms)"
    else
        fail "$name: jarsigner could not sign"
        show "$W/$name.sign.out"
        return
    fi
    tail -n +"$((mark + 1))" "$mlog" >"$W/$name.module.log"
    if grep -q 'C_Sign.* -> CKR_OK' "$W/$name.module.log" && capdus_since "$tmark" | grep -qE " > $apdu"; then
        pass "$name: the card signed: $what (C_Sign in the module's log)"
    else
        fail "$name: no successful C_Sign, or the card did not receive $what"
        capdus_since "$tmark" | grep -E ' > 00 (22|2A|88) ' | sed -e 's/^/    trace| /' | cut -c1-80 || true
    fi
    # Not -strict: the CPS signature certificate's keyUsage is nonRepudiation only (it signs
    # documents, not code), which -strict turns into an error. The chain to the test CAs must
    # build (no PKIX error), and that keyUsage must be the only complaint about the chain.
    if run "$W/$name.verify.out" jarsigner -verify -verbose -certs -keystore "$W/trust.p12" \
        -storetype PKCS12 -storepass changeit "$jarf" && grep -q "^jar verified" "$W/$name.verify.out" &&
        grep -q "^sm .*fr/example/ordonnance.txt" "$W/$name.verify.out" &&
        ! grep -q "PKIX" "$W/$name.verify.out"; then
        pass "$name: jarsigner -verify (test CAs trusted): jar verified, the entry signed, the chain builds"
    else
        fail "$name: jarsigner -verify"
        show "$W/$name.verify.out"
    fi
    rm -rf "$W/$name.x"
    mkdir -p "$W/$name.x"
    if (cd "$W/$name.x" && unzip -q "$jarf" META-INF/CPX.SF META-INF/CPX.RSA) &&
        run "$W/$name.cms.out" openssl cms -verify -binary -inform DER -in "$W/$name.x/META-INF/CPX.RSA" \
            -content "$W/$name.x/META-INF/CPX.SF" -CAfile "$ROOT/fixtures/pki/ca-chain.pem" -purpose any \
            -certsout "$W/$name.signer.pem" -out /dev/null &&
        openssl x509 -in "$W/$name.signer.pem" -outform DER -out "$W/$name.signer.der" &&
        cmp -s "$W/$name.signer.der" "$ROOT/fixtures/pki/$PERSONA-sig.der"; then
        pass "$name: openssl cms -verify: the signature block verifies, signer = the card's signature certificate"
    else
        fail "$name: openssl cms -verify of META-INF/CPX.RSA, or the signer is not $PERSONA-sig"
        show "$W/$name.cms.out"
    fi
}
# CKM_SHA256_RSA_PKCS: partial hash on the card (PSO HASH 2A 90 A0), then PSO CDS.
sign_and_check sha256-rsa-pkcs KS '00 2A 90 A0 ' "PSO HASH (partial hash on the card)"
# CKM_RSA_PKCS over a DigestInfo: the module strips it, a hash-only PSO CDS with 32 bytes.
sign_and_check rsa-pkcs-digestinfo KS_RAW '00 2A 9E 9A 20 ' "a hash-only PSO CDS (32 bytes)"

# --- a tampered jar is refused --------------------------------------------------------------
if [[ -f $W/sha256-rsa-pkcs.jar ]]; then
    cp "$W/sha256-rsa-pkcs.jar" "$W/tampered.jar"
    mkdir -p "$W/tamper/fr/example"
    echo "ordonnance modifiée" >"$W/tamper/fr/example/ordonnance.txt"
    (cd "$W" && jar uf tampered.jar -C tamper fr/example/ordonnance.txt)
    if run "$W/tampered.verify.out" jarsigner -verify "$W/tampered.jar"; then
        fail "a tampered jar still verified"
        show "$W/tampered.verify.out"
    elif grep -qi "digest" "$W/tampered.verify.out"; then
        pass "a tampered jar is refused ($(grep -im1 'digest' "$W/tampered.verify.out" | cut -c1-100))"
    else
        fail "a tampered jar: refused, but not for a digest mismatch"
        show "$W/tampered.verify.out"
    fi
fi

pinhex=$(printf '%s' "$CPX_E2E_PIN" | od -An -tx1 | tr -d ' \n')
if grep -a -q -w -F -- "$CPX_E2E_PIN" "$mlog" || tr -d ' ' <"$mlog" | grep -qiF -- "$pinhex"; then
    fail "the PIN appears in the module's log"
else
    pass "no PIN in the module's log ($(wc -l <"$mlog") lines)"
fi
summary
