//! Unit tests of the card model: every command and error path, on the committed personas.
//! APDUs are written out in hex as a client would send them.

use super::faults::FaultKind;
use super::profile::{Latency, Profile};
use super::{SimCard, SimFault};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use sha2::Digest;

const SHA256_DI: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

fn h(s: &str) -> Vec<u8> {
    super::profile::Hex::parse(s).unwrap().0
}

fn card(persona: &str) -> SimCard {
    let mut c = SimCard::load(persona).unwrap();
    c.power_on();
    c
}

/// Sends one APDU, returns the raw response.
fn tx(c: &mut SimCard, apdu: &[u8]) -> Vec<u8> {
    c.process(apdu).expect("card answers")
}

fn sw(r: &[u8]) -> u16 {
    u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
}

/// Sends one APDU and follows `61 xx` with GET RESPONSE on the same channel, like a T=0
/// reader driver; returns (data, SW).
fn xfer(c: &mut SimCard, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut r = tx(c, apdu);
    let mut data = Vec::new();
    loop {
        let s = sw(&r);
        data.extend_from_slice(&r[..r.len() - 2]);
        if s >> 8 != 0x61 {
            return (data, s);
        }
        r = tx(c, &[apdu[0] & 0x03, 0xC0, 0x00, 0x00, (s & 0xFF) as u8]);
    }
}

fn apdu(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = h(header);
    v.push(data.len() as u8);
    v.extend_from_slice(data);
    v
}

fn pin(digits: &str) -> Vec<u8> {
    let mut v = digits.as_bytes().to_vec();
    v.resize(8, 0xFF);
    v
}

fn verify_pin(c: &mut SimCard, digits: &str) -> u16 {
    xfer(c, &apdu("00 20 00 01", &pin(digits))).1
}

fn key(c: &SimCard, label: &str) -> RsaPrivateKey {
    let p: &Profile = c.profile();
    let k = p.key.iter().find(|k| k.label == label).unwrap();
    RsaPrivateKey::from_pkcs8_der(&p.read_blob(&k.file).unwrap()).unwrap()
}

fn public(c: &SimCard, label: &str) -> RsaPublicKey {
    key(c, label).to_public_key()
}

// ---------------------------------------------------------------- CPS3: selection, files

#[test]
fn mf_by_aid_answers_the_real_fcp_through_get_response() {
    let mut c = card("cps3-doctor");
    let r = tx(&mut c, &h("00 A4 04 04 08 80 25 00 00 01 FF 01 00"));
    assert_eq!(r, h("61 20"));
    let r = tx(&mut c, &h("00 C0 00 00 20"));
    assert_eq!(
        r,
        h("62 1E 82 01 38 83 02 3F 00 84 08 80 25 00 00 01 FF 01 00 A1 08 8C 06 7A FF FF FF FF 45 8A 01 05 90 00")
    );
    // P2=00: 90 00 without data (§5.5 #12).
    assert_eq!(
        tx(&mut c, &h("00 A4 04 00 08 80 25 00 00 01 FF 01 00")),
        h("90 00")
    );
}

#[test]
fn ef_atr_fcp_and_content_are_the_real_ones() {
    let mut c = card("cps3-doctor");
    let r = tx(&mut c, &h("00 A4 09 04 04 3F 00 2F 01"));
    assert_eq!(r, h("61 27"));
    let (fcp, s) = xfer(&mut c, &h("00 C0 00 00 27"));
    assert_eq!(s, 0x9000);
    assert_eq!(
        fcp,
        h("62 25 80 02 00 39 82 01 01 83 02 2F 01 88 01 E8 A1 12 8C 07 7B 45 FF FF FF 45 00 9C 07 7B FF FF FF FF FF 00 8A 01 05")
    );
    let r = tx(&mut c, &h("00 B0 00 00 39"));
    assert_eq!(sw(&r), 0x9000);
    assert_eq!(r.len(), 57 + 2);
    assert_eq!(&r[..4], &h("80 43 01 B8")[..]);
}

#[test]
fn get_response_pieces_and_wrong_le() {
    let mut c = card("cps3-doctor");
    assert_eq!(tx(&mut c, &h("00 A4 09 04 04 3F 00 2F 01")), h("61 27"));
    // Asking for more than is there: 6C with the exact length.
    assert_eq!(tx(&mut c, &h("00 C0 00 00 30")), h("6C 27"));
    // A part: 61 with what remains.
    let r = tx(&mut c, &h("00 C0 00 00 10"));
    assert_eq!((r.len(), sw(&r)), (0x12, 0x6117));
    let r = tx(&mut c, &h("00 C0 00 00 17"));
    assert_eq!((r.len(), sw(&r)), (0x19, 0x9000));
    // Nothing left.
    assert_eq!(sw(&tx(&mut c, &h("00 C0 00 00 10"))), 0x6985);
    // Another command discards a pending answer.
    assert_eq!(tx(&mut c, &h("00 A4 09 04 04 3F 00 2F 01")), h("61 27"));
    assert_eq!(sw(&tx(&mut c, &h("00 84 00 00 08"))), 0x9000);
    assert_eq!(sw(&tx(&mut c, &h("00 C0 00 00 27"))), 0x6985);
}

#[test]
fn selection_quirks() {
    let mut c = card("cps3-doctor");
    // MF by path: 90 00, no FCP (§5.5 #12).
    assert_eq!(tx(&mut c, &h("00 A4 09 04 02 3F 00")), h("90 00"));
    // A path without the leading 3F00 from the MF: 6A 82 (§5.5 #14).
    assert_eq!(tx(&mut c, &h("00 A4 09 04 02 2F 00")), h("6A 82"));
    // SELECT by file ID with P2=00 refused (§5.5 #13), P2=04 works.
    assert_eq!(tx(&mut c, &h("00 A4 02 00 02 2F 00")), h("6A 86"));
    assert_eq!(sw(&tx(&mut c, &h("00 A4 02 04 02 2F 00"))) >> 8, 0x61);
    // MF by file ID from anywhere.
    assert_eq!(sw(&tx(&mut c, &h("00 A4 09 0C 04 3F 00 00 01"))), 0x9000);
    assert_eq!(sw(&tx(&mut c, &h("00 A4 02 04 02 3F 00"))) >> 8, 0x61);
    // Relative path from the application DF.
    assert_eq!(
        sw(&tx(
            &mut c,
            &h("00 A4 04 04 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10")
        )) >> 8,
        0x61
    );
    assert_eq!(sw(&tx(&mut c, &h("00 A4 09 04 02 50 31"))) >> 8, 0x61);
    assert_eq!(sw(&tx(&mut c, &h("00 A4 02 0C 02 50 32"))), 0x9000);
    // Parent DF, unknown file, bad P2, odd path.
    assert_eq!(sw(&tx(&mut c, &h("00 A4 03 0C"))), 0x9000);
    assert_eq!(tx(&mut c, &h("00 A4 09 04 04 3F 00 12 34")), h("6A 82"));
    assert_eq!(tx(&mut c, &h("00 A4 09 07 02 3F 00")), h("6A 86"));
    assert_eq!(tx(&mut c, &h("00 A4 09 04 03 3F 00 01")), h("67 00"));
    // The contactless application is not selectable over the contact interface.
    assert_eq!(
        tx(
            &mut c,
            &h("00 A4 04 04 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 20")
        ),
        h("6A 82")
    );
}

