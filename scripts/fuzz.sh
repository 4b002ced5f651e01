#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (libfuzzer-sys) on the stable toolchain.
#
#   scripts/fuzz.sh            CI mode when CI=true (FUZZ_SECONDS=30 per target, fixed seed),
#                              else 120 s
#   scripts/fuzz.sh long       a long run: FUZZ_SECONDS (default 600) per target
#   scripts/fuzz.sh build      only build the targets
#   scripts/fuzz.sh seeds      rewrite the committed seed corpora (fuzz/corpus/) from the personas
#   scripts/fuzz.sh run T [libFuzzer options…]   one target, by hand
#   FUZZ_TARGETS="card abi"    a subset
#
# The targets are built with the SanitizerCoverage flags that `cargo fuzz build -s none`
# uses (stable rustc options, no -Z), so no nightly and no cargo-fuzz install are needed;
# `cargo fuzz run -s none <target>` works too for those who have cargo-fuzz. New corpus
# entries go to fuzz/target/corpus/<target> (not committed); a crash leaves its input in
# fuzz/artifacts/<target>/ and fails the run. Inputs of crashes found and fixed are kept in
# fuzz/regressions/<target>/ and run first, with the seeds. Reproduce with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> fuzz/artifacts/<target>/crash-…
# Prints "fuzz: N passed, M failed" (one per target).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FUZZ=$ROOT/fuzz
TARGETS=${FUZZ_TARGETS:-tlv pkcs15 x509 card abi}
mode=${1:-auto}
extra=()

export CARGO_TARGET_DIR=$FUZZ/target
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"

# libfuzzer-sys compiles libFuzzer (C++).
if ! command -v c++ >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends g++ >/dev/null
fi
command -v c++ >/dev/null || { echo "fuzz: a C++ compiler is needed to build libFuzzer (apt-get install g++)"; echo "fuzz: 0 passed, 1 failed"; exit 1; }

# With an explicit --target the flags apply to the targets only, not to build scripts and
# proc macros (which would miss the coverage callbacks that libFuzzer provides).
HOST=$(rustc -vV | sed -n 's/^host: //p')
BIN=$CARGO_TARGET_DIR/$HOST/release
build() {
    cargo build --release --manifest-path "$FUZZ/Cargo.toml" --target "$HOST" --bins
}

max_len() {
    case $1 in
        card) echo 20000 ;;
        abi) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

# run_target NAME SECONDS [extra libFuzzer options]: prints the closing statistics.
run_target() {
    local t=$1 secs=$2
    shift 2
    local work=$CARGO_TARGET_DIR/corpus/$t art=$FUZZ/artifacts/$t
    mkdir -p "$work" "$art"
    local log=$CARGO_TARGET_DIR/fuzz-$t.log
    local regress=()
    [ -d "$FUZZ/regressions/$t" ] && regress=("$FUZZ/regressions/$t")
    "$BIN/$t" "$work" "$FUZZ/corpus/$t" "${regress[@]}" \
        -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -artifact_prefix="$art/" -print_final_stats=1 "$@" >"$log" 2>&1
    local rc=$?
    local last
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    local execs
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz[$t]: rc=$rc executions=${execs:-?} last: ${last:-none}"
    if [ $rc -ne 0 ]; then
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -20
        ls -1 "$art" | head
    fi
    return $rc
}

case $mode in
    build)
        build
        exit
        ;;
    seeds)
        build || exit 1
        rm -rf "$FUZZ/corpus"
        "$BIN/seeds"
        exit
        ;;
    run)
        t=$2
        shift 2
        build || exit 1
        mkdir -p "$CARGO_TARGET_DIR/corpus/$t" "$FUZZ/artifacts/$t"
        exec "$BIN/$t" "$CARGO_TARGET_DIR/corpus/$t" "$FUZZ/corpus/$t" \
            -max_len="$(max_len "$t")" -artifact_prefix="$FUZZ/artifacts/$t/" "$@"
        ;;
    long) secs=${FUZZ_SECONDS:-600} ;;
    auto)
        if [ "${CI:-}" = true ]; then
            secs=${FUZZ_SECONDS:-30}
            # A fixed seed: CI repeats the same exploration (a new finding shows in a long run
            # or by hand, not as a random CI failure).
            extra=(-seed="${FUZZ_SEED:-1}")
        else
            secs=${FUZZ_SECONDS:-120}
        fi
        ;;
    *)
        echo "usage: $0 [build|seeds|long|run TARGET …]" >&2
        exit 2
        ;;
esac

start=$(date +%s)
build || { echo "fuzz: 0 passed, 1 failed (build)"; exit 1; }
echo "fuzz: build $(($(date +%s) - start)) s"
passed=0
failed=0
for t in $TARGETS; do
    # Every committed seed must run clean first (regression inputs live there too).
    if run_target "$t" "$secs" "${extra[@]}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "fuzz: total $(($(date +%s) - start)) s"
echo "fuzz: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
