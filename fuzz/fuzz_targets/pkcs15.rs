//! Lenient PKCS#15 parsing (ODF, TokenInfo, AODF, PrKDF, CDF, DODF, paths, flags). The
//! first byte picks the file kind, the rest is the file. No panic; every entry it returns
//! was read from the input (labels and IDs no longer than the file).
#![no_main]

use cpx_pkcs11::cpx::pkcs15;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, file)) = data.split_first() else {
        return;
    };
    match kind % 8 {
        0 => {
            let _ = pkcs15::parse_odf(file);
        }
        1 => {
            let _ = pkcs15::parse_token_info(file);
        }
        2 => {
            for pin in pkcs15::parse_aodf(file) {
                let _ = (pin.is_so_pin(), pin.needs_padding());
                assert!(pin.common.label.chars().count() <= file.len());
            }
        }
        3 => {
            for key in pkcs15::parse_prkdf(file) {
                assert!(key.id.len() <= file.len());
            }
        }
        4 => {
            for cert in pkcs15::parse_cdf(file) {
                assert!(cert.id.len() <= file.len());
            }
        }
        5 => {
            for obj in pkcs15::parse_dodf(file) {
                let _ = (obj.common.private(), obj.common.modifiable());
                // A lossy UTF-8 label: one character (perhaps U+FFFD, 3 bytes) per input byte at most.
                assert!(obj.common.label.chars().count() <= file.len());
            }
        }
        6 => {
            let _ = pkcs15::parse_path(file);
        }
        _ => {
            let _ = pkcs15::bit_string_flags(file);
            let _ = pkcs15::uint(file);
        }
    }
});