#[test]
fn read_binary_by_sfi_limits_and_errors() {
    let mut c = card("cps3-doctor");
    assert_eq!(
        tx(&mut c, &h("00 A4 04 0C 08 80 25 00 00 01 FF 01 00")),
        h("90 00")
    );
    // OpenSC reads EF.SN by SFI 1C asking for C0 bytes: 6C 0C, then the exact read.
    assert_eq!(tx(&mut c, &h("00 B0 9C 00 C0")), h("6C 0C"));
    let r = tx(&mut c, &h("00 B0 9C 00 0C"));
    assert_eq!(sw(&r), 0x9000);
    assert_eq!(&r[..7], &h("5A 0A 80 25 00 00 01")[..]);
    // No current EF after selecting a DF.
    assert_eq!(tx(&mut c, &h("00 A4 09 0C 02 3F 00")), h("90 00"));
    assert_eq!(tx(&mut c, &h("00 B0 00 00 10")), h("69 86"));
    // Offset past the end.
    tx(&mut c, &h("00 A4 09 0C 04 3F 00 D0 03"));
    assert_eq!(tx(&mut c, &h("00 B0 00 20 01")), h("6B 00"));
    // A certificate larger than E7 bytes is served E7 bytes at a time.
    let cert = find_cert_path(&c);
    tx(&mut c, &apdu("00 A4 09 0C", &path_bytes(&cert)));
    assert_eq!(tx(&mut c, &h("00 B0 00 00 00")), h("6C E7"));
    let r = tx(&mut c, &h("00 B0 00 00 E7"));
    assert_eq!((r.len(), sw(&r)), (0xE7 + 2, 0x9000));
    assert_eq!(r[0], 0x30);
}

/// The ISO path of the first certificate file of the contact application.
fn find_cert_path(c: &SimCard) -> String {
    c.profile()
        .file
        .iter()
        .map(|f| f.path.clone())
        .find(|p| {
            c.file_content(p)
                .is_some_and(|d| d.len() > 0x300 && d[0] == 0x30 && p.starts_with("3F00/0001/"))
        })
        .expect("a certificate file")
}

fn path_bytes(path: &str) -> Vec<u8> {
    super::fs::parse_path(path)
        .unwrap()
        .iter()
        .flat_map(|f| f.to_be_bytes())
        .collect()
}

// ---------------------------------------------------------------- CPS3: SDOs

#[test]
fn chv_docp_is_the_real_answer_with_live_counter() {
    let mut c = card("cps3-doctor");
    tx(&mut c, &h("00 A4 09 0C 02 3F 00"));
    let get_docp = h("00 CB 3F FF 0A 4D 08 70 06 BF 81 01 02 A0 80 00");
    let (d, s) = xfer(&mut c, &get_docp);
    assert_eq!(s, 0x9000);
    assert_eq!(
        d,
        h("70 16 BF 81 01 12 A0 10 9A 01 03 9B 01 03 A1 08 8C 06 F3 00 00 13 FF 00")
    );
    assert_eq!(verify_pin(&mut c, "0000"), 0x63C2);
    let (d, _) = xfer(&mut c, &get_docp);
    assert_eq!(d[13], 0x02, "9B follows the counter");
    // Public-part probe: 6A 86 [assume]; PUK DOCP carries the usage counter 9D.
    assert_eq!(
        xfer(
            &mut c,
            &h("00 CB 3F FF 0B 4D 09 70 07 BF 81 01 03 7F 41 80 00")
        )
        .1,
        0x6A86
    );
    let (d, _) = xfer(
        &mut c,
        &h("00 CB 3F FF 0A 4D 08 70 06 BF 81 02 02 A0 80 00"),
    );
    assert!(d.windows(4).any(|w| w == [0x9D, 0x02, 0x00, 0x64]));
    // Not from the application DF (§5.5 #11).
    tx(&mut c, &h("00 A4 09 0C 04 3F 00 00 01"));
    assert_eq!(xfer(&mut c, &get_docp).1, 0x6A88);
    // Malformed header list.
    assert_eq!(xfer(&mut c, &h("00 CB 3F FF 03 4D 01 70")).1, 0x6A80);
    assert_eq!(xfer(&mut c, &h("00 CB 00 00 03 4D 01 70")).1, 0x6A86);
}

#[test]
fn se_and_key_sdos_need_their_df() {
    let mut c = card("cps3-doctor");
    let get_se = h("00 CB 3F FF 0A 4D 08 70 06 BF FB 03 02 7B 80 00");
    let get_key = h("00 CB 3F FF 0A 4D 08 70 06 BF 90 02 02 A0 80 00");
    tx(&mut c, &h("00 A4 09 0C 04 3F 00 00 01"));
    assert_eq!(xfer(&mut c, &get_se).1, 0x6A88, "§5.5 #10");
    let (d, s) = xfer(&mut c, &get_key);
    assert_eq!(s, 0x9000);
    assert!(
        d.windows(4).any(|w| w == [0x80, 0x02, 0x01, 0x00]),
        "modulus 256 bytes"
    );
    assert_eq!(
        xfer(
            &mut c,
            &h("00 CB 3F FF 0B 4D 09 70 07 BF 90 02 03 7F 48 80 00")
        )
        .1,
        0x6A86
    );
    tx(&mut c, &h("00 A4 09 0C 02 3F 00"));
    assert_eq!(xfer(&mut c, &get_key).1, 0x6A88, "§5.5 #11");
    let (d, s) = xfer(&mut c, &get_se);
    assert_eq!(s, 0x9000);
    assert!(d
        .windows(8)
        .any(|w| w == h("A4 06 83 01 02 95 01 08").as_slice()));
    assert_eq!(
        xfer(
            &mut c,
            &h("00 CB 3F FF 0A 4D 08 70 06 BF FB 09 02 7B 80 00")
        )
        .1,
        0x6A88
    );
}

