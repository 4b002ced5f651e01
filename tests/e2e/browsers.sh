#!/usr/bin/env bash
# End-to-end: the browsers health professionals use — Debian's Firefox ESR and Chromium — do
# TLS client authentication with the card through OUR module, as a person would: under Xvfb,
# each with a fresh HOME and profile, the module registered by `cpx register firefox|chromium`,
# opening a local https page that demands a client certificate (issue #11; test-harness.md §10,
# cryptolib-compat.md §13).
#
#   tests/e2e/browsers.sh
#
# The servers are `openssl s_server -Verify 1 -verify_return_error -CAfile fixtures/pki/ca-chain.pem
# -www -tls1_2` (and `-tls1_3`) with a leaf for 127.0.0.1 signed by a throwaway CA made here and
# trusted in each NSS database (CPS3 has no RSA-PSS, so TLS 1.2 with PKCS#1 v1.5; CPS4 does TLS
# 1.3 with RSA-PSS). The certificate is chosen
# without a chooser: Firefox's pref security.default_personal_cert = "Select Automatically",
# Chromium's managed policy AutoSelectCertificateForUrls (a file in
# /etc/chromium/policies/managed/, removed on exit).
#
# Runs, for each browser:
#   pin     cps3-doctor through real pcscd + vpcd + cpx-vcard and the release module (no
#           simulator inside): the PIN is typed into the browser's own prompt with xdotool;
#   tls13   the same with cps4-nurse against a TLS 1.3 server: the client signs with RSA-PSS;
#   pinpad  the virtual PIN-pad reader (CKF_PROTECTED_AUTHENTICATION_PATH), nobody types the
#           PIN: vpcd has no SCardControl (its IFDHControl answers IFD_ERROR_NOT_SUPPORTED, so
#           no reader behind pcscd can offer FEATURE_VERIFY_PIN_DIRECT), hence the in-process
#           simulator build (target/debug, feature sim) with CPX_SIM_CARDS=pinpad:cps3-doctor
#           and the keypad entry queued in CPX_SIM_PINPAD. Firefox shows its "Protected
#           Authentication" notice, the module logs in on the keypad, the test then closes the
#           notice (Firefox ESR leaves it open); Chromium still shows its PIN field: the test
#           types a word that is not the PIN, Chromium calls C_Login(NULL).
# and checks the page the browser shows, read through the browser's own remote protocol
# (Marionette for Firefox, DevTools for Chromium; tests/e2e/browser_page.py): the verified
# client certificate's subject (CN) and serial are the card's authentication certificate's
# (fixtures/pki/<persona>-auth.pem), "Verify return code: 0 (ok)", the protocol (TLSv1.2 or
# TLSv1.3) and "Peer signature type: RSA" (RSA-PSS on TLS 1.3); and that the module signed. Screenshots of each run are kept,
# the prompt and the page: $CPX_RUN_DIR/e2e/{firefox,chromium}-{pin,tls13,pinpad}{-prompt,}.png, with
# the page text, the browser's output and the module's log (the scratch directory is kept; the
# profiles are removed).
#
# Environment:
#   CPX_MODULE       the release module (default: target/release/libcpx_pkcs11.so, built here)
#   CPX_SIM_MODULE   the sim build for the PIN pad (default: target/debug/libcpx_pkcs11.so,
#                    built here with `cargo build --features sim --lib`)
#   CPX_VCARD        cpx-vcard binary (default: target/debug/cpx-vcard, built here)
#   CPX_RUN_DIR      scratch directory (default: a new /tmp/cpx-browsers.XXXXXX, kept: it holds
#                    the screenshots)
#   CPX_BROWSERS     which browsers (default "firefox chromium")
#   CPX_PCSCD_WAIT   seconds to wait for another suite's pcscd to go away
#
# Needs root (pcscd, the Chromium policy directory, --no-sandbox). Installs what it drives
# (tests/e2e/apt-need.sh: firefox-esr chromium xvfb xdotool imagemagick). Every browser run is
# bounded (BROWSER_T seconds for the page, 60 s for any command). Prints PASS/FAIL per check and
# ends with "N passed, M failed". Processes are stopped by PID (each browser in its own process
# group); the harness is tests/e2e/lib.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset CPX_SIM_CARDS CPX_SIM_PINPAD
e2e_begin browsers keep
e2e_module_log
PERSONA=cps3-doctor
PERSONA4=cps4-nurse
PIN=1234
BROWSER_T=40 # seconds for one browser run: start, prompt, handshake, page
POLICY_DIR=/etc/chromium/policies/managed
POLICY=$POLICY_DIR/cpx-e2e-browsers.json
read -r -a BROWSERS <<<"${CPX_BROWSERS:-firefox chromium}"

