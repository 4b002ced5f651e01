#!/usr/bin/env bash
# `cpx register` / `cpx unregister` against real NSS databases, read back with NSS's own tools
# (certutil, modutil) in a throw-away HOME: Firefox profiles found through profiles.ini,
# Chromium's shared database created when absent, idempotence, update, removal, and the module
# loaded twice in one process (directly and through p11-kit-proxy).
#
#   tests/e2e/register.sh
#
# The card is the in-process simulator (CPX_SIM_CARDS=cps3-doctor, a `sim` build of the module
# and of cpx, built here): no pcscd needed. The p11-kit checks run as user nobody (setpriv),
# because p11-kit ignores the user's module files (~/.config/pkcs11/modules) for root and a
# system-wide module file would reach every p11-kit user on the machine.
#
# Environment: CPX_RUN_DIR (scratch directory; default a new /tmp/cpx-register.XXXXXX, removed
# after a clean run). Needs libnss3-tools (certutil, modutil), p11-kit, setpriv (util-linux).
# Prints PASS/FAIL per check and ends with "N passed, M failed".
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_begin register
export CPX_SIM_CARDS=cps3-doctor
unset CPX_SIM_PINPAD
# cpx speaks French by default; the checks below read its English messages.
export LANG=en_US.UTF-8
unset LC_ALL LC_MESSAGES
LABEL=CPS3v3-2699700011
NAME=cpx-pkcs11
AUTH="$LABEL:Certificat d'Authentification CPS"
SIGN="$LABEL:Certificat de Signature CPS"

for t in certutil modutil setpriv p11-kit; do
    command -v "$t" >/dev/null || also_missing+=("$t")