// ---------------------------------------------------------------- CPS3: PIN and PUK

#[test]
fn verify_counts_tries_and_blocks() {
    let mut c = card("cps3-doctor");
    assert_eq!(tx(&mut c, &h("00 20 00 01")), h("63 C3"));
    assert_eq!(verify_pin(&mut c, "1111"), 0x63C2);
    assert_eq!(c.chv_status(1).unwrap().0, 2);
    // A good PIN resets the counter; the status query then says verified.
    assert_eq!(verify_pin(&mut c, "1234"), 0x9000);
    assert_eq!(c.chv_status(1).unwrap().0, 3);
    assert_eq!(tx(&mut c, &h("00 20 00 01")), h("90 00"));
    // Wrong length costs nothing [assume].
    assert_eq!(tx(&mut c, &apdu("00 20 00 01", b"1234")), h("67 00"));
    assert_eq!(c.chv_status(1).unwrap().0, 3);
    // Three wrong values: 63 C2, 63 C1, 63 C0, then blocked.
    assert_eq!(verify_pin(&mut c, "1111"), 0x63C2);
    assert!(!c.chv_verified(1));
    assert_eq!(verify_pin(&mut c, "1111"), 0x63C1);
    assert_eq!(verify_pin(&mut c, "1111"), 0x63C0);
    assert_eq!(verify_pin(&mut c, "1234"), 0x6983);
    assert_eq!(tx(&mut c, &h("00 20 00 01")), h("69 83"));
    assert_eq!(c.chv_status(1).unwrap().0, 0);
    // Unknown reference, bad P1.
    assert_eq!(tx(&mut c, &h("00 20 00 05")), h("6A 88"));
    assert_eq!(tx(&mut c, &h("00 20 01 01")), h("6A 86"));
}

#[test]
fn counters_persist_across_reset_but_the_security_status_does_not() {
    let mut c = card("cps3-doctor");
    assert_eq!(verify_pin(&mut c, "9999"), 0x63C2);
    assert_eq!(verify_pin(&mut c, "1234"), 0x9000);
    assert_eq!(verify_pin(&mut c, "9999"), 0x63C2);
    c.power_off();
    assert_eq!(c.process(&h("00 20 00 01")), Err(SimFault::Unpowered));
    c.power_on();
    assert_eq!(tx(&mut c, &h("00 20 00 01")), h("63 C2"));
    assert_eq!(verify_pin(&mut c, "1234"), 0x9000);
    c.reset();
    assert_eq!(tx(&mut c, &h("00 20 00 01")), h("63 C3"));
    // Selecting the MF AID resets the security status [assume §14 #7].
    assert_eq!(verify_pin(&mut c, "1234"), 0x9000);
    tx(&mut c, &h("00 A4 04 0C 08 80 25 00 00 01 FF 01 00"));
    assert_eq!(tx(&mut c, &h("00 20 00 01")), h("63 C3"));
}

#[test]
fn blocked_persona_is_blocked_and_unblocks_with_the_puk() {
    let mut c = card("cps3-pharmacist-blocked");
    assert_eq!(tx(&mut c, &h("00 20 00 01")), h("69 83"));
    assert_eq!(verify_pin(&mut c, "1234"), 0x6983);
    // RESET RETRY COUNTER needs the PUK first (SCB 13 = SE #3 = CHV 2).
    assert_eq!(tx(&mut c, &apdu("00 2C 02 01", &pin("4321"))), h("69 82"));
    assert_eq!(tx(&mut c, &apdu("00 20 00 02", b"00000000")), h("63 C9"));
    assert_eq!(tx(&mut c, &apdu("00 20 00 02", b"12345678")), h("90 00"));
    assert_eq!(tx(&mut c, &apdu("00 2C 01 01", &pin("4321"))), h("6A 86"));
    assert_eq!(tx(&mut c, &apdu("00 2C 02 01", &pin("4321"))), h("90 00"));
    let (tries, max, _) = c.chv_status(1).unwrap();
    assert_eq!(tries, max);
    let usage = c.chv_status(2).unwrap().2.unwrap();
    assert_eq!(usage, 99);
    assert!(!c.chv_verified(1));
    assert_eq!(verify_pin(&mut c, "1234"), 0x63C2);
    assert_eq!(verify_pin(&mut c, "4321"), 0x9000);
}

#[test]
fn unblock_with_puk_and_new_pin_in_one_command_and_exhausted_usage() {
    let mut p = Profile::load("cps3-doctor").unwrap();
    let mut c = SimCard::from_profile(p.clone()).unwrap();
    c.power_on();
    let mut data = b"12345678".to_vec();
    data.extend_from_slice(&pin("5678"));
    assert_eq!(tx(&mut c, &apdu("00 2C 00 01", &data)), h("90 00"));
    assert_eq!(verify_pin(&mut c, "5678"), 0x9000);
    // A wrong PUK in that form costs a PUK try.
    let mut bad = b"87654321".to_vec();
    bad.extend_from_slice(&pin("5678"));
    assert_eq!(tx(&mut c, &apdu("00 2C 00 01", &bad)), h("63 C9"));
    // A card whose PUK usage counter is exhausted stays blocked (§14 #8).
    for chv in &mut p.chv {
        if chv.reference == 2 {
            chv.usage_left = Some(0);
        }
    }
    let mut c = SimCard::from_profile(p).unwrap();
    c.power_on();
    assert_eq!(tx(&mut c, &apdu("00 20 00 02", b"12345678")), h("90 00"));
    assert_eq!(tx(&mut c, &apdu("00 2C 02 01", &pin("4321"))), h("69 83"));
}

#[test]
fn change_reference_data() {
    let mut c = card("cps3-doctor");
    let mut data = pin("0000");
    data.extend_from_slice(&pin("4321"));
    assert_eq!(tx(&mut c, &apdu("00 24 00 01", &data)), h("63 C2"));
    let mut data = pin("1234");
    data.extend_from_slice(&pin("4321"));
    assert_eq!(tx(&mut c, &apdu("00 24 00 01", &data)), h("90 00"));
    assert_eq!(c.chv_status(1).unwrap().0, 3);
    c.reset();
    assert_eq!(verify_pin(&mut c, "1234"), 0x63C2);
    assert_eq!(verify_pin(&mut c, "4321"), 0x9000);
    // CPS3 has no "new value only" form; the PUK cannot be changed (SCB FF).
    assert_eq!(tx(&mut c, &apdu("00 24 01 01", &pin("1234"))), h("6A 86"));
    assert_eq!(tx(&mut c, &apdu("00 24 00 02", &[0x30; 16])), h("69 82"));
    assert_eq!(tx(&mut c, &apdu("00 24 00 01", &pin("4321"))), h("67 00"));
}

