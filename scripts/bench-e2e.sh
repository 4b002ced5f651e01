#!/usr/bin/env bash
# End-to-end benchmark (issue 9): our release module against Debian's OpenSC 0.23
# (opensc-pkcs11.so, its file cache off and on through an OPENSC_CONF of this script's own), on
# the same simulated cards (cps3-doctor, cps4-nurse) through the same pcscd + vpcd, with
# `cpx-vcard --latency` (line rate from the ATR, per-APDU cost, on-card RSA time: slept).
#
#   scripts/bench-e2e.sh [--runs N] [--short] [--cards "cps3-doctor cps4-nurse"]
#
# Scenarios, each a new `pkcs11-tool` process: -L, -O, -L -O, and login + sign with the
# authentication key (CKM_RSA_PKCS over a SHA-256 DigestInfo: OpenSC 0.23 refuses
# SHA256-RSA-PKCS on that key) — its wall time is "process start → first signature". Each
# cold (no cache: ours cleared, OpenSC's cleared) and warm (the cache filled by an untimed
# run). OpenSC does not recognise a CPS4: CPS4 rows are ours only.
#
# Per run: wall time, APDUs and bytes (command + response) from the card's trace. N runs
# (default 5), medians; ratios computed within this run. Output: a table on stdout,
# target/bench/e2e.tsv (all medians), target/bench/e2e-ratios.tsv; `scripts/bench-plot.py
# --e2e` plots them into docs/performance-e2e.svg.
#
# --short (and CI=true): 1 run, scenarios -L -O and sign, to keep the script from rotting in
# CI (scripts/test-all.sh). Prints "N passed, M failed" like the e2e suites: a run that fails
# (a pkcs11-tool error, a signature that is not 256 bytes) is a failure; the figures are
# never asserted.
#
# Environment: CPX_MODULE, CPX_VCARD, CPX_RUN_DIR, CPX_KEEP (tests/e2e/lib.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
source "$(dirname "$0")/../tests/e2e/lib.sh"

RUNS=5
SHORT=0
CARDS="cps3-doctor cps4-nurse"
[[ ${CI:-} == true ]] && SHORT=1
while (($#)); do
    case $1 in
    --runs)
        RUNS=$2
        shift
        ;;
    --short) SHORT=1 ;;
    --cards)
        CARDS=$2
        shift
        ;;
    -h | --help)
        sed -n '2,25p' "$0"
        exit 0
        ;;
    *)
        echo "unknown option $1" >&2
        exit 2
        ;;
    esac
    shift
done
SCENARIOS=${CPX_BENCH_SCENARIOS:-"L O LO sign"}
if ((SHORT)); then
    RUNS=1
    SCENARIOS="LO sign"
fi

e2e_begin bench-e2e
need_tools pkcs11-tool openssl python3
[[ -x /usr/bin/time ]] || fatal "missing /usr/bin/time (package time)"
OPENSC=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
[[ -f $OPENSC ]] || fatal "OpenSC's $OPENSC missing (package opensc-pkcs11)"
build_module
build_vcard
start_pcscd

OUT=$ROOT/target/bench
mkdir -p "$OUT"
RAW=$W/raw.tsv
: >"$RAW"
: >"$W/rss.tsv"

# OpenSC configurations of our own: file cache off / on (in $W, never ~/.cache).
OSC_CACHE_DIR=$W/opensc-cache
mkdir -p "$W/opensc-home"
cat >"$W/opensc-off.conf" <<EOF
app default {
    framework pkcs15 { use_file_caching = no; }
}
EOF
cat >"$W/opensc-on.conf" <<EOF
app default {
    file_cache_dir = $OSC_CACHE_DIR;
    framework pkcs15 { use_file_caching = yes; }
}
EOF
OUR_CACHE_DIR=$W/cpx-cache

# A DigestInfo (SHA-256) to sign.
printf 'benchmark document' | openssl dgst -sha256 -binary >"$W/hash.bin"
{
    printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'
    cat "$W/hash.bin"
} >"$W/digestinfo.bin"

