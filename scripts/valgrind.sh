#!/usr/bin/env bash
# Memory checks with valgrind memcheck (Debian's valgrind), over the library as real clients
# load it (dlopen of the sim build of libcpx_pkcs11.so, virtual cards from CPX_SIM_CARDS):
#
#  1. the cryptoki flows: tests/flow_*.rs binaries (cryptoki crate → our C ABI), each under
#     memcheck: no invalid read/write, no use of uninitialised values, no definite leak;
#  2. the pkcs11-tool flows (OpenSC's client, in-process sim build): list, login, objects,
#     sign with each key, decrypt, PIN change, --test;
#  3. leak growth: tests/flow_repeat.rs for N and 2N rounds (login, sign, decrypt, attributes,
#     PIN change, C_Finalize and reload each round); the leak summaries (definitely,
#     indirectly, possibly lost and still reachable) must not grow with the rounds.
#
#   scripts/valgrind.sh          CI=true: a subset of flows, N=2; else every flow, N=3
#   VALGRIND_ROUNDS=N            rounds for check 3
#
# Suppressions (scripts/valgrind.supp) cover third-party code only, each with its reason.
# Prints PASS/FAIL per check and "valgrind: N passed, M failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${CPX_VALGRIND_DIR:-/tmp/cpx-valgrind}
rm -rf "$OUT"
mkdir -p "$OUT"
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends valgrind >/dev/null
    fi
fi
command -v valgrind >/dev/null || { echo "FAIL: valgrind not installed (apt-get install valgrind)"; echo "valgrind: 0 passed, 1 failed"; exit 1; }
command -v pkcs11-tool >/dev/null || { echo "FAIL: pkcs11-tool not installed (scripts/deps.sh)"; echo "valgrind: 0 passed, 1 failed"; exit 1; }

VG=(valgrind --tool=memcheck --error-exitcode=97 --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite --track-origins=yes --num-callers=40 --keep-debuginfo=yes
    --suppressions="$ROOT/scripts/valgrind.supp")

# The sim build of the library and the flow test binaries.
cargo build --quiet --features sim --lib || { fail "cargo build --features sim"; exit 1; }
LIB=$ROOT/target/debug/libcpx_pkcs11.so
mapfile -t BINS < <(cargo test --quiet --features sim --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\/flow_[a-z0-9_]*-[0-9a-f]*\)".*/\1/p' | sort -u)
[ ${#BINS[@]} -gt 0 ] || { fail "no tests/flow_*.rs binaries built"; exit 1; }
export CPX_PKCS11_MODULE=$LIB CPX_PKCS11_LOG=off

if [ "${CI:-}" = true ]; then
    FLOWS=(flow_cps3_doctor flow_cps4_nurse flow_wrong_pin flow_unblock flow_data_objects flow_per_signature_pin)
    ROUNDS=${VALGRIND_ROUNDS:-2}
else
    FLOWS=()
    for b in "${BINS[@]}"; do FLOWS+=("$(basename "$b" | sed 's/-[0-9a-f]*$//')"); done
    ROUNDS=${VALGRIND_ROUNDS:-3}
fi

# vg NAME CMD...: CMD under memcheck, its log in $OUT/NAME.log; checks the error summary.
vg() {
    local name=$1
    shift
    local log=$OUT/$name.log
    "${VG[@]}" --log-file="$log" "$@" >"$OUT/$name.out" 2>&1
    local rc=$?
    local errors
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
    if [ "$rc" -eq 0 ] && [ "${errors:-x}" = 0 ]; then
        pass "$name: 0 memcheck errors, $(sed -n 's/.*definitely lost: \(.*\) in .*/\1/p' "$log" | tail -1) definitely lost"
    else
        fail "$name: exit $rc, ${errors:-?} memcheck errors (log $log)"
        grep -E 'Invalid|uninitialised|definitely lost|==[0-9]+==    (at|by) ' "$log" | head -30 | sed 's/^/    /'
        tail -5 "$OUT/$name.out" | sed 's/^/    | /'
    fi
}

# 1. cryptoki flows.
for f in "${FLOWS[@]}"; do
    for b in "${BINS[@]}"; do
        case $(basename "$b") in "$f"-*) vg "$f" "$b" --test-threads=1 ;; esac
    done
done

# 2. pkcs11-tool flows through the sim build.
P=(pkcs11-tool --module "$LIB")
head -c 64 /dev/urandom >"$OUT/data.bin"
export CPX_SIM_CARDS=cps3-doctor
vg p11tool-list "${P[@]}" -L -T -M
vg p11tool-objects "${P[@]}" --login --pin 1234 -O
vg p11tool-sign-sig "${P[@]}" --login --pin 1234 --sign -m SHA256-RSA-PKCS \
    --id e828bd080f8025000001ff001001 -i "$OUT/data.bin" -o "$OUT/sig1"
vg p11tool-sign-auth "${P[@]}" --login --pin 1234 --sign -m SHA1-RSA-PKCS \
    --id e828bd080f8025000001ff001002 -i "$OUT/data.bin" -o "$OUT/sig2"
vg p11tool-change-pin "${P[@]}" --change-pin --pin 1234 --new-pin 4321
vg p11tool-read-data "${P[@]}" --read-object --type data --label CPS_NAME_PS -o "$OUT/name"
export CPX_SIM_CARDS=cps4-nurse
vg p11tool-cps4-test "${P[@]}" --login --pin 1234 --test
unset CPX_SIM_CARDS

# 3. leak growth: N and 2N rounds.
REPEAT=$(printf '%s\n' "${BINS[@]}" | grep '/flow_repeat-' | head -1)
if [ -z "$REPEAT" ]; then
    fail "tests/flow_repeat.rs binary not built"
else
    leak_bytes() { # total of the four leak kinds in a memcheck log
        sed -n -E 's/.*(definitely lost|indirectly lost|possibly lost|still reachable): ([0-9,]+) bytes.*/\2/p' "$1" |
            tr -d , | awk '{s += $1} END {print s + 0}'
    }
    for n in "$ROUNDS" $((2 * ROUNDS)); do
        CPX_FLOW_ROUNDS=$n "${VG[@]}" --show-leak-kinds=all --log-file="$OUT/repeat-$n.log" \
            "$REPEAT" --test-threads=1 >"$OUT/repeat-$n.out" 2>&1 ||
            fail "flow_repeat with $n rounds under memcheck (log $OUT/repeat-$n.log)"
    done
    a=$(leak_bytes "$OUT/repeat-$ROUNDS.log")
    b=$(leak_bytes "$OUT/repeat-$((2 * ROUNDS)).log")
    echo "leak summary: $ROUNDS rounds: $a bytes; $((2 * ROUNDS)) rounds: $b bytes"
    if [ "$a" = "$b" ]; then
        pass "no leak grows with the operations: $a bytes left at exit after $ROUNDS and after $((2 * ROUNDS)) rounds"
    else
        fail "leaks grow with the operations: $a bytes after $ROUNDS rounds, $b after $((2 * ROUNDS))"
        grep -E 'lost|reachable' "$OUT/repeat-$ROUNDS.log" "$OUT/repeat-$((2 * ROUNDS)).log" | sed 's/^/    /'
    fi
fi

echo "valgrind: ${passed} passed, ${failed} failed (logs in $OUT)"
[ "$failed" -eq 0 ]