// ---------------------------------------------------------------- CPS3: MSE and crypto

fn sha256(m: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(m).to_vec()
}

fn digest_info(m: &[u8]) -> Vec<u8> {
    [SHA256_DI.to_vec(), sha256(m)].concat()
}

/// SHA-256 state after the whole 64-byte blocks of `m` (the client's share of the work).
fn sha256_state(m: &[u8]) -> Vec<u8> {
    let mut st: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let blocks: Vec<_> = m
        .chunks_exact(64)
        .map(|c| *sha2::digest::generic_array::GenericArray::from_slice(c))
        .collect();
    sha2::compress256(&mut st, &blocks);
    st.iter().flat_map(|w| w.to_be_bytes()).collect()
}

#[test]
fn mse_accepts_both_tlv_orders_and_rejects_bad_templates() {
    let mut c = card("cps3-doctor");
    for m in [
        "00 22 41 A4 06 84 01 82 80 01 02",
        "00 22 41 A4 06 80 01 02 84 01 82",
        "00 22 41 B6 06 84 01 81 80 01 42",
        "00 22 41 B6 06 80 01 12 84 01 81",
        "00 22 41 B8 06 84 01 82 80 01 1A",
        "00 22 41 AA 03 80 01 40",
        "00 22 F3 03",
    ] {
        assert_eq!(tx(&mut c, &h(m)), h("90 00"), "{m}");
    }
    assert_eq!(
        tx(&mut c, &h("00 22 41 B6 06 84 01 81 80 01 02")),
        h("6A 80"),
        "bad algorithm"
    );
    assert_eq!(
        tx(&mut c, &h("00 22 41 B6 06 84 01 82 80 01 42")),
        h("6A 80"),
        "AUT cannot CDS"
    );
    assert_eq!(
        tx(&mut c, &h("00 22 41 B6 06 84 01 85 80 01 42")),
        h("6A 88"),
        "no such key"
    );
    assert_eq!(tx(&mut c, &h("00 22 41 B7 03 80 01 42")), h("6A 86"));
    assert_eq!(tx(&mut c, &h("00 22 41 B6 03 99 01 42")), h("6A 80"));
}

#[test]
fn partial_hash_signature_in_both_client_orders() {
    let msg: Vec<u8> = (0..100u8).collect();
    let expected_hash = sha256(&msg);
    for opensc_order in [true, false] {
        let mut c = card("cps3-doctor");
        assert_eq!(verify_pin(&mut c, "1234"), 0x9000);
        let mut hash_data = h("90 28");
        hash_data.extend_from_slice(&sha256_state(&msg[..64]));
        hash_data.extend_from_slice(&512u64.to_be_bytes());
        hash_data.extend_from_slice(&[0x80, 36]);
        hash_data.extend_from_slice(&msg[64..]);
        let ht = h("00 22 41 AA 03 80 01 40");
        let dst = h("00 22 41 B6 06 84 01 81 80 01 42");
        let pso_hash = apdu("00 2A 90 A0", &hash_data);
        let order = if opensc_order {
            [ht, dst, pso_hash]
        } else {
            [ht, pso_hash, dst]
        };
        for a in order {
            assert_eq!(tx(&mut c, &a), h("90 00"));
        }
        let r = tx(&mut c, &h("00 2A 9E 9A 00"));
        assert_eq!(r.len(), 258);
        assert_eq!(sw(&r), 0x9000);
        public(&c, "CPS_PRIV_SIG")
            .verify(
                Pkcs1v15Sign::new::<sha2::Sha256>(),
                &expected_hash,
                &r[..256],
            )
            .expect("signature verifies");
        // The digest is consumed.
        assert_eq!(tx(&mut c, &h("00 2A 9E 9A 00")), h("69 85"));
    }
}

#[test]
fn short_message_and_hash_only_signatures() {
    let mut c = card("cps3-doctor");
    verify_pin(&mut c, "1234");
    // Cryptolib style for a message ≤ 64 bytes: 90 00 80 L message.
    tx(&mut c, &h("00 22 41 AA 03 80 01 10"));
    tx(&mut c, &h("00 22 41 B6 06 80 01 12 84 01 81"));
    let mut data = h("90 00 80 05");
    data.extend_from_slice(b"hello");
    assert_eq!(tx(&mut c, &apdu("00 2A 90 A0", &data)), h("90 00"));
    let r = tx(&mut c, &h("00 2A 9E 9A 00"));
    public(&c, "CPS_PRIV_SIG")
        .verify(
            Pkcs1v15Sign::new::<sha1::Sha1>(),
            &sha1::Sha1::digest(b"hello"),
            &r[..256],
        )
        .unwrap();
    // Hash supplied whole with PSO CDS (T=0: case 4 → 61 00).
    tx(&mut c, &h("00 22 41 B6 06 80 01 42 84 01 81"));
    let hash = sha256(b"document");
    let (sig, s) = xfer(&mut c, &apdu("00 2A 9E 9A", &hash));
    assert_eq!(s, 0x9000);
    public(&c, "CPS_PRIV_SIG")
        .verify(Pkcs1v15Sign::new::<sha2::Sha256>(), &hash, &sig)
        .unwrap();
    // Wrong hash length for the algorithm.
    assert_eq!(tx(&mut c, &apdu("00 2A 9E 9A", &hash[..20])), h("6A 80"));
    // Bad partial-hash inputs.
    assert_eq!(
        tx(&mut c, &apdu("00 2A 90 A0", &h("90 03 01 02 03 80 00"))),
        h("6A 80")
    );
    assert_eq!(
        tx(
            &mut c,
            &apdu("00 2A 90 A0", &[&h("90 00 80 41")[..], &[0u8; 65]].concat())
        ),
        h("6A 80")
    );
}

