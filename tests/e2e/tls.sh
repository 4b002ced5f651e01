#!/usr/bin/env bash
# End-to-end TLS client authentication with the card's authentication key: OUR module
# (release build) through real pcscd + vpcd + cpx-vcard, four independent TLS clients against
# `openssl s_server -Verify 1 -verify_return_error` trusting the test CA (fixtures/pki):
#
#   openssl s_client + libp11's engine (libengine-pkcs11-openssl), key by pkcs11: URI
#   gnutls-cli --provider MODULE, key and certificate by pkcs11: URI (PIN in GNUTLS_PIN)
#   NSS tstclnt, the module registered by `cpx register nss --db`, certificate by nickname
#   curl (Debian's: OpenSSL backend) --engine pkcs11 --key-type ENG --cert-type ENG
#   openssl s_client with OpenSSL 3's pkcs11-provider (bookworm-backports, unpacked by
#                scripts/pkcs11-provider.sh, not installed)
#
# Per card (test-harness.md §7.6, §9; cryptolib-compat.md §13):
#   cps3-doctor  TLS 1.2 with PKCS#1 v1.5 (server: -client_sigalgs RSA+SHA256): passes
#                TLS 1.3: expected failure (RSA-PSS is required; a CPS3 has no PSS), asserted
#                TLS 1.2 with the server offering RSA-PSS too: GnuTLS and NSS pick PKCS#1 v1.5
#                themselves and pass; OpenSSL (engine and provider) picks RSA-PSS and fails
#                (asserted, documented: such clients must restrict their sigalgs,
#                `-sigalgs RSA+SHA256`)
#   cps4-nurse   TLS 1.2 with PKCS#1 v1.5 and TLS 1.3 with RSA-PSS: pass
# Each pass checks the server's side: its log shows the client certificate chain it verified
# (depth=0 = the subject of the certificate read from the token), and its -www page (made by
# the server, fetched by the client) shows the protocol, the client certificate's serial and
# the client's CertificateVerify scheme ("Peer signature type: RSA" or "RSA-PSS").
#
# The server certificate is made at test time for IP 127.0.0.1 by a throw-away CA.
# Environment: CPX_MODULE, CPX_VCARD, CPX_RUN_DIR, CPX_KEEP, CPX_PCSCD_WAIT (tests/e2e/lib.sh).
# Needs root (pcscd). A missing tool is a failure. Prints PASS/FAIL per check and ends with
# "N passed, M failed". The PIN given to clients is redacted from the saved outputs.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset CPX_SIM_CARDS
e2e_begin tls
e2e_module_log
PIN=1234
T=30

ENGINE=$(dpkg -L libengine-pkcs11-openssl 2>/dev/null | grep -E '/engines-3/pkcs11\.so$' | head -1 || true)
[[ -n $ENGINE ]] || also_missing+=("libengine-pkcs11-openssl")
need_tools openssl gnutls-cli tstclnt certutil modutil curl pkcs11-tool apt-get dpkg-deb
# OpenSSL 3's pkcs11-provider: bookworm-backports only, unpacked into target/ (not installed).
PROVIDER_DIR=$(bash scripts/pkcs11-provider.sh 2>"$W/provider.out") ||
    fatal "cannot get pkcs11-provider from bookworm-backports: $(tail -1 "$W/provider.out")"
build_module
build_vcard
CPX=$ROOT/target/release/cpx
cargo build --quiet --release --bin cpx || fatal "cargo build --release --bin cpx failed"
pass "tools present (module $M, engine $ENGINE, provider $PROVIDER_DIR/pkcs11.so)"