done
((${#also_missing[@]} == 0)) || fatal "missing tools: ${also_missing[*]} (scripts/deps.sh installs them)"
cargo build --quiet --features sim --lib --bin cpx || fatal "cargo build --features sim failed"
# A copy every user can read (the nobody checks).
B=$CPX_RUN_DIR/bin
mkdir -p "$B"
cp target/debug/cpx target/debug/libcpx_pkcs11.so "$B/"
chmod 755 "$CPX_RUN_DIR" "$B"
CPX=$B/cpx
MOD=$B/libcpx_pkcs11.so
pass "built (sim): $CPX, $MOD"

# entries DB NAME: how many times pkcs11.txt of DB lists NAME.
entries() { grep -c -x "name=$2" "$1/pkcs11.txt" 2>/dev/null || true; }
# lists_certs OUT: certutil -L output OUT shows both certificates of the card.
lists_certs() { grep -qF "$AUTH" "$1" && grep -qF "$SIGN" "$1"; }

# --- Firefox profiles ---------------------------------------------------------------------
H=$CPX_RUN_DIR/home
FF=$H/.mozilla/firefox
mkdir -p "$FF/a1b2c3.default-esr" "$CPX_RUN_DIR/elsewhere/profile2"
cat >"$FF/profiles.ini" <<EOF
[Install3B6073811A6ABF12]
Default=a1b2c3.default-esr
Locked=1

[Profile1]
Name=default-esr
IsRelative=1
Path=a1b2c3.default-esr
Default=1

[Profile0]
Name=work
IsRelative=0
Path=$CPX_RUN_DIR/elsewhere/profile2

[General]
StartWithLastProfile=1
Version=2
EOF
P1=$FF/a1b2c3.default-esr
P2=$CPX_RUN_DIR/elsewhere/profile2
export HOME=$H
unset XDG_CONFIG_HOME XDG_DATA_HOME

if run "$W/reg-ff.out" "$CPX" register firefox --module "$MOD" &&
    [[ -f $P1/cert9.db && -f $P2/cert9.db ]] &&
    [[ $(grep -c '^registered "cpx-pkcs11"' "$W/reg-ff.out") == 2 ]]; then
    pass "cpx register firefox: both profiles of profiles.ini (relative and absolute path) got a database and the module"
else
    fail "cpx register firefox did not register both profiles"
    show "$W/reg-ff.out"
fi
for p in "$P1" "$P2"; do
    if run "$W/list.out" modutil -dbdir "sql:$p" -list "$NAME" </dev/null &&
        grep -qE "Library file: $MOD\$" "$W/list.out" && grep -qF "Token Name: $LABEL" "$W/list.out"; then
        pass "modutil -list $NAME in $(basename "$p"): library $MOD, token $LABEL"
    else
        fail "modutil -list does not show $NAME with token $LABEL in $p"
        show "$W/list.out"
    fi
    if run "$W/L.out" certutil -L -d "sql:$p" -h all && lists_certs "$W/L.out"; then
        pass "certutil -L -h all in $(basename "$p"): \"$AUTH\" and the signature certificate"
    else
        fail "certutil -L -h all in $p does not list the card's certificates"
        show "$W/L.out"
    fi
done
if run "$W/reg-ff2.out" "$CPX" register firefox --module "$MOD" &&
    [[ $(grep -c '^already registered' "$W/reg-ff2.out") == 2 ]] &&
    [[ $(entries "$P1" "$NAME") == 1 && $(entries "$P2" "$NAME") == 1 ]]; then
    pass "cpx register firefox again: \"already registered\", still one entry per database"
else
    fail "cpx register firefox is not idempotent"
    show "$W/reg-ff2.out"
fi
# Another library under the same name (an older install): updated in place.
cp "$MOD" "$B/libcpx_pkcs11-old.so"
modutil -dbdir "sql:$P1" -delete "$NAME" -force </dev/null >/dev/null 2>&1
modutil -dbdir "sql:$P1" -add "$NAME" -libfile "$B/libcpx_pkcs11-old.so" -force </dev/null >/dev/null 2>&1
if run "$W/reg-upd.out" "$CPX" register firefox --module "$MOD" &&
    grep -q "^updated \"$NAME\" ($MOD) in the Firefox profile $P1" "$W/reg-upd.out" &&
    grep -qx "library=$MOD" "$P1/pkcs11.txt" && ! grep -q 'libcpx_pkcs11-old' "$P1/pkcs11.txt"; then
    pass "a profile listing another library as $NAME is updated to $MOD"
else
    fail "the registration under another library was not updated"
    show "$W/reg-upd.out"
fi

# --- Chromium: the shared database --------------------------------------------------------
if run "$W/reg-ch.out" "$CPX" register chromium --module "$MOD" && [[ -f $H/.pki/nssdb/cert9.db ]] &&
    run "$W/L-ch.out" certutil -L -d "sql:$H/.pki/nssdb" -h all && lists_certs "$W/L-ch.out"; then
    pass "cpx register chromium: ~/.pki/nssdb created; certutil -L lists the card's certificates"
else
    fail "cpx register chromium: no ~/.pki/nssdb, or certutil -L does not list the card"
    show "$W/reg-ch.out"
    show "$W/L-ch.out"
fi
# Newer layout present too: both get it.
mkdir -p "$H/.local/share/pki/nssdb"
certutil -N -d "sql:$H/.local/share/pki/nssdb" --empty-password >/dev/null 2>&1
if run "$W/reg-nss.out" "$CPX" register nss --module "$MOD" &&
    grep -q "^registered \"$NAME\" .* $H/.local/share/pki/nssdb\$" "$W/reg-nss.out" &&
    grep -q "^already registered .* $H/.pki/nssdb\$" "$W/reg-nss.out"; then
    pass "cpx register nss: ~/.local/share/pki/nssdb registered, ~/.pki/nssdb already was"
else
    fail "cpx register nss did not handle ~/.local/share/pki/nssdb next to ~/.pki/nssdb"
    show "$W/reg-nss.out"
fi

# --- unregister ---------------------------------------------------------------------------
if run "$W/unreg.out" "$CPX" unregister all &&
    [[ $(grep -c '^unregistered' "$W/unreg.out") == 4 ]]; then
    gone=1
    for d in "$P1" "$P2" "$H/.pki/nssdb" "$H/.local/share/pki/nssdb"; do
        [[ $(entries "$d" "$NAME") == 0 ]] || gone=0
        modutil -dbdir "sql:$d" -list </dev/null 2>/dev/null | grep -qF "$NAME" && gone=0
    done
    if ((gone)); then
        pass "cpx unregister all: removed from the 4 databases (modutil -list no longer shows it)"
    else
        fail "cpx unregister all left the module in a database"
    fi
else
    fail "cpx unregister all did not unregister 4 databases"
    show "$W/unreg.out"
fi
if run "$W/unreg2.out" "$CPX" unregister all && [[ $(grep -c '^not registered' "$W/unreg2.out") == 4 ]]; then
    pass "cpx unregister all again: \"not registered\" everywhere, exit 0"
else
    fail "cpx unregister is not idempotent"
    show "$W/unreg2.out"
fi

# --- no Firefox ---------------------------------------------------------------------------
E=$CPX_RUN_DIR/empty-home
mkdir -p "$E"
if HOME=$E run "$W/noff.out" "$CPX" register firefox --module "$MOD"; then
    fail "cpx register firefox without any profile succeeded"
else
    grep -q 'no Firefox profile found' "$W/noff.out" &&
        pass "cpx register firefox without a profile: exit 1, \"no Firefox profile found\"" ||
        { fail "cpx register firefox without a profile: unexpected message" && show "$W/noff.out"; }
fi
if HOME=$E run "$W/noff-all.out" "$CPX" register all --module "$MOD" &&
    grep -q '^note: no Firefox profile found' "$W/noff-all.out" && [[ -f $E/.pki/nssdb/cert9.db ]]; then
    pass "cpx register all without Firefox: a note, and the shared database registered"
else
    fail "cpx register all without Firefox failed"
    show "$W/noff-all.out"
fi

# --- twice in one process: directly and through p11-kit-proxy (as nobody) ------------------
PROXY=$(dpkg -L libp11-kit0 2>/dev/null | grep '/p11-kit-proxy\.so$' | head -1 || true)
[[ -n $PROXY ]] || PROXY=$(find /usr/lib* -name p11-kit-proxy.so 2>/dev/null | head -1)
U=$CPX_RUN_DIR/nobody
mkdir -p "$U/.config/pkcs11/modules"
printf 'module: %s\n' "$MOD" >"$U/.config/pkcs11/modules/cpx-test.module"
chown -R 65534:65534 "$U"
# (an array, not a function: run puts timeout in front)
as_nobody=(env HOME="$U" CPX_PKCS11_LOG="$U/module.log" CPX_PKCS11_LOG_LEVEL=info
    setpriv --reuid=65534 --regid=65534 --clear-groups)
if [[ -z $PROXY ]]; then
    fail "p11-kit-proxy.so not found (package libp11-kit0)"
elif run "$W/p11kit.out" "${as_nobody[@]}" p11-kit list-modules && grep -qF "token: $LABEL" "$W/p11kit.out"; then
    pass "p11-kit (user nobody, ~/.config/pkcs11/modules/cpx-test.module) lists the module and token $LABEL"
    # p11-kit-proxy first: a direct registration would be refused by NSS; cpx says so and succeeds.
    D1=$U/db-proxy-first
    "${as_nobody[@]}" mkdir "$D1"
    "${as_nobody[@]}" certutil -N -d "sql:$D1" --empty-password >/dev/null 2>&1
    "${as_nobody[@]}" modutil -dbdir "sql:$D1" -add p11-kit-proxy -libfile "$PROXY" -force </dev/null >/dev/null 2>&1
    if run "$W/proxy-first.out" "${as_nobody[@]}" "$CPX" register nss --db "$D1" --module "$MOD" &&
        grep -q '^not registered .*p11-kit-proxy.*already loads' "$W/proxy-first.out" &&
        [[ $(entries "$D1" "$NAME") == 0 ]] &&
        run "$W/proxy-first-L.out" "${as_nobody[@]}" certutil -L -d "sql:$D1" -h all && lists_certs "$W/proxy-first-L.out"; then
        pass "database loading p11-kit-proxy: cpx register explains and does not add it again (exit 0); certutil -L lists the card through the proxy"
    else
        fail "database loading p11-kit-proxy: cpx register did not explain/skip, or the card is not listed"
        show "$W/proxy-first.out"
    fi
    # Directly first, p11-kit-proxy added afterwards: loaded twice in each NSS process.
    D2=$U/db-direct-first
    "${as_nobody[@]}" mkdir "$D2"
    "${as_nobody[@]}" certutil -N -d "sql:$D2" --empty-password >/dev/null 2>&1
    "${as_nobody[@]}" "$CPX" register nss --db "$D2" --module "$MOD" >/dev/null 2>&1 || true
    "${as_nobody[@]}" modutil -dbdir "sql:$D2" -add p11-kit-proxy -libfile "$PROXY" -force </dev/null >/dev/null 2>&1
    : >"$U/module.log"
    if run "$W/twice-L.out" "${as_nobody[@]}" certutil -L -d "sql:$D2" -h all && lists_certs "$W/twice-L.out" &&
        grep -q 'loads the module twice' "$U/module.log"; then
        pass "module loaded twice in certutil (directly + p11-kit-proxy): certificates listed, exit 0; the module log explains: \"$(grep -o 'this process loads the module twice[^;]*' "$U/module.log" | head -1)\""
    else
        fail "module loaded twice: certutil -L failed or the module did not log the explanation"
        show "$W/twice-L.out"
        tail -n 5 "$U/module.log" | sed -e 's/^/    module| /'
    fi
    if run "$W/twice-reg.out" "${as_nobody[@]}" "$CPX" register nss --db "$D2" --module "$MOD" &&
        grep -q '^note: .*p11-kit-proxy.*loaded twice' "$W/twice-reg.out"; then
        pass "cpx register on that database: \"already registered\" plus a note that the module is loaded twice"
    else
        fail "cpx register does not note the double load"
        show "$W/twice-reg.out"
    fi
else
    fail "p11-kit as nobody does not list the module from ~/.config/pkcs11/modules"
    show "$W/p11kit.out"
fi

summary
