//! BER-TLV, FCP/FCI, access rules, EF.SN and status words: every parser that reads a card's
//! answer byte by byte. Properties: no panic, and what a parse returns lies inside its input.
#![no_main]

use cpx_pkcs11::apdu::tlv::{self, AccessRule, Tlv, TlvIter};
use cpx_pkcs11::apdu::{Fcp, StatusWord, Tag};
use cpx_pkcs11::cpx::serial;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((t, rest)) = Tlv::parse(data) {
        // The value and the rest are sub-slices of the input, value before rest.
        assert!(t.value.len() + rest.len() <= data.len());
        // Re-encoding a parsed element and parsing it again gives the same element.
        let again = tlv::tlv(t.tag, t.value);
        let (u, tail) = Tlv::parse(&again).expect("re-encoded TLV parses");
        assert_eq!((u.tag, u.value), (t.tag, t.value));
        assert!(tail.is_empty());
        for child in t.children().take(64) {
            if child.is_err() {
                break;
            }
        }
        let _ = t.find(Tag(0x83));
    }
    let _ = tlv::parse_all(data);
    let _ = tlv::find_path(data, &[Tag(0x62), Tag(0xA1), Tag(0x8C)]);
    for item in TlvIter::padded(data).take(256) {
        if item.is_err() {
            break;
        }
    }
    let _ = tlv::parse_length(data);
    let _ = Tag::parse(data);
    if let Ok(fcp) = Fcp::parse(data) {
        let _ = (fcp.is_df(), fcp.is_transparent_ef());
    }
    let _ = Fcp::parse_cps2ter(data);
    if let Ok(rule) = AccessRule::parse(data) {
        let _ = rule.amb();
        for bit in [0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01] {
            let _ = rule.scb(bit);
        }
    }
    if data.len() >= 2 {
        let sw = StatusWord::from_bytes(data[0], data[1]);
        assert_eq!(StatusWord::from_u16(sw.to_u16()), sw);
        let _ = sw.pending_bytes();
        let (file, atr) = data.split_at(data.len().min(12));
        let _ = serial::parse_ef_sn(file, atr);
    }
});
