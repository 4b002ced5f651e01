#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests, the release checks, and the
# end-to-end suites through real pcscd + vpcd + cpx-vcard with independent clients: OpenSC's
# own driver against the simulated card, and our release module driven by pkcs11-tool,
# p11tool (GnuTLS) and NSS certutil; the no-PIN-in-any-output suite, a bounded fuzzing run
# (scripts/fuzz.sh) and valgrind memcheck (scripts/valgrind.sh).
# Installs the Debian packages it needs first (scripts/deps.sh, as root).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1

passed=0
failed=0
failures=()
step() {
    local name=$1
    shift
    echo "=== ${name}: $*"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "=== FAILED: ${name}"
    fi
}

step fmt cargo fmt --check
step clippy cargo clippy --all-targets --features sim -- -D warnings
step unit-and-integration cargo test --features sim
step no-pcsc-build cargo build --no-default-features --features sim
step release-build cargo build --release
step release-has-no-simulator bash scripts/check-release.sh target/release/libcpx_pkcs11.so
step vcard-build cargo build --features sim --bin cpx-vcard
step e2e-opensc bash tests/e2e/opensc.sh
step e2e-module bash tests/e2e/module.sh
step e2e-pin bash tests/e2e/pin.sh
step e2e-cli bash tests/e2e/cli.sh
step bench-e2e-short bash scripts/bench-e2e.sh --short
step e2e-live bash tests/e2e/live.sh
step e2e-register bash tests/e2e/register.sh
step e2e-tls bash tests/e2e/tls.sh
step e2e-package bash tests/e2e/package.sh
step e2e-browsers bash tests/e2e/browsers.sh
step e2e-java bash tests/e2e/java.sh
step e2e-python bash tests/e2e/python.sh
step e2e-secrets bash tests/e2e/secrets.sh
step fuzz bash scripts/fuzz.sh
step valgrind bash scripts/valgrind.sh

echo
echo "test-all: ${passed} steps passed, ${failed} failed${failures:+ (${failures[*]})}"
[ "$failed" -eq 0 ]