# --- the server's PKI (throw-away) --------------------------------------------------------
S=$W/server
mkdir -p "$S"
{
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$S/ca.key" -out "$S/ca.pem" -days 2 \
        -subj "/CN=cpx tls test server CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign &&
        openssl req -newkey rsa:2048 -nodes -keyout "$S/srv.key" -out "$S/srv.csr" -subj "/CN=127.0.0.1" &&
        printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
            extendedKeyUsage=serverAuth subjectAltName=IP:127.0.0.1 >"$S/srv.ext" &&
        openssl x509 -req -in "$S/srv.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" -CAcreateserial \
            -out "$S/srv.pem" -days 2 -extfile "$S/srv.ext"
} >"$S/pki.out" 2>&1 || fatal "cannot make the server certificate: $(tail -1 "$S/pki.out")"
CLIENT_CA=$ROOT/fixtures/pki/ca-chain.pem
printf 'GET / HTTP/1.0\r\n\r\n' >"$W/request.txt"
printf '%s\n' "$PIN" >"$W/pinfile"
pass "server certificate for 127.0.0.1 from a throw-away CA; client CA: fixtures/pki/ca-chain.pem"

# server OUT ARGS...: one s_server (one connection, -www) in the background; sets PORT, SRV.
PORT= SRV=
server() {
    local out=$1 i
    shift
    : >"$out" # a log reused by a second check must not show the first server's port
    openssl s_server -accept 127.0.0.1:0 -cert "$S/srv.pem" -key "$S/srv.key" -Verify 1 \
        -verify_return_error -CAfile "$CLIENT_CA" -naccept 1 -www "$@" >"$out" 2>&1 &
    SRV=$!
    for ((i = 0; i < 100; i++)); do
        PORT=$(sed -n 's/^ACCEPT 127\.0\.0\.1://p' "$out" 2>/dev/null)
        [[ -n $PORT ]] && return 0
        sleep 0.05
    done
    return 1
}
# server_done: the server has exited (it serves one connection); killed after 5 s.
server_done() {
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$SRV" 2>/dev/null || break
        sleep 0.1
    done
    kill "$SRV" 2>/dev/null || true
    wait "$SRV" 2>/dev/null || true
}
redact() { sed -i -e "s/pin-value=[^;\"' ]*/pin-value=****/g" "$@"; }

# client NAME PROTO OUT: runs client NAME (openssl, gnutls, nss, curl) for TLS PROTO (1.2,
# 1.3) against 127.0.0.1:$PORT with the current card ($URI, $NICK, $CERT_PEM); its exit status.
client() {
    local name=$1 proto=$2 out=$3 rc=0
    local key="$URI;type=private"
    mlog_mark=$(wc -l <"$mlog")
    case $name in
    openssl)
        PKCS11_MODULE_PATH=$M timeout "$T" openssl s_client -connect "127.0.0.1:$PORT" \
            -engine pkcs11 -keyform engine -key "$key;pin-value=$PIN" -cert "$CERT_PEM" \
            -CAfile "$S/ca.pem" -verify_return_error "-tls${proto/./_}" -quiet \
            "${OPENSSL_EXTRA[@]}" <"$W/request.txt" >"$out" 2>&1 || rc=$?
        ;;
    gnutls)
        GNUTLS_PIN=$PIN timeout "$T" gnutls-cli --provider "$M" --x509keyfile "$key" \
            --x509certfile "$URI;type=cert" --x509cafile "$S/ca.pem" \
            --priority "NORMAL:-VERS-ALL:+VERS-TLS$proto" -p "$PORT" 127.0.0.1 \
            <"$W/request.txt" >"$out" 2>&1 || rc=$?
        ;;
    nss)
        timeout "$T" tstclnt -h 127.0.0.1 -p "$PORT" -d "sql:$NSSDB" -n "$NICK" -W "$W/pinfile" \
            -V "tls$proto:tls$proto" -A "$W/request.txt" >"$out" 2>&1 || rc=$?
        ;;
    provider)
        OPENSSL_MODULES=$PROVIDER_DIR PKCS11_PROVIDER_MODULE=$M timeout "$T" openssl s_client \
            -provider default -provider pkcs11 -connect "127.0.0.1:$PORT" \
            -key "$key;pin-value=$PIN" -cert "$CERT_PEM" -CAfile "$S/ca.pem" -verify_return_error \
            "-tls${proto/./_}" -quiet <"$W/request.txt" >"$out" 2>&1 || rc=$?
        ;;
    curl)
        PKCS11_MODULE_PATH=$M timeout "$T" curl -sS --engine pkcs11 --key-type ENG \
            --key "$key;pin-value=$PIN" --cert-type ENG --cert "$URI;type=cert" \
            --cacert "$S/ca.pem" "--tlsv$proto" --tls-max "$proto" "https://127.0.0.1:$PORT/" \
            >"$out" 2>&1 || rc=$?
        ;;
    esac
    redact "$out"
    return "$rc"
}