# --- clean-up on exit: the browser, the server, Xvfb (by PID), the Chromium policy ---------
bg_pids=()
created_dirs=()
policy_written=0
stop_group() { # PID: SIGTERM its process group (it was started with setsid), then SIGKILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
browsers_cleanup() {
    local pid d
    for pid in "${bg_pids[@]}"; do stop_group "$pid"; done
    ((policy_written == 0)) || rm -f "$POLICY"
    for d in "${created_dirs[@]}"; do rmdir "$d" 2>/dev/null || true; done
}
trap 'rc_=$?; browsers_cleanup; (exit $rc_); e2e_cleanup' EXIT
# start_bg OUT CMD...: CMD in a new session (its own process group), output in OUT; BG_PID.
start_bg() {
    local out=$1
    shift
    setsid "$@" >"$out" 2>&1 </dev/null &
    BG_PID=$!
    bg_pids+=("$BG_PID")
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- tools, builds ------------------------------------------------------------------------
bash "$ROOT/tests/e2e/apt-need.sh" firefox-esr chromium xvfb xdotool imagemagick fonts-dejavu-core ||
    fatal "tests/e2e/apt-need.sh could not install the browsers"
need_tools firefox-esr chromium Xvfb xdotool import python3 openssl certutil modutil setsid
[[ $(id -u) == 0 ]] || fatal "needs root (pcscd, $POLICY_DIR)"
build_module
if grep -a -q CPX_SIM_CARDS "$M"; then
    fatal "the module $M is a sim build: the PIN runs must reach the card through PC/SC"
fi
if [[ -z ${CPX_SIM_MODULE:-} ]]; then
    CPX_SIM_MODULE=$ROOT/target/debug/libcpx_pkcs11.so
    cargo build --quiet --features sim --lib || fatal "cargo build --features sim --lib failed"
fi
MSIM=$(realpath "$CPX_SIM_MODULE")
grep -a -q CPX_SIM_CARDS "$MSIM" || fatal "$MSIM is not a sim build (CPX_SIM_CARDS unknown to it)"
build_vcard
cargo build --quiet --release --bin cpx || fatal "cargo build --release --bin cpx failed"
CPX=$ROOT/target/release/cpx
pass "tools present ($(firefox-esr --version 2>/dev/null | head -1); $(chromium --version 2>/dev/null | head -1); module $M)"

# --- what the page must show: the card's authentication certificate ---------------------
# expect PERSONA: CN and SERIAL (lower-case hex) of the persona's authentication certificate.
expect() {
    local pem=$ROOT/fixtures/pki/$1-auth.pem
    CN=$(openssl x509 -in "$pem" -noout -subject -nameopt multiline |
        grep -oE 'commonName *= *[^ +]+' | sed -e 's/.*= *//' | head -1 || true)
    SERIAL=$(openssl x509 -in "$pem" -noout -serial | sed -e 's/^serial=//' | tr 'A-F' 'a-f' | sed -e 's/^0*//')
    [[ -n $CN && -n $SERIAL ]] || fatal "cannot read CN and serial of $pem"
}

# --- the https server: a throwaway CA, a leaf for 127.0.0.1 ------------------------------
S=$W/server
mkdir -p "$S"
{
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$S/ca.key" -out "$S/ca.pem" -days 2 \
        -subj "/CN=cpx e2e throwaway server CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign &&
        openssl req -newkey rsa:2048 -nodes -keyout "$S/srv.key" -out "$S/srv.csr" -subj "/CN=127.0.0.1" &&
        printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
            extendedKeyUsage=serverAuth subjectAltName=IP:127.0.0.1 >"$S/srv.ext" &&
        openssl x509 -req -in "$S/srv.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" -CAcreateserial -days 2 \
            -extfile "$S/srv.ext" -out "$S/srv.pem"
} >"$S/pki.out" 2>&1 || {
    show "$S/pki.out"
    fatal "server certificates"
}
# Two servers: TLS 1.2 (CPS3: PKCS#1 v1.5) and TLS 1.3 (CPS4: RSA-PSS).
declare -A PORT_OF URL_OF
for v in tls1_2 tls1_3; do
    PORT_OF[$v]=$(free_port)
    URL_OF[$v]=https://127.0.0.1:${PORT_OF[$v]}/
    start_bg "$W/s_server-$v.log" openssl s_server -accept "127.0.0.1:${PORT_OF[$v]}" -cert "$S/srv.pem" \
        -key "$S/srv.key" -Verify 1 -verify_return_error -CAfile "$ROOT/fixtures/pki/ca-chain.pem" -www "-$v"
    for ((i = 0; i < 100; i++)); do
        grep -q ACCEPT "$W/s_server-$v.log" 2>/dev/null && break
        sleep 0.05
    done
    grep -q ACCEPT "$W/s_server-$v.log" || fatal "s_server -$v did not start ($(tail -2 "$W/s_server-$v.log"))"
done

# --- the display --------------------------------------------------------------------------
# Xvfb picks a free display and writes its number to fd 3.
: >"$W/xvfb.display"
setsid Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >"$W/xvfb.log" 2>&1 3>"$W/xvfb.display" </dev/null &
bg_pids+=("$!")
DISPLAY=
for ((i = 0; i < 300; i++)); do
    DISPLAY=$(tr -cd '0-9' <"$W/xvfb.display")
    [[ -n $DISPLAY ]] && break
    sleep 0.1
done
[[ -n $DISPLAY ]] || fatal "Xvfb gave no display ($(tail -2 "$W/xvfb.log"))"
export DISPLAY=:$DISPLAY
pass "https servers ${URL_OF[tls1_2]} (TLS 1.2) and ${URL_OF[tls1_3]} (TLS 1.3), client CA fixtures/pki/ca-chain.pem; Xvfb on $DISPLAY"

# --- one run --------------------------------------------------------------------------------
# register BROWSER DB MODULE OUT: `cpx register BROWSER` (NSS's modutil underneath) puts the module
# in the browser's NSS database of this HOME: Firefox's profile listed in profiles.ini,
# Chromium's shared ~/.pki/nssdb (created); then the server CA is trusted there and certutil
# lists the card's certificates through the module (outputs in OUT.*.out).
register() {
    local browser=$1 db=$2 module=$3 out=$4
    run "$out.register.out" "$CPX" register --module "$module" "$browser" &&
        certutil -A -d "sql:$db" -n "cpx e2e server CA" -t "CT,," -i "$S/ca.pem" >"$out.trust.out" 2>&1 &&
        run "$out.list.out" certutil -L -d "sql:$db" -h all &&
        grep -q "Certificat d'Authentification CPS" "$out.list.out"
}

# wait_window NAME: the id of the first window whose title starts with NAME (BROWSER_T s).
wait_window() {
    # (sed reads all of xdotool's output: with head, a second window would SIGPIPE it)
    timeout "$BROWSER_T" xdotool search --sync --onlyvisible --name "^$1" 2>/dev/null | sed -n 1p || true
}
# type_into WINDOW TEXT: focus the window, type TEXT (never echoed), press Return.
type_into() {
    xdotool windowfocus --sync "$1" && xdotool type --delay 30 "$2" && xdotool key Return
}
# logged_in_since LINE: the module logged a successful C_Login after line LINE of its log.
logged_in_since() { tail -n +"$(($1 + 1))" "$mlog" | grep -q 'C_Login -> CKR_OK'; }

one_run() { # BROWSER MODE
    local browser=$1 mode=$2 name=$1-$2 home profile db module w t0 page mark pid i
    local -a env_=() cmd=() reader=()
    # TLS 1.2 with PKCS#1 v1.5 on CPS3; TLS 1.3 (RSA-PSS, CPS4 only) in the tls13 runs.
    local persona=$PERSONA tls=tls1_2 proto=TLSv1.2 sigtype=RSA
    if [[ $mode == tls13 ]]; then
        persona=$PERSONA4 tls=tls1_3 proto=TLSv1.3 sigtype=RSA-PSS
    fi
    local url=${URL_OF[$tls]}
    expect "$persona"
    t0=$(date +%s%N)
    home=$W/$name/home
    profile=$W/$name/profile
    mkdir -p "$home" "$profile"
    module=$M
    if [[ $mode == pinpad ]]; then
        module=$MSIM
        env_=(CPX_SIM_CARDS="pinpad:$PERSONA" CPX_SIM_PINPAD="$PIN,$PIN,$PIN")
    fi
    case $browser in
    firefox)
        # The profile as Firefox lists it: profiles.ini (what `cpx register firefox` reads).
        mkdir -p "$home/.mozilla/firefox"
        printf '[Profile0]\nName=cpx-e2e\nIsRelative=0\nPath=%s\nDefault=1\n\n[General]\nStartWithLastProfile=1\nVersion=2\n' \
            "$profile" >"$home/.mozilla/firefox/profiles.ini"
        db=$profile
        ;;
    chromium) db=$home/.pki/nssdb ;;
    esac
    # (cpx register's modutil and certutil load the module too: the browser's environment)
    if (
        export HOME="$home"
        ((${#env_[@]} == 0)) || export "${env_[@]}"
        register "$browser" "$db" "$module" "$W/$name"
    ); then
        pass "$name: cpx register $browser: module in $db, the card's certificates listed by certutil"
    else
        fail "$name: cpx register $browser, then the card's certificates in $db"
        show "$W/$name.register.out"
        show "$W/$name.list.out"
        return
    fi
    local port
    port=$(free_port)
    case $browser in
    firefox)
        cat >"$profile/user.js" <<EOF
user_pref("security.default_personal_cert", "Select Automatically");
user_pref("marionette.port", $port);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("app.update.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("security.OCSP.enabled", 0);
user_pref("browser.safebrowsing.update.enabled", false);
EOF
        cmd=(firefox-esr --marionette -remote-allow-system-access --no-remote --profile "$profile"
            --width 1280 --height 800 "$url")
        reader=(marionette "$port")
        ;;
    chromium)
        cmd=(chromium --no-sandbox --user-data-dir="$profile" --no-first-run --no-default-browser-check
            --disable-gpu --password-store=basic --remote-debugging-port="$port" --window-size=1280,800
            --window-position=0,0 "$url")
        reader=(cdp "$port")
        ;;
    esac
    mark=$(wc -l <"$mlog")
    start_bg "$W/$name.log" env HOME="$home" "${env_[@]}" "${cmd[@]}"
    pid=$BG_PID
    case $browser/$mode in
    firefox/pin | firefox/tls13) w=$(wait_window "Password Required") ;;
    chromium/*) w=$(wait_window "Unlock Security Device") ;;
    firefox/pinpad) w=$(wait_window "Protected Authentication") ;;
    esac
    if [[ -z $w ]]; then
        xdotool search --name . getwindowname %@ >"$W/$name.windows" 2>/dev/null || true
        import -window root "$W/$name.png" 2>/dev/null || true
        fail "$name: no PIN prompt within ${BROWSER_T}s (windows: $(grep -v '^$' "$W/$name.windows" | paste -sd '|'))"
        show "$W/$name.log"
        stop_group "$pid"
        return
    fi
    import -window root "$W/$name-prompt.png" 2>/dev/null || true
    case $browser/$mode in
    */pin | */tls13)
        type_into "$w" "$PIN" || fail "$name: xdotool could not type into the PIN prompt"
        ;;
    chromium/pinpad)
        # Chromium asks all the same; the module ignores the text on a PIN-pad reader
        # (C_Login with no PIN, the keypad answers).
        type_into "$w" "keypad" || fail "$name: xdotool could not type into the PIN prompt"
        ;;
    firefox/pinpad)
        for ((i = 0; i < BROWSER_T * 10; i++)); do
            logged_in_since "$mark" && break
            sleep 0.1
        done
        if logged_in_since "$mark"; then
            pass "$name: Firefox's protected-authentication notice, the login done on the keypad (nothing typed)"
        else
            fail "$name: no C_Login on the PIN pad while Firefox showed its notice"
        fi
        # Firefox ESR keeps the notice open after the login: close it as a user would.
        xdotool windowfocus --sync "$w" 2>/dev/null && xdotool key Return || true
        ;;
    esac
    page=$W/$name.page.txt
    python3 "$ROOT/tests/e2e/browser_page.py" "${reader[@]}" --timeout "$BROWSER_T" \
        --wait "Verify return code: 0 (ok)" --wait "CN=$CN" --scroll "Client certificate" \
        >"$page" 2>"$W/$name.page.err" || true
    sleep 0.5 # the scroll painted
    import -window root "$W/$name.png" 2>"$W/$name.import.out" || true
    if grep -qE "^ *Subject: .*CN=$CN\$" "$page" && grep -qiE "Serial Number: .*\(0x0*$SERIAL\)" "$page"; then
        pass "$name: the page shows $persona's authentication certificate (CN=$CN, serial 0x$SERIAL)"
    else
        fail "$name: the page does not show the card's certificate (CN=$CN)"
        show "$W/$name.page.err" 5
        show "$page" 8
    fi
    if grep -q "Verify return code: 0 (ok)" "$page" && grep -qE "Protocol *: $proto\$" "$page" &&
        grep -q "Peer signature type: $sigtype\$" "$page"; then
        pass "$name: verified by the server, $proto, client signature $sigtype"
    else
        fail "$name: the page lacks 'Verify return code: 0 (ok)', $proto or 'Peer signature type: $sigtype'"
    fi
    # (NSS signs TLS 1.2 in one C_Sign; TLS 1.3's RSA-PSS in C_SignUpdate… C_SignFinal)
    if tail -n +"$((mark + 1))" "$mlog" | grep -qE 'C_Sign(Final)? -> CKR_OK'; then
        pass "$name: the module signed the handshake ($(tail -n +"$((mark + 1))" "$mlog" |
            grep -oE 'C_Sign(Final)? -> CKR_OK' | head -1 | cut -d' ' -f1) in its log)"
    else
        fail "$name: no C_Sign or C_SignFinal -> CKR_OK in the module's log"
    fi
    if [[ -s $W/$name.png ]] && [[ $(head -c 8 "$W/$name.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; then
        pass "$name: screenshot $W/$name.png ($(($(date +%s%N) / 1000000 - t0 / 1000000)) ms for the run)"
    else
        fail "$name: no screenshot ($(cat "$W/$name.import.out"))"
    fi
    stop_group "$pid"
    rm -rf "${W:?}/$name" # the profile and HOME (tens of MB); the screenshots and logs stay
}

# --- the runs: through pcscd (PIN typed), then the PIN pad (in-process simulator) ----------
start_pcscd
# --- the Chromium policy: this URL gets the certificate without a chooser ----------------
# Written once this suite holds the machine-wide pcscd lock (start_pcscd), so that suites run
# from several work trees never share or remove each other's policy file.
write_policy() {
    [[ " ${BROWSERS[*]} " == *" chromium "* ]] || return 0
    for d in /etc/chromium/policies /etc/chromium/policies/managed; do
        [[ -d $d ]] || { mkdir -p "$d" && created_dirs=("$d" "${created_dirs[@]}"); }
    done
    printf '{"AutoSelectCertificateForUrls": ["{\\"pattern\\":\\"https://127.0.0.1:%s\\",\\"filter\\":{}}", "{\\"pattern\\":\\"https://127.0.0.1:%s\\",\\"filter\\":{}}"]}\n' \
        "${PORT_OF[tls1_2]}" "${PORT_OF[tls1_3]}" >"$POLICY"
    policy_written=1
}
write_policy
start_card "$PERSONA"
pass "pcscd + vpcd + cpx-vcard --card $PERSONA"
for b in "${BROWSERS[@]}"; do one_run "$b" pin; done
vcard_stop || true
start_card "$PERSONA4"
pass "cpx-vcard --card $PERSONA4 in the reader"
for b in "${BROWSERS[@]}"; do one_run "$b" tls13; done
vcard_stop || true
pcscd_stop || true
for b in "${BROWSERS[@]}"; do one_run "$b" pinpad; done

# The PIN typed in the browsers and queued on the keypad: in no log (as text or as hex).
pinhex=$(printf '%s' "$PIN" | od -An -tx1 | tr -d ' \n')
if grep -a -q -w -F -- "$PIN" "$mlog" "$CPX_RUN_DIR/vcard.log" "$W"/*.log ||
    cat "$mlog" "$CPX_RUN_DIR/vcard.trace" | tr -d ' ' | grep -qiF -- "$pinhex"; then
    fail "the PIN appears in a log (module, card trace or browser)"
else
    pass "no PIN in the module's log ($(wc -l <"$mlog") lines), the card trace or the browsers' output"
fi
echo "screenshots: $(ls "$W"/*.png 2>/dev/null | paste -sd ' ')"
summary
