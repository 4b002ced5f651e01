#!/usr/bin/env bash
# Builds the Debian package of cpx-pkcs11 with cargo-deb (installed here when missing):
#
#   scripts/build-deb.sh [OUTPUT_DIR]      default OUTPUT_DIR: target/debian
#
# The release build (no simulator) of the module and of `cpx`, stripped, with the layout of
# Cargo.toml's [package.metadata.deb] and the variant of this machine's dpkg architecture
# (amd64, arm64): /usr/lib/<multiarch>/libcpx_pkcs11.so and its link in .../pkcs11/, the
# p11-kit module file, the Cryptolib's names (libcps3_pkcs11_lux.so), Firefox's cps3.json,
# /usr/bin/cpx, the docs. Prints the path of the .deb on its last line.
#
# cargo-deb is a well-kept packager (crates.io, kornelski/cargo-deb); `cargo install` builds it
# once (about 1.5 min on 2 cores), pinned to CARGO_DEB_VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DEB_VERSION=${CARGO_DEB_VERSION:-3.8.0}
OUT=${1:-target/debian}

arch=$(dpkg --print-architecture 2>/dev/null || true)
grep -q "^\[package\.metadata\.deb\.variants\.$arch\]" Cargo.toml ||
    { echo "build-deb.sh: no package layout for architecture '${arch:-unknown}' in Cargo.toml" >&2; exit 1; }
if ! cargo deb --version >/dev/null 2>&1; then
    echo "build-deb.sh: installing cargo-deb $CARGO_DEB_VERSION (cargo install --locked)" >&2
    cargo install --locked --quiet "cargo-deb@$CARGO_DEB_VERSION"
fi
# Our own build first (the e2e suites share it), then package it as is.
cargo build --release --quiet
scripts/check-release.sh target/release/libcpx_pkcs11.so >/dev/null ||
    { echo "build-deb.sh: target/release/libcpx_pkcs11.so failed the release checks" >&2; exit 1; }
mkdir -p "$OUT"
cargo deb --no-build --strip --variant "$arch" --output "$OUT/" --quiet | tail -n 1
