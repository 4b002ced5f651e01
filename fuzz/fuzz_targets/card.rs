//! The engine against a hostile card whose every answer the fuzzer chooses (see
//! `cpx_pkcs11_fuzz::card` for the input format and the properties).
#![no_main]

use cpx_pkcs11_fuzz::card::{drive, FuzzCard};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(card) = FuzzCard::new(data) {
        let sent = card.sent.clone();
        drive(Box::new(card), Some(sent));
    }
});
