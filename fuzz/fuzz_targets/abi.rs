//! Random PKCS#11 call sequences through the C ABI against the simulated cards (see
//! `cpx_pkcs11_fuzz::abi`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: cpx_pkcs11_fuzz::abi::init(), |data: &[u8]| {
    cpx_pkcs11_fuzz::abi::run(data);
});