#[test]
fn signing_needs_the_pin_and_a_security_environment() {
    let mut c = card("cps3-doctor");
    assert_eq!(tx(&mut c, &h("00 2A 9E 9A 00")), h("69 85"), "no DST");
    tx(&mut c, &h("00 22 41 B6 06 80 01 42 84 01 81"));
    assert_eq!(
        tx(&mut c, &apdu("00 2A 9E 9A", &sha256(b"x"))),
        h("69 82"),
        "no PIN"
    );
    tx(&mut c, &h("00 22 41 A4 06 80 01 02 84 01 82"));
    assert_eq!(
        tx(&mut c, &apdu("00 88 00 00", &digest_info(b"x"))),
        h("69 82")
    );
    assert_eq!(tx(&mut c, &h("00 2A 84 80 00")), h("6A 86"));
}

#[test]
fn internal_authenticate_signs_a_digest_info() {
    let mut c = card("cps3-doctor");
    verify_pin(&mut c, "1234");
    assert_eq!(
        tx(&mut c, &h("00 22 41 A4 06 84 01 82 80 01 02")),
        h("90 00")
    );
    let di = digest_info(b"tls handshake");
    let r = tx(&mut c, &apdu("00 88 00 00", &di));
    assert_eq!(r, h("61 00"));
    let r = tx(&mut c, &h("00 C0 00 00 00"));
    assert_eq!((r.len(), sw(&r)), (258, 0x9000));
    public(&c, "CPS_PRIV_AUT")
        .verify(Pkcs1v15Sign::new_unprefixed(), &di, &r[..256])
        .unwrap();
    // Over 40 % of the modulus: 67 00.
    assert_eq!(tx(&mut c, &apdu("00 88 00 00", &[0x55; 103])), h("67 00"));
    assert_eq!(tx(&mut c, &apdu("00 88 00 01", &di)), h("6A 86"));
}

#[test]
fn decipher_with_command_chaining() {
    let mut c = card("cps3-doctor");
    verify_pin(&mut c, "1234");
    let pk = public(&c, "CPS_PRIV_AUT");
    let secret = b"session key material".to_vec();
    let ct = pk
        .encrypt(&mut rand_core::OsRng, Pkcs1v15Encrypt, &secret)
        .unwrap();
    assert_eq!(
        tx(&mut c, &h("00 22 41 B8 06 80 01 1A 84 01 82")),
        h("90 00")
    );
    let mut first = h("10 2A 80 86 FF 81");
    first.extend_from_slice(&ct[..254]);
    assert_eq!(tx(&mut c, &first), h("90 00"));
    let (plain, s) = xfer(&mut c, &apdu("00 2A 80 86", &ct[254..]));
    assert_eq!(s, 0x9000);
    assert_eq!(plain, secret);
    // The plaintext never reaches the trace (it came through GET RESPONSE).
    assert!(
        !c.trace().render().contains("73 65 73 73 69 6F 6E"),
        "plaintext traced"
    );
    // Bad padding: 6A 80 [assume]. A raw value that is not PKCS#1 type 2:
    let raw = rsa::BigUint::from_bytes_be(&[0x42; 200]);
    let bad = raw.modpow(pk.e(), pk.n()).to_bytes_be();
    let mut bad = [vec![0u8; 256 - bad.len()], bad].concat();
    bad.insert(0, 0x81);
    tx(&mut c, &apdu("10 2A 80 86", &bad[..255]));
    assert_eq!(tx(&mut c, &apdu("00 2A 80 86", &bad[255..])), h("6A 80"));
    // A chain interrupted by another command.
    tx(&mut c, &apdu("10 2A 80 86", &bad[..255]));
    assert_eq!(tx(&mut c, &h("00 84 00 00 08")), h("68 83"));
    // Chaining an INS that does not support it.
    assert_eq!(tx(&mut c, &h("10 A4 09 04 02 3F 00")), h("68 84"));
}

#[test]
fn get_challenge_and_unsupported() {
    let mut c = card("cps3-doctor");
    let a = tx(&mut c, &h("00 84 00 00 08"));
    let b = tx(&mut c, &h("00 84 00 00 08"));
    assert_eq!((a.len(), sw(&a)), (10, 0x9000));
    assert_ne!(a, b);
    assert_eq!(tx(&mut c, &h("00 84 00 00 10")), h("67 00"));
    assert_eq!(tx(&mut c, &h("00 FF 00 00")), h("6D 00"));
    assert_eq!(tx(&mut c, &h("80 A4 00 00")), h("6E 00"));
    // No logical channels on CPS3.
    assert_eq!(tx(&mut c, &h("00 70 00 00 01")), h("68 81"));
    assert_eq!(tx(&mut c, &h("01 A4 09 04 02 3F 00")), h("68 81"));
    assert_eq!(tx(&mut c, &h("00 A4")), h("67 00"));
}

#[test]
fn update_binary_needs_the_pin() {
    let mut c = card("cps3-doctor");
    let path = c
        .profile()
        .file
        .iter()
        .find(|f| f.size.is_some() && f.path.starts_with("3F00/0001/"))
        .expect("CPS_DATA has a fixed size")
        .path
        .clone();
    tx(&mut c, &apdu("00 A4 09 0C", &path_bytes(&path)));
    assert_eq!(tx(&mut c, &h("00 D6 00 00 03 01 02 03")), h("69 82"));
    verify_pin(&mut c, "1234");
    tx(&mut c, &apdu("00 A4 09 0C", &path_bytes(&path)));
    assert_eq!(tx(&mut c, &h("00 D6 00 00 03 01 02 03")), h("90 00"));
    assert_eq!(&c.file_content(&path).unwrap()[..3], &[1, 2, 3]);
    let size = c.file_content(&path).unwrap().len();
    let off = (size - 1) as u16;
    let mut beyond = vec![0x00, 0xD6, (off >> 8) as u8, off as u8, 0x02, 9, 9];
    assert_eq!(tx(&mut c, &beyond), h("67 00"));
    beyond[2] = 0x7F;
    assert_eq!(tx(&mut c, &beyond), h("6B 00"));
}

// ---------------------------------------------------------------- CPS3 contactless