# module_cmd MODULE_NAME: the pkcs11-tool command line (with its environment) of that configuration.
module_cmd() {
    case $1 in
    cpx) echo "env CPX_PKCS11_CACHE_DIR=$OUR_CACHE_DIR CPX_PKCS11_LOG_LEVEL=error pkcs11-tool --module $M" ;;
    # OpenSC 0.23 keeps its file cache in $XDG_CACHE_HOME/opensc or ~/.cache/opensc whatever
    # file_cache_dir says: both point into the scratch directory.
    opensc-off) echo "env OPENSC_CONF=$W/opensc-off.conf HOME=$W/opensc-home XDG_CACHE_HOME=$OSC_CACHE_DIR pkcs11-tool --module $OPENSC" ;;
    opensc-on) echo "env OPENSC_CONF=$W/opensc-on.conf HOME=$W/opensc-home XDG_CACHE_HOME=$OSC_CACHE_DIR pkcs11-tool --module $OPENSC" ;;
    esac
}

clear_cache() {
    case $1 in
    cpx) rm -rf "$OUR_CACHE_DIR" ;;
    opensc-on) rm -rf "$OSC_CACHE_DIR" ;;
    esac
}

auth_id() {
    case $1 in
    cps4-*) echo e828bd080f8025000001ff001020 ;;
    *) echo e828bd080f8025000001ff001002 ;;
    esac
}

# scenario_args SCENARIO CARD
scenario_args() {
    case $1 in
    L) echo "-L" ;;
    O) echo "-O" ;;
    LO) echo "-L -O" ;;
    sign) echo "--login --pin 1234 --sign --id $(auth_id "$2") -m RSA-PKCS -i $W/digestinfo.bin -o $W/sig.bin" ;;
    esac
}

# APDUs and bytes in the card trace after line $1: "apdus bytes".
trace_count() {
    tail -n +"$(($1 + 1))" "$CPX_RUN_DIR/vcard.trace" |
        awk '$2 == ">" || $2 == "<" { if ($2 == ">") n++; b += NF - 2 } END { print n + 0, b + 0 }'
}