# tls_ok CLIENT PROTO SCHEME [SERVER_ARGS...]: the handshake completes, the server verified
# the card's certificate, the client signed with SCHEME (RSA or RSA-PSS).
tls_ok() {
    local name=$1 proto=$2 scheme=$3 tag
    shift 3
    tag=$P-$name-$proto-$scheme
    local what="$P: $name TLS $proto"
    local srv=$W/srv-$tag.log out=$W/cli-$tag.out t0
    server "$srv" "-tls${proto/./_}" "$@" || {
        fail "$what: s_server did not start"
        show "$srv"
        return
    }
    t0=$(date +%s%N)
    local rc=0
    client "$name" "$proto" "$out" || rc=$?
    server_done
    local got_scheme got_proto
    got_scheme=$(sed -n 's/^Peer signature type: //p' "$out" | head -1)
    got_proto=$(sed -nE 's/^ *Protocol *: *//p' "$out" | head -1)
    if ((rc == 0)) && grep -qxF "depth=0 $SUBJECT" "$srv" && grep -q '1 server accepts that finished' "$srv" &&
        [[ $got_scheme == "$scheme" && $got_proto == "TLSv$proto" ]] &&
        grep -qiE "Serial Number: .*\(0x$SERIAL\)|^ *$SERIAL_COLON *\$" "$out"; then
        pass "$what: server verified \"$SUBJECT_CN\" (serial $SERIAL), $got_proto, Peer signature type: $got_scheme ($(ms_since "$t0") ms)"
    else
        fail "$what: want exit 0, the server's depth=0 = the token's certificate, TLSv$proto, \"Peer signature type: $scheme\"; got exit $rc, \"$got_proto\", \"$got_scheme\""
        show "$out" 8
        sed -e 's/^/    server| /' "$srv" | grep -vE 'items in|connects|renegotiates|cache|session' | tail -n 6
    fi
}

# tls_refused CLIENT PROTO WHY [SERVER_ARGS...]: an expected failure: the client fails, the
# server finished no handshake, and for the reason expected: the module refused RSA-PSS
# (C_SignInit → CKR_MECHANISM_INVALID: OpenSSL's engine, curl), the provider found no
# CKM_RSA_PKCS_PSS in the token's mechanism list, or the client saw that the token cannot
# sign any scheme the server accepts and sent no certificate (GnuTLS, NSS).
tls_refused() {
    local name=$1 proto=$2 why=$3 tag evidence
    shift 3
    tag=$P-$name-$proto-refused
    local what="$P: $name TLS $proto (expected failure: $why)"
    local srv=$W/srv-$tag.log out=$W/cli-$tag.out rc=0
    server "$srv" "-tls${proto/./_}" "$@" || {
        fail "$what: s_server did not start"
        return
    }
    client "$name" "$proto" "$out" || rc=$?
    server_done
    case $name in
    provider) evidence=$(grep -m1 -oE 'CKM_RSA_PKCS_PSS unavailable' "$out" || true) ;;
    openssl | curl) evidence=$(tail -n +"$((mlog_mark + 1))" "$mlog" | grep -m1 -oE 'C_SignInit -> CKR_MECHANISM_INVALID' || true) ;;
    *) evidence=$(grep -m1 -oE 'peer did not return a certificate' "$srv" || true) ;;
    esac
    if ((rc != 0)) && grep -q '0 server accepts that finished' "$srv" && ! grep -q '^Peer signature type' "$out" &&
        [[ -n $evidence ]]; then
        pass "$what: client exit $rc, no handshake on the server; $evidence"
    else
        fail "$what: not the expected failure (client exit $rc; evidence \"$evidence\")"
        show "$out" 6
        sed -e 's/^/    server| /' "$srv" | tail -n 4
    fi
}