#[test]
fn contactless_token_signs_without_pin() {
    let mut c = card("cps3-contactless");
    assert_eq!(
        tx(&mut c, &h("00 20 00 01")),
        h("6A 88"),
        "no PIN on the contactless side"
    );
    let (_, s) = xfer(
        &mut c,
        &h("00 A4 04 04 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 20"),
    );
    assert_eq!(s, 0x9000);
    assert_eq!(tx(&mut c, &h("00 22 41 A4 03 80 01 02")), h("90 00"));
    let di = digest_info(b"badge");
    let (sig, s) = xfer(&mut c, &apdu("00 88 00 00", &di));
    assert_eq!(s, 0x9000);
    public(&c, "CPS_PRIV_TECH_AUT")
        .verify(Pkcs1v15Sign::new_unprefixed(), &di, &sig)
        .unwrap();
    // The contact application's files are not readable over contactless.
    let contact_file = c
        .profile()
        .file
        .iter()
        .find(|f| f.path.starts_with("3F00/0001/"))
        .map(|f| f.path.clone());
    if let Some(p) = contact_file {
        tx(&mut c, &apdu("00 A4 09 0C", &path_bytes(&p)));
        assert_eq!(tx(&mut c, &h("00 B0 00 00 01")), h("69 82"));
    }
    // EF.ATR is readable (9C READ 00).
    tx(&mut c, &h("00 A4 09 0C 04 3F 00 2F 01"));
    assert_eq!(sw(&tx(&mut c, &h("00 B0 00 00 39"))), 0x9000);
    assert_eq!(
        tx(&mut c, &h("A0 A4 00 00 02 3F 00")),
        h("6E 00"),
        "no CPS2ter volet"
    );
}

// ---------------------------------------------------------------- CPS4

#[test]
fn cps4_chipdoc_lives_on_channel_1() {
    let mut c = card("cps4-nurse");
    // Channel 1 is closed after a reset: a non-SELECT command is refused.
    assert_eq!(tx(&mut c, &h("01 B0 00 00 0C")), h("68 81"));
    assert_eq!(
        tx(&mut c, &h("01 A4 04 0C 08 80 25 00 00 01 FF 01 00")),
        h("90 00")
    );
    let r = tx(&mut c, &h("01 A4 08 00 02 D0 03 00"));
    assert_eq!(sw(&r), 0x9000, "T=1: the FCI comes directly");
    assert_eq!(r[0], 0x62);
    let r = tx(&mut c, &h("01 B0 00 00 0C"));
    assert_eq!((r.len(), &r[..3]), (14, &h("5A 0A 80")[..]));
    assert_eq!(sw(&tx(&mut c, &h("01 A4 00 0C 02 3F 00"))), 0x9000);
    // No INTERNAL AUTHENTICATE, no PSO HASH.
    assert_eq!(tx(&mut c, &h("01 88 00 00 02 01 02")), h("6D 00"));
    assert_eq!(tx(&mut c, &h("01 2A 90 A0 02 90 00")), h("6A 86"));
}

#[test]
fn cps4_69_85_and_the_reselection_sequence() {
    let mut c = card("cps4-nurse");
    // Channel 1 opened by MANAGE CHANNEL but no applet selected: 69 85.
    assert_eq!(tx(&mut c, &h("00 70 00 01")), h("90 00"));
    assert_eq!(tx(&mut c, &h("01 20 00 01")), h("69 85"));
    // The Cryptolib's recovery: ISD (ch 1), CPS2ter applet (ch 0), ChipDoc (ch 1).
    assert_eq!(
        tx(&mut c, &h("01 A4 04 0C 07 A0 00 00 01 51 00 00")),
        h("90 00")
    );
    assert_eq!(
        tx(&mut c, &h("01 20 00 01")),
        h("6D 00"),
        "the ISD does not know VERIFY"
    );
    assert_eq!(
        tx(&mut c, &h("00 A4 04 0C 08 80 25 00 00 01 FF 00 02")),
        h("90 00")
    );
    assert_eq!(
        tx(&mut c, &h("01 A4 04 0C 08 80 25 00 00 01 FF 01 00")),
        h("90 00")
    );
    assert_eq!(tx(&mut c, &h("01 20 00 01")), h("63 C3"));
    // MANAGE CHANNEL: card-assigned channel, close, errors.
    let r = tx(&mut c, &h("00 70 00 00 01"));
    assert_eq!(r, h("02 90 00"));
    assert_eq!(tx(&mut c, &h("00 70 80 02")), h("90 00"));
    assert_eq!(tx(&mut c, &h("00 70 80 02")), h("6A 86"));
    assert_eq!(tx(&mut c, &h("00 70 00 01")), h("6A 86"), "already open");
    // A fault injected at the next APDU answers 69 85 too.
    c.inject(1, FaultKind::Status(0x6985));
    assert_eq!(tx(&mut c, &h("01 20 00 01")), h("69 85"));
    assert_eq!(tx(&mut c, &h("01 20 00 01")), h("63 C3"));
}

fn cps4_ready() -> SimCard {
    let mut c = card("cps4-nurse");
    assert_eq!(
        tx(&mut c, &h("01 A4 04 0C 08 80 25 00 00 01 FF 01 00")),
        h("90 00")
    );
    c
}

#[test]
fn cps4_signatures_pkcs1_and_pss() {
    let mut c = cps4_ready();
    assert_eq!(tx(&mut c, &h("01 20 00 01")), h("63 C3"));
    assert_eq!(tx(&mut c, &apdu("01 20 00 01", &pin("1234"))), h("90 00"));
    let hash = sha256(b"ordonnance");
    // Signature key, PKCS#1 v1.5 SHA-256 (algorithm 28), key 10 | 80.
    assert_eq!(tx(&mut c, &h("01 22 81 B6 04 91 02 28 90")), h("90 00"));
    let r = tx(&mut c, &[apdu("01 2A 9E 9A", &hash), vec![0x00]].concat());
    assert_eq!(sw(&r), 0x9000);
    public(&c, "CPS_PRIV_SIG")
        .verify(Pkcs1v15Sign::new::<sha2::Sha256>(), &hash, &r[..256])
        .unwrap();
    // Authentication key, PSS SHA-256 (algorithm 2C), key 20 | 80.
    assert_eq!(tx(&mut c, &h("01 22 81 B6 04 91 02 2C A0")), h("90 00"));
    let r = tx(&mut c, &apdu("01 2A 9E 9A", &hash));
    public(&c, "CPS_PRIV_AUT")
        .verify(Pss::new::<sha2::Sha256>(), &hash, &r[..256])
        .unwrap();
    // PSS SHA-1 (15).
    let h1 = sha1::Sha1::digest(b"x").to_vec();
    assert_eq!(tx(&mut c, &h("01 22 81 B6 04 91 02 15 A0")), h("90 00"));
    let r = tx(&mut c, &apdu("01 2A 9E 9A", &h1));
    public(&c, "CPS_PRIV_AUT")
        .verify(Pss::new::<sha1::Sha1>(), &h1, &r[..256])
        .unwrap();
    // Unsupported algorithm IDs and wrong hash lengths.
    assert_eq!(tx(&mut c, &h("01 22 81 B6 04 91 02 2D A0")), h("6A 80"));
    assert_eq!(tx(&mut c, &apdu("01 2A 9E 9A", &hash)), h("6A 80"));
}