# one_run CARD MODULE SCENARIO TEMP: one timed process; appends to $RAW.
one_run() {
    local card=$1 mod=$2 sc=$3 temp=$4 cmd mark t0 ms counts
    # shellcheck disable=SC2207
    cmd=($(module_cmd "$mod") $(scenario_args "$sc" "$card"))
    [[ $temp == cold ]] && clear_cache "$mod"
    rm -f "$W/sig.bin"
    mark=$(vcard_trace_mark)
    t0=$(date +%s%N)
    if ! timeout "$T" "${cmd[@]}" >"$W/out.txt" 2>&1; then
        fail "$card $mod $sc $temp: pkcs11-tool failed"
        show "$W/out.txt"
        return 0
    fi
    ms=$(ms_since "$t0")
    if [[ $sc == sign ]] && [[ $(stat -c %s "$W/sig.bin" 2>/dev/null || echo 0) != 256 ]]; then
        fail "$card $mod $sc $temp: no 256-byte signature"
        show "$W/out.txt"
        return 0
    fi
    counts=$(trace_count "$mark")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$card" "$mod" "$sc" "$temp" "$ms" "${counts// /$'\t'}" >>"$RAW"
}

# --- the runs ---------------------------------------------------------------------------
for card in $CARDS; do
    vcard_stop
    vcard_start "$card" --latency || fatal "cpx-vcard --card $card --latency did not show"
    mods="cpx opensc-off opensc-on"
    [[ $card == cps4-* ]] && mods="cpx"
    for sc in $SCENARIOS; do
        for temp in cold warm; do
            # Without a cache, warm is cold again.
            temp_mods=$mods
            [[ $temp == warm ]] && temp_mods=${mods/opensc-off/}
            if [[ $temp == warm ]]; then
                for mod in $temp_mods; do
                    clear_cache "$mod"
                    # Fill the cache (untimed).
                    # shellcheck disable=SC2207
                    fill=($(module_cmd "$mod") -L -O)
                    timeout "$T" "${fill[@]}" >/dev/null 2>&1 || true
                done
            fi
            # The modules take turns run by run, so a burst of load on the shared machine
            # hits them alike (the caches are separate: a cold run clears only its own).
            for ((i = 0; i < RUNS; i++)); do
                for mod in $temp_mods; do
                    one_run "$card" "$mod" "$sc" "$temp"
                done
            done
        done
        pass "$card $sc: ${RUNS} run(s) per module and cache state"
    done
    # Resident memory: maximum RSS of a whole `pkcs11-tool -L -O` process (warm), per module.
    for mod in $mods; do
        # shellcheck disable=SC2207
        cmd=($(module_cmd "$mod") -L -O)
        if /usr/bin/time -f %M -o "$W/rss.txt" timeout "$T" "${cmd[@]}" >/dev/null 2>&1; then
            printf '%s\t%s\t%s\n' "$card" "$mod" "$(tail -1 "$W/rss.txt")" >>"$W/rss.tsv"
        else
            fail "$card $mod: pkcs11-tool -L -O under /usr/bin/time failed"
        fi
    done
done
{
    printf 'card\tmodule\tmax_rss_kib\n'
    cat "$W/rss.tsv"
} >"$OUT/e2e-rss.tsv"
echo "maximum RSS of pkcs11-tool -L -O (KiB):"
column -t "$OUT/e2e-rss.tsv" 2>/dev/null || cat "$OUT/e2e-rss.tsv"

# --- medians and ratios -----------------------------------------------------------------
python3 - "$RAW" "$OUT/e2e.tsv" "$OUT/e2e-ratios.tsv" <<'PY'
import csv, statistics, sys
raw, out, ratios = sys.argv[1:4]
rows = {}
for card, mod, sc, temp, ms, apdus, nbytes in csv.reader(open(raw), delimiter="\t"):
    rows.setdefault((card, mod, sc, temp), []).append((float(ms), int(apdus), int(nbytes)))
med = {}
with open(out, "w") as f:
    f.write("card\tmodule\tscenario\tcache\truns\twall_median_ms\twall_min_ms\tapdus\tbytes\n")
    for k, v in rows.items():
        ms = [x[0] for x in v]
        m = (statistics.median(ms), min(ms), statistics.median(x[1] for x in v),
             statistics.median(x[2] for x in v))
        med[k] = m
        f.write("\t".join(map(str, k)) + f"\t{len(v)}\t{m[0]:.0f}\t{m[1]:.0f}\t{m[2]:.0f}\t{m[3]:.0f}\n")
names = {"L": "-L", "O": "-O", "LO": "-L -O", "sign": "login + sign (start → signature)"}
print(f"{'card':<12} {'scenario':<34} {'cache':<5} {'cpx APDUs':>9} {'cpx ms':>7} "
      f"{'OSC-off APDUs':>13} {'ms':>6} {'OSC-on APDUs':>12} {'ms':>6} "
      f"{'APDU ratio':>10} {'time ratio':>10}")
with open(ratios, "w") as f:
    f.write("card\tscenario\tcache\tcpx_apdus\tcpx_ms\topensc_off_apdus\topensc_off_ms\t"
            "opensc_on_apdus\topensc_on_ms\tapdu_ratio\ttime_ratio\n")
    for (card, mod, sc, temp), m in sorted(med.items()):
        if mod != "cpx":
            continue
        off = med.get((card, "opensc-off", sc, temp))
        on = med.get((card, "opensc-on", sc, temp))
        # Warm is compared with OpenSC's cache on, cold with it off (issue 9).
        ref = on if temp == "warm" else off
        ar = f"{ref[2] / m[2]:.1f}" if ref and m[2] else "-"
        tr = f"{ref[0] / m[0]:.2f}" if ref and m[0] else "-"
        cell = lambda r, i, fmt: (fmt % r[i]) if r else "-"
        print(f"{card:<12} {names[sc]:<34} {temp:<5} {m[2]:>9.0f} {m[0]:>7.0f} "
              f"{cell(off, 2, '%.0f'):>13} {cell(off, 0, '%.0f'):>6} "
              f"{cell(on, 2, '%.0f'):>12} {cell(on, 0, '%.0f'):>6} {ar:>10} {tr:>10}")
        f.write("\t".join([card, sc, temp, f"{m[2]:.0f}", f"{m[0]:.0f}",
                           cell(off, 2, "%.0f"), cell(off, 0, "%.0f"),
                           cell(on, 2, "%.0f"), cell(on, 0, "%.0f"), ar, tr]) + "\n")
print("ratios: OpenSC / cpx (warm: OpenSC with its cache on; cold: OpenSC without cache)")
PY
echo "wrote $OUT/e2e.tsv, $OUT/e2e-ratios.tsv and $OUT/e2e-rss.tsv"
summary