# card_setup PERSONA AUTH_ID: pcscd + the card; the token label, the authentication
# certificate read from the token (PEM for s_client, its subject and serial), an NSS database
# with the module (`cpx register nss --db`) trusting the server CA.
card_setup() {
    P=$1
    local id=$2 x
    start_pcscd
    start_card "$P"
    LABEL=$(timeout "$T" pkcs11-tool --module "$M" -L 2>/dev/null | sed -n 's/^ *token label *: //p' | head -1)
    [[ -n $LABEL ]] || {
        fail "$P: pkcs11-tool -L shows no token"
        return 1
    }
    URI="pkcs11:token=$LABEL;id="
    for ((x = 0; x < ${#id}; x += 2)); do URI+=%${id:x:2}; done
    NICK="$LABEL:Certificat d'Authentification CPS"
    CERT_PEM=$W/$P-auth.pem
    if run "$W/$P-read.out" pkcs11-tool --module "$M" --read-object --type cert --id "$id" -o "$W/$P-auth.der" &&
        openssl x509 -inform DER -in "$W/$P-auth.der" -out "$CERT_PEM" 2>/dev/null; then
        SUBJECT=$(openssl x509 -in "$CERT_PEM" -noout -subject | sed 's/^subject=//')
        SUBJECT_CN=${SUBJECT##*CN = }
        SERIAL=$(openssl x509 -in "$CERT_PEM" -noout -serial | sed 's/^serial=//' | tr 'A-F' 'a-f')
        SERIAL_COLON=$(sed -E 's/(..)/\1:/g; s/:$//' <<<"$SERIAL")
        pass "$P: token $LABEL; authentication certificate read from the token (CN $SUBJECT_CN)"
    else
        fail "$P: cannot read the authentication certificate from the token"
        show "$W/$P-read.out"
        return 1
    fi
    NSSDB=$W/nssdb-$P
    if run "$W/$P-reg.out" "$CPX" register nss --db "$NSSDB" --module "$M" &&
        run "$W/$P-ca.out" certutil -A -d "sql:$NSSDB" -n cpx-tls-server-ca -t "C,," -i "$S/ca.pem"; then
        pass "$P: NSS database by cpx register nss --db, trusting the server CA"
    else
        fail "$P: NSS database setup failed"
        show "$W/$P-reg.out"
    fi
}

card_down() {
    vcard_stop
    pcscd_stop
    mv -f "$CPX_RUN_DIR/pcscd.log" "$CPX_RUN_DIR/pcscd-$P.log" 2>/dev/null || true
}

OPENSSL_EXTRA=()
PKCS1=(-client_sigalgs RSA+SHA256)
CLIENTS=(openssl gnutls nss curl provider)

# --- CPS3 ---------------------------------------------------------------------------------
if card_setup cps3-doctor e828bd080f8025000001ff001002; then
    for c in "${CLIENTS[@]}"; do tls_ok "$c" 1.2 RSA "${PKCS1[@]}"; done
    for c in "${CLIENTS[@]}"; do tls_refused "$c" 1.3 "TLS 1.3 needs RSA-PSS, a CPS3 has none"; done
    # A server that also offers RSA-PSS in TLS 1.2 (the default).
    tls_ok gnutls 1.2 RSA
    tls_ok nss 1.2 RSA
    tls_refused openssl 1.2 "OpenSSL's engine picks RSA-PSS, which the CPS3 cannot do"
    tls_refused provider 1.2 "OpenSSL picks RSA-PSS, which the CPS3 cannot do"
    OPENSSL_EXTRA=(-sigalgs RSA+SHA256:RSA+SHA384:RSA+SHA512)
    tls_ok openssl 1.2 RSA
    OPENSSL_EXTRA=()
fi
card_down

# --- CPS4 ---------------------------------------------------------------------------------
if card_setup cps4-nurse e828bd080f8025000001ff001020; then
    for c in "${CLIENTS[@]}"; do tls_ok "$c" 1.2 RSA "${PKCS1[@]}"; done
    for c in "${CLIENTS[@]}"; do tls_ok "$c" 1.3 RSA-PSS; done
fi
card_down

summary
