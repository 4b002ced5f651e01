#!/usr/bin/env bash
# End-to-end: the Python recipe examples/python/cpx_sign.py (python-pkcs11 + cryptography from
# PyPI, in a virtual environment made here) with OUR module (release build, PC/SC) and the card
# cps3-doctor behind real pcscd + vpcd + cpx-vcard (issue #11): it lists the card's
# certificates, logs in, signs with CKM_SHA256_RSA_PKCS and verifies the signature with the
# certificate's public key — for the signature key and the authentication key. Each signature
# is also checked by `openssl dgst -verify` with the fixture certificate's key, and the APDUs
# show the card did the work.
#
#   tests/e2e/python.sh
#
# The PIN goes through the environment (CPX_PIN). Environment: CPX_MODULE, CPX_VCARD,
# CPX_RUN_DIR, CPX_KEEP, CPX_PCSCD_WAIT as in module.sh; CPX_PY_VENV: an existing virtual
# environment with python-pkcs11 and cryptography (default: a new one in the scratch directory,
# wheels only, from PyPI). Installs python3-venv when missing. Needs root (pcscd). Prints
# PASS/FAIL per check and ends with "N passed, M failed".
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset CPX_SIM_CARDS CPX_SIM_PINPAD
e2e_begin python
e2e_module_log
PERSONA=cps3-doctor
PIN=1234
RECIPE=$ROOT/examples/python/cpx_sign.py

bash "$ROOT/tests/e2e/apt-need.sh" python3-venv || fatal "tests/e2e/apt-need.sh could not install python3-venv"
need_tools /usr/bin/python3 openssl cmp
build_module
grep -a -q CPX_SIM_CARDS "$M" && fatal "the module $M is a sim build: it must reach the card through PC/SC"
build_vcard

# --- the virtual environment ---------------------------------------------------------------
VENV=${CPX_PY_VENV:-$CPX_RUN_DIR/venv}
t0=$(date +%s%N)
if [[ -z ${CPX_PY_VENV:-} ]]; then
    if ! { /usr/bin/python3 -m venv "$VENV" &&
        timeout 300 "$VENV/bin/pip" install -q --disable-pip-version-check --only-binary=:all: \
            python-pkcs11==0.10.1 cryptography; } >"$W/venv.out" 2>&1; then
        show "$W/venv.out"
        fatal "venv with python-pkcs11 and cryptography (pip, PyPI)"
    fi
fi
PY=$VENV/bin/python
versions=$("$PY" -c 'from importlib.metadata import version as v; print("python-pkcs11", v("python-pkcs11"), "cryptography", v("cryptography"))') ||
    fatal "python-pkcs11 or cryptography missing in $VENV"
pass "venv $VENV: $versions ($(ms_since "$t0") ms)"

start_pcscd
start_card "$PERSONA"
pass "pcscd + vpcd + cpx-vcard --card $PERSONA"

capdus_since() { tail -n +"$(($1 + 1))" "$CPX_RUN_DIR/vcard.trace" | awk '$2 == ">"'; }
printf 'compte rendu de consultation %s\n' "$(date -u +%FT%TZ)" >"$W/data.txt"

# recipe KEY FIXTURE APDU-REGEX WHAT
recipe() {
    local key=$1 fixture=$2 apdu=$3 what=$4 mark serial
    mark=$(vcard_trace_mark)
    t0=$(date +%s%N)
    if CPX_PIN=$PIN run "$W/$key.out" "$PY" "$RECIPE" "$M" --key "$key" --file "$W/data.txt" --out "$W/$key.sig" &&
        grep -q "^signature: .* verified with the certificate's public key" "$W/$key.out"; then
        pass "cpx_sign.py --key $key: listed, logged in, signed, verified ($(ms_since "$t0") ms)"
    else
        fail "cpx_sign.py --key $key"
        show "$W/$key.out"
        return
    fi
    if [[ $(grep -c '^certificate: ' "$W/$key.out") == 2 ]]; then
        pass "cpx_sign.py --key $key: both certificates of the card listed"
    else
        fail "cpx_sign.py --key $key: expected two certificates"
        show "$W/$key.out"
    fi
    serial=$(openssl x509 -in "$ROOT/fixtures/pki/$fixture.pem" -noout -serial | sed -e 's/^serial=0*//' | tr 'A-F' 'a-f')
    openssl x509 -in "$ROOT/fixtures/pki/$fixture.pem" -pubkey -noout >"$W/$fixture.pub"
    if grep -q "(serial $serial)" "$W/$key.out" &&
        run "$W/$key.verify.out" openssl dgst -sha256 -verify "$W/$fixture.pub" -signature "$W/$key.sig" "$W/data.txt"; then
        pass "cpx_sign.py --key $key: openssl verifies the signature with fixtures/pki/$fixture.pem"
    else
        fail "cpx_sign.py --key $key: not the key of fixtures/pki/$fixture.pem"
        show "$W/$key.verify.out"
    fi
    if capdus_since "$mark" | grep -qE " > $apdu"; then
        pass "cpx_sign.py --key $key: the card computed it ($what)"
    else
        fail "cpx_sign.py --key $key: the card did not receive $what"
    fi
}
recipe sign "$PERSONA-sig" '00 2A 9E 9A' "PSO COMPUTE DIGITAL SIGNATURE"
recipe auth "$PERSONA-auth" '00 88 ' "INTERNAL AUTHENTICATE"

pinhex=$(printf '%s' "$PIN" | od -An -tx1 | tr -d ' \n')
if grep -a -q -w -F -- "$PIN" "$mlog" "$W/sign.out" "$W/auth.out" || tr -d ' ' <"$mlog" | grep -qiF -- "$pinhex"; then
    fail "the PIN appears in the module's log or the recipe's output"
else
    pass "no PIN in the module's log or the recipe's output"
fi
summary
