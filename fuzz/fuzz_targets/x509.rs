//! Certificates as a card file holds them: trimming, the signature BIT STRING patch, and
//! the fields served as attributes. No panic; a patched certificate keeps its length.
#![no_main]

use cpx_pkcs11::x509;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = x509::trim_to_der(data) {
        assert!(der.len() <= data.len());
    }
    let mut copy = data.to_vec();
    let _ = x509::patch_signature_bit_string(&mut copy);
    assert_eq!(copy.len(), data.len());
    if let Ok(der) = x509::card_certificate(data) {
        if let Ok(f) = x509::parse(&der) {
            assert!(f.modulus_bits <= f.modulus.len() * 8);
            for t in [f.not_before, f.not_after] {
                let d = x509::ck_date(t);
                assert!(d.iter().all(u8::is_ascii_digit), "{t} -> {d:?}");
            }
        }
    }
    // Raw parse of the input as is (no trimming).
    let _ = x509::parse(data);
});