#[test]
fn cps4_raw_decipher_for_signature_and_decryption() {
    let mut c = cps4_ready();
    let sk = key(&c, "CPS_PRIV_AUT");
    assert_eq!(tx(&mut c, &h("01 22 41 B8 03 83 01 20")), h("90 00"));
    // Not logged in.
    let block = vec![0x11u8; 256];
    tx(&mut c, &apdu("11 2A 80 86", &block[..255]));
    assert_eq!(
        tx(
            &mut c,
            &[apdu("01 2A 80 86", &block[255..]), vec![0]].concat()
        ),
        h("69 82")
    );
    tx(&mut c, &apdu("01 20 00 01", &pin("1234")));
    // The host pads a DigestInfo (type 1) and the card does raw RSA: a PKCS#1 signature.
    let di = digest_info(b"client auth");
    let mut padded = vec![0x00, 0x01];
    padded.resize(256 - di.len() - 1, 0xFF);
    padded.push(0x00);
    padded.extend_from_slice(&di);
    assert_eq!(tx(&mut c, &apdu("11 2A 80 86", &padded[..255])), h("90 00"));
    let r = tx(
        &mut c,
        &[apdu("01 2A 80 86", &padded[255..]), vec![0]].concat(),
    );
    assert_eq!((r.len(), sw(&r)), (258, 0x9000));
    sk.to_public_key()
        .verify(Pkcs1v15Sign::new_unprefixed(), &di, &r[..256])
        .unwrap();
    // Decryption: the card returns the padded block, the host strips it.
    let ct = sk
        .to_public_key()
        .encrypt(&mut rand_core::OsRng, Pkcs1v15Encrypt, b"secret")
        .unwrap();
    tx(&mut c, &apdu("11 2A 80 86", &ct[..255]));
    let r = tx(&mut c, &apdu("01 2A 80 86", &ct[255..]));
    assert_eq!(&r[r.len() - 8..r.len() - 2], b"secret");
    assert_eq!(&r[..2], &[0x00, 0x02]);
    // MSE forms ChipDoc does not know.
    assert_eq!(
        tx(&mut c, &h("01 22 41 A4 06 80 01 02 84 01 82")),
        h("6A 80")
    );
}

#[test]
fn cps4_pin_change_and_unblock_forms() {
    let mut c = cps4_ready();
    // New value only (P1=01) needs a verified PIN.
    assert_eq!(tx(&mut c, &apdu("01 24 01 01", &pin("2468"))), h("69 82"));
    tx(&mut c, &apdu("01 20 00 01", &pin("1234")));
    assert_eq!(tx(&mut c, &apdu("01 24 01 01", &pin("2468"))), h("90 00"));
    for _ in 0..3 {
        tx(&mut c, &apdu("01 20 00 01", &pin("0000")));
    }
    assert_eq!(tx(&mut c, &h("01 20 00 01")), h("69 83"));
    // Unblock: PUK, RESET RETRY COUNTER without data (P1=03, ref | 80), then the new PIN.
    assert_eq!(tx(&mut c, &h("01 2C 03 81")), h("69 82"));
    assert_eq!(tx(&mut c, &apdu("01 20 00 02", b"12345678")), h("90 00"));
    assert_eq!(tx(&mut c, &h("01 2C 03 81")), h("90 00"));
    assert_eq!(tx(&mut c, &h("01 20 00 01")), h("63 C3"));
    // The Cryptolib then sets the new PIN alone: allowed because the PUK is verified.
    assert_eq!(tx(&mut c, &apdu("01 24 01 01", &pin("9753"))), h("90 00"));
    assert_eq!(tx(&mut c, &apdu("01 20 00 01", &pin("2468"))), h("63 C2"));
    assert_eq!(tx(&mut c, &apdu("01 20 00 01", &pin("9753"))), h("90 00"));
    // Re-selecting ChipDoc resets the security status [assume §14 #7].
    tx(&mut c, &h("01 A4 04 0C 08 80 25 00 00 01 FF 01 00"));
    assert_eq!(tx(&mut c, &h("01 20 00 01")), h("63 C3"));
    assert_eq!(tx(&mut c, &apdu("01 24 01 01", &pin("2468"))), h("69 82"));
    assert_eq!(tx(&mut c, &apdu("01 20 00 01", &pin("9753"))), h("90 00"));
    assert_eq!(tx(&mut c, &apdu("01 24 01 01", &pin("2468"))), h("90 00"));
    assert_eq!(tx(&mut c, &apdu("01 20 00 01", &pin("2468"))), h("90 00"));
    assert_eq!(tx(&mut c, &apdu("01 24 01 01", &pin("1357"))), h("90 00"));
    c.reset();
    tx(&mut c, &h("01 A4 04 0C 08 80 25 00 00 01 FF 01 00"));
    assert_eq!(tx(&mut c, &apdu("01 20 00 01", &pin("1357"))), h("90 00"));
}

// ---------------------------------------------------------------- CPS2ter volet

#[test]
fn cps2ter_volet_select_fci_and_private_read() {
    let mut c = card("cps3-doctor");
    // IAS side: the application DF is current.
    tx(
        &mut c,
        &h("00 A4 04 0C 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10"),
    );
    let r = tx(&mut c, &h("A0 A4 00 00 02 3F 00"));
    assert_eq!(r[0], 0x9F);
    let (fci, s) = (tx(&mut c, &[0xA0, 0xC0, 0x00, 0x00, r[1]]), 0);
    let _ = s;
    assert_eq!(&fci[..2], &[0x85, 0x05]);
    assert_eq!(fci[6], 0x01, "type MF");
    let r = tx(&mut c, &h("A0 A4 00 00 02 40 10"));
    assert_eq!(r, h("9F 07"));
    let fci = tx(&mut c, &h("A0 C0 00 00 07"));
    assert_eq!(&fci[4..7], &h("40 10 04")[..]);
    let size = u16::from_be_bytes([fci[2], fci[3]]) as usize;
    assert!(size > 0);
    // Private: needs the user PIN verified on the IAS side.
    assert_eq!(tx(&mut c, &h("A0 B0 00 00 04")), h("98 04"));
    verify_pin(&mut c, "1234");
    let r = tx(&mut c, &[0xA0, 0xB0, 0x00, 0x00, size as u8]);
    assert_eq!((r.len(), sw(&r)), (size + 2, 0x9000));
    assert_eq!(
        tx(&mut c, &[0xA0, 0xB0, 0x00, 0x01, size as u8]),
        h("94 02")
    );
    // Invoicing situation one level down; unknown file; unknown INS; bad P1P2.
    assert_eq!(tx(&mut c, &h("A0 A4 00 00 02 3F 00"))[0], 0x9F);
    assert_eq!(tx(&mut c, &h("A0 A4 00 00 02 7F 01"))[0], 0x9F);
    assert_eq!(tx(&mut c, &h("A0 A4 00 00 02 40 00"))[0], 0x9F);
    assert_eq!(sw(&tx(&mut c, &h("A0 B0 00 00 01"))), 0x9000);
    assert_eq!(tx(&mut c, &h("A0 A4 00 00 02 12 34")), h("94 04"));
    assert_eq!(tx(&mut c, &h("A0 20 00 00")), h("6D 00"));
    assert_eq!(tx(&mut c, &h("A0 A4 01 00 02 3F 00")), h("6B 00"));
    // The IAS current DF was not disturbed: a relative path still resolves in DF 0001.
    assert_eq!(sw(&tx(&mut c, &h("00 A4 09 0C 02 50 31"))), 0x9000);
}

#[test]
fn cps4_volet_is_the_basic_channel_applet() {
    let mut c = card("cps4-nurse");
    assert_eq!(tx(&mut c, &h("A0 A4 00 00 02 3F 00"))[0], 0x9F);
    // Selecting ChipDoc on the basic channel leaves the CPS2ter applet.
    tx(&mut c, &h("00 A4 04 0C 08 80 25 00 00 01 FF 01 00"));
    assert_eq!(tx(&mut c, &h("A0 A4 00 00 02 3F 00")), h("6E 00"));
    tx(&mut c, &h("00 A4 04 0C 08 80 25 00 00 01 FF 00 02"));
    assert_eq!(tx(&mut c, &h("A0 A4 00 00 02 3F 00"))[0], 0x9F);
}

#[test]
fn two_cps4_personas_share_the_atr_but_not_the_card() {
    // cps4-pharmacist stands in for cps4-nurse in card-swap tests: same ATR, generation and
    // file layout, another card (EF.SN) with other keys and certificates.
    let nurse = card("cps4-nurse");
    let pharmacist = card("cps4-pharmacist");
    assert_eq!(nurse.atr(), pharmacist.atr());
    let (a, b) = (nurse.profile(), pharmacist.profile());
    assert_eq!((a.generation, a.protocol), (b.generation, b.protocol));
    let paths = |c: &SimCard| {
        c.profile()
            .file
            .iter()
            .map(|f| f.path.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(paths(&nurse), paths(&pharmacist));
    let sn = |c: &SimCard| c.file_content("3F00/D003").expect("EF.SN");
    assert_eq!(sn(&pharmacist), h("5A 0A 80 25 00 00 01 99 70 01 23 2F"));
    assert_ne!(sn(&nurse), sn(&pharmacist));
    for cert in ["3F00/0001/7102", "3F00/0001/7103"] {
        let content = |c: &SimCard| c.file_content(cert).expect("certificate");
        assert_eq!(content(&pharmacist)[0], 0x30, "{cert}");
        assert_ne!(content(&nurse), content(&pharmacist), "{cert}");
    }
    assert_ne!(
        public(&nurse, "CPS_PRIV_AUT").n(),
        public(&pharmacist, "CPS_PRIV_AUT").n()
    );
}

// ---------------------------------------------------------------- observation and faults

#[test]
fn faults_remove_reset_status_truncate() {
    let mut c = card("cps3-doctor");
    verify_pin(&mut c, "1234");
    c.inject(1, FaultKind::Truncate(1));
    assert_eq!(tx(&mut c, &h("00 20 00 01")), h("90"));
    c.inject(1, FaultKind::Status(0x6F00));
    assert_eq!(tx(&mut c, &h("00 20 00 01")), h("6F 00"));
    c.inject(1, FaultKind::Reset);
    assert_eq!(c.process(&h("00 20 00 01")), Err(SimFault::Reset));
    assert_eq!(
        tx(&mut c, &h("00 20 00 01")),
        h("63 C3"),
        "a reset drops the PIN status"
    );
    c.inject(2, FaultKind::Remove);
    assert_eq!(sw(&tx(&mut c, &h("00 84 00 00 08"))), 0x9000);
    assert_eq!(c.process(&h("00 84 00 00 08")), Err(SimFault::Removed));
    assert_eq!(c.process(&h("00 84 00 00 08")), Err(SimFault::Removed));
    assert!(!c.is_present());
    c.insert();
    assert_eq!(c.process(&h("00 84 00 00 08")), Err(SimFault::Unpowered));
    c.power_on();
    assert_eq!(sw(&tx(&mut c, &h("00 84 00 00 08"))), 0x9000);
}

#[test]
fn trace_counts_and_masks() {
    let mut c = card("cps3-doctor");
    let t = c.trace();
    t.clear();
    verify_pin(&mut c, "1234");
    tx(&mut c, &h("00 84 00 00 08"));
    assert_eq!(t.apdu_count(), 2);
    assert_eq!(t.byte_count(), 13 + 2 + 5 + 10);
    let text = t.render();
    assert!(
        text.contains("00 20 00 01 08 2A 2A 2A 2A 2A 2A 2A 2A"),
        "{text}"
    );
    assert!(!text.contains("31 32 33 34"));
    assert_eq!(t.modelled_micros(), 0, "latency model off by default");
}

#[test]
fn latency_model_accounts_bytes_and_rsa() {
    let mut c = card("cps3-doctor");
    c.set_latency(Latency {
        enabled: true,
        sleep: false,
        ..Latency::default()
    });
    let t = c.trace();
    t.clear();
    tx(&mut c, &h("00 84 00 00 08"));
    let small = t.modelled_micros();
    // 15 bytes at 9600 bit/s ≈ 15.6 ms + 2 ms per APDU.
    assert!((17_000..18_500).contains(&small), "{small}");
    verify_pin(&mut c, "1234");
    tx(&mut c, &h("00 22 41 B6 06 80 01 42 84 01 81"));
    t.clear();
    xfer(&mut c, &apdu("00 2A 9E 9A", &sha256(b"x")));
    assert!(
        t.modelled_micros() > 250_000,
        "one RSA operation is counted"
    );
}
