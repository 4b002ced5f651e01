//! Engine tests over the in-process card simulator (an independent implementation of the
//! cards) and golden traces over `ScriptedTransport` in strict mode.

use std::path::PathBuf;

use super::layout::{AID_CONTACT, AID_CONTACTLESS};
use super::*;
use crate::log::{hex, hex_spaced as spaced};
use crate::sim::FaultKind;
use crate::soft;
use crate::transport::r#virtual::{SharedCard, SimReaders};
use crate::transport::script::ScriptedTransport;
use crate::transport::Readers;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Connects a persona through the virtual readers and binds it.
fn open(persona: &str) -> (CpxCard, SharedCard) {
    let mut readers = SimReaders::from_spec(persona).unwrap();
    let list = readers.list().unwrap();
    let transport = readers.connect(&list[0].name).unwrap();
    let card = readers.cards()[0].1.clone();
    let bound = CpxCard::bind(transport).unwrap_or_else(|e| panic!("{persona}: {e}"));
    (bound, card)
}

/// The C-APDUs the simulator saw since the last call (and clears its trace).
fn take_commands(card: &SharedCard) -> Vec<Vec<u8>> {
    let c = card.lock().unwrap();
    let trace = c.trace();
    let out = trace.apdus().into_iter().map(|(cmd, _)| cmd).collect();
    trace.clear();
    out
}

fn id(aid: &[u8], n: u8) -> Vec<u8> {
    let mut v = aid.to_vec();
    v.push(n);
    v
}

fn key<'a>(c: &'a CpxCard, label: &str) -> &'a KeyInfo {
    c.contents().keys.iter().find(|k| k.label == label).unwrap()
}

fn object<'a>(c: &'a CpxCard, label: &str) -> &'a DataObject {
    c.contents()
        .data_objects
        .iter()
        .find(|d| d.label == label)
        .unwrap_or_else(|| panic!("no {label}"))
}

fn message(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

// ---------------------------------------------------------------------------------------
// Bind
// ---------------------------------------------------------------------------------------

#[test]
fn bind_cps3_doctor_reads_everything() {
    let (c, card) = open("cps3-doctor");
    let t = c.contents();
    assert_eq!(t.generation, Generation::Cps3);
    assert_eq!(t.label, "CPS3v3-2699700011");
    assert_eq!(t.serial, "99700011");
    assert_eq!(t.pan, "802500000199700011");
    assert_eq!(t.model, "IAS ECC");
    assert_eq!(t.manufacturer, "ASIP SANTE");
    assert_eq!(c.protocol(), Protocol::T0);

    // Certificates: labels, CKA_IDs, DER identical to the test PKI.
    assert_eq!(t.certs.len(), 2);
    let sig = t
        .certs
        .iter()
        .find(|x| x.label == "Certificat de Signature CPS")
        .unwrap();
    let auth = t
        .certs
        .iter()
        .find(|x| x.label == "Certificat d'Authentification CPS")
        .unwrap();
    assert_eq!(sig.id, id(&AID_CONTACT, 0x01));
    assert_eq!(auth.id, id(&AID_CONTACT, 0x02));
    assert_eq!(sig.der, fixture("pki/cps3-doctor-sig.der"));
    assert_eq!(auth.der, fixture("pki/cps3-doctor-auth.der"));
    assert!(!sig.authority);

    // Keys with their public parts from the certificates.
    let ks = key(&c, "CPS_PRIV_SIG");
    assert_eq!(ks.id, id(&AID_CONTACT, 0x01));
    assert_eq!(
        (ks.role, ks.key_ref, ks.bits),
        (KeyRole::Signature, 0x81, 2048)
    );
    assert!(ks.can_sign && ks.non_repudiation && !ks.can_decrypt && ks.needs_login);
    let ka = key(&c, "CPS_PRIV_AUT");
    assert_eq!(ka.id, id(&AID_CONTACT, 0x02));
    assert_eq!((ka.role, ka.key_ref), (KeyRole::Authentication, 0x82));
    assert!(ka.can_sign && ka.can_decrypt && !ka.non_repudiation);
    let fields = crate::x509::parse(&auth.der).unwrap();
    assert_eq!(ka.modulus, fields.modulus);
    assert_eq!(ka.modulus.len(), 256);
    assert_eq!(ka.public_exponent, vec![1, 0, 1]);

    // PINs from the AODF (quirky BIT STRINGs in this persona).
    let pin = t.user_pin.as_ref().unwrap();
    assert_eq!(pin.label, "Code porteur de la carte CPS");
    assert_eq!(
        (pin.reference, pin.min_len, pin.max_len, pin.stored_len),
        (1, 4, 4, 8)
    );
    assert_eq!(pin.pad_char, Some(0xFF));
    let puk = t.so_pin.as_ref().unwrap();
    assert_eq!(puk.label, "Code de déblocage de la carte CPS");
    assert_eq!((puk.reference, puk.min_len, puk.max_len), (2, 8, 8));

    // Data objects: public values read, private ones not, volet copies synthesised;
    // CPS_DATA (modifiable) is read when first asked for.
    let data = object(&c, "CPS_DATA");
    assert!(data.modifiable && !data.private);
    assert_eq!(data.value, None);
    assert_eq!(data.application, "CPS");
    assert_eq!(data.path, vec![0x3F, 0x00, 0x00, 0x01, 0xA0, 0x01]);
    for (label, file) in [
        ("CPS_ID_CARD", "do-cps-id-card.der"),
        ("CPS_NAME_PS", "do-cps-name-ps.der"),
        ("CPS_LANG_PS", "do-cps-lang-ps.der"),
        ("CPS_INFO_PS", "do-cps-info-ps.der"),
    ] {
        let o = object(&c, label);
        assert!(!o.private && !o.modifiable, "{label}");
        assert_eq!(
            o.value.as_deref(),
            Some(&fixture(&format!("cards/cps3-doctor/{file}"))[..])
        );
    }
    let act = object(&c, "CPS_ACTIVITY_01_PS");
    assert!(act.private && act.value.is_none());
    let copy = object(&c, "CPS2TER_ACTIVITY_01_PS");
    assert!(copy.private && copy.value.is_none());
    assert_eq!(copy.path, vec![0x3F, 0x00, 0x40, 0x10]);
    let sit = object(&c, "CPS_SIT_FACT");
    assert!(sit.private);
    // One volet copy per CPS_ACTIVITY_xx_PS.
    let acts = t
        .data_objects
        .iter()
        .filter(|d| d.label.starts_with("CPS_ACTIVITY_"))
        .count();
    let copies = t
        .data_objects
        .iter()
        .filter(|d| d.label.starts_with("CPS2TER_ACTIVITY_"))
        .count();
    assert_eq!(acts, copies);
    assert!(acts >= 1);

    // APDUs: what the simulator saw is what we counted.
    let seen = take_commands(&card).len();
    assert_eq!(seen, c.apdu_count());
    eprintln!("bind cps3-doctor: {seen} APDUs");
    assert!(seen <= 60, "bind took {seen} APDUs");
    // No APDU is sent for what bind read.
    assert_eq!(c.contents().certs.len(), 2);
    assert!(take_commands(&card).is_empty());
}

#[test]
fn bind_strict_badcert_cpe_expired() {
    for persona in ["cps3-strict", "cps3-badcert", "cpe-staff", "cps3-expired"] {
        let (c, _) = open(persona);
        let t = c.contents();
        assert_eq!(t.generation, Generation::Cps3, "{persona}");
        assert_eq!(t.certs.len(), 2, "{persona}");
        assert_eq!(t.keys.len(), 2, "{persona}");
        assert!(t.label.starts_with("CPS3v3-"), "{persona}");
        for (suffix, label) in [
            ("sig", "Certificat de Signature CPS"),
            ("auth", "Certificat d'Authentification CPS"),
        ] {
            let cert = t.certs.iter().find(|x| x.label == label).unwrap();
            // cps3-badcert: the card stores unused-bits 01; the patched value equals the
            // well-formed original.
            assert_eq!(
                cert.der,
                fixture(&format!("pki/{persona}-{suffix}.der")),
                "{persona} {suffix}"
            );
        }
        assert_eq!(t.user_pin.as_ref().unwrap().max_len, 4, "{persona}");
    }
    // The badcert card really stores the defect (so the patch did something).
    let stored = fixture("cards/cps3-badcert/sig-cert.der");
    let good = fixture("pki/cps3-badcert-sig.der");
    assert_ne!(stored, good);
}

#[test]
fn bind_cps4_nurse() {
    let (c, card) = open("cps4-nurse");
    let t = c.contents();
    assert_eq!(t.generation, Generation::Cps4);
    assert_eq!(t.label, "CPS4v1-8099700033");
    assert_eq!(t.serial, "99700033");
    assert_eq!(t.model, "ChipDoc");
    assert_eq!(c.protocol(), Protocol::T1);
    let ks = key(&c, "CPS_PRIV_SIG");
    assert_eq!((ks.id.clone(), ks.key_ref), (id(&AID_CONTACT, 0x10), 0x10));
    let ka = key(&c, "CPS_PRIV_AUT");
    assert_eq!((ka.id.clone(), ka.key_ref), (id(&AID_CONTACT, 0x20), 0x20));
    let cert = t
        .certs
        .iter()
        .find(|x| x.id == id(&AID_CONTACT, 0x20))
        .unwrap();
    assert_eq!(cert.der, fixture("pki/cps4-nurse-auth.der"));
    // CPS2TER_* are real PKCS#15 objects on CPS4, not volet copies.
    assert!(object(&c, "CPS2TER_ATR").value.is_some());
    assert!(object(&c, "CPS2TER_ACTIVITY_01_PS").private);
    assert!(object(&c, "CPS_SIT_FACT").private);
    let cmds = take_commands(&card);
    // The first APDU selects ChipDoc on logical channel 1.
    assert_eq!(hex(&cmds[0]), "01A4040C088025000001FF0100");
    assert!(cmds.iter().all(|c| c[0] & 0x03 == 1), "all on channel 1");
    eprintln!("bind cps4-nurse: {} APDUs", cmds.len());
    assert!(cmds.len() <= 60, "{}", cmds.len());
}

#[test]
fn bind_contactless() {
    let (mut c, card) = open("cps3-contactless");
    let t = c.contents().clone();
    assert_eq!(t.generation, Generation::Cps3Cl);
    assert_eq!(t.label, "CPS3v3_CL");
    assert_eq!(t.serial, "99700066");
    assert_eq!(t.model, "IAS ECC");
    assert!(t.user_pin.is_none() && t.so_pin.is_none());
    assert_eq!(t.keys.len(), 1);
    let k = &t.keys[0];
    assert_eq!(k.label, "CPS_PRIV_TECH_AUT");
    assert_eq!(k.id, id(&AID_CONTACTLESS, 0x03));
    assert_eq!((k.role, k.key_ref), (KeyRole::Technical, 0x81));
    assert!(!k.needs_login);
    assert_eq!(t.certs.len(), 1);
    assert_eq!(t.certs[0].label, "Certificat Technique CPS");
    assert_eq!(t.certs[0].der, fixture("pki/cps3-contactless-tech.der"));
    assert!(t.data_objects.is_empty());
    let n = take_commands(&card).len();
    eprintln!("bind cps3-contactless: {n} APDUs");
    assert_eq!(n, c.apdu_count());
    assert!(n <= 20, "{n}");

    // The technical key signs without login (INTERNAL AUTHENTICATE).
    let info = soft::digest_info(HashAlg::Sha256, &soft::digest(HashAlg::Sha256, b"tls")).unwrap();
    let sig = c
        .sign(&k.id, &SignInput::Pkcs1 { data: info.clone() })
        .unwrap();
    soft::verify_pkcs1_raw(&k.modulus, &k.public_exponent, &info, &sig).unwrap();
    let cmds = take_commands(&card);
    assert!(cmds.len() <= 3, "{}", cmds.len());
    assert_eq!(hex(&cmds[0]), "002241A406800102840181");
    // No PIN on this token.
    assert!(matches!(
        c.login(b"1234"),
        Err(CpxError::Missing(Missing::UserPin))
    ));
    assert!(matches!(
        c.pin_status(),
        Err(CpxError::Missing(Missing::UserPin))
    ));
    assert!(take_commands(&card).is_empty());
}

#[test]
fn not_a_cpx_card() {
    // Unknown ATR: refused before any APDU.
    let t = ScriptedTransport::strict(&[0x3B, 0x02, 0x14, 0x50], &[]);
    assert_eq!(
        CpxCard::bind(Box::new(t)).err(),
        Some(CpxError::Card(CardError::UnsupportedCard {
            atr: vec![0x3B, 0x02, 0x14, 0x50]
        }))
    );
    // A CPS3 ATR but an EF.SN of another issuer.
    let atr = [
        0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00,
        0x90, 0x00,
    ];
    let text = format!(
        "strict\natr {}\n\
         00 B0 9C 00 0C -> 5A 0A 80 25 00 00 02 99 21 38 45 0F 90 00\n",
        hex(&atr)
    );
    let t = ScriptedTransport::parse(&text).unwrap();
    assert!(matches!(
        CpxCard::bind(Box::new(t)),
        Err(CpxError::Card(CardError::UnsupportedCard { .. }))
    ));
    // A CPS4 ATR, but no ChipDoc on channel 1 even after the re-selection sequence.
    let text = "strict\nprotocol T=1\natr 3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44\n\
                01 A4 04 0C 08 80 25 00 00 01 FF 01 00 -> 6A 82\n\
                01 A4 04 0C 07 A0 00 00 01 51 00 00 -> 6A 82\n\
                00 A4 04 0C 08 80 25 00 00 01 FF 00 02 -> 6A 82\n\
                01 A4 04 0C 08 80 25 00 00 01 FF 01 00 -> 6A 82\n";
    let t = ScriptedTransport::parse(text).unwrap();
    assert!(matches!(
        CpxCard::bind(Box::new(t)),
        Err(CpxError::Card(CardError::UnsupportedCard { .. }))
    ));
    // A CPS3 ATR without EF.SN.
    let text = format!(
        "strict\natr {}\n00 B0 9C 00 0C -> 6A 82\n00 A4 09 04 04 3F 00 D0 03 -> 6A 82\n",
        hex(&atr)
    );
    let t = ScriptedTransport::parse(&text).unwrap();
    assert!(matches!(
        CpxCard::bind(Box::new(t)),
        Err(CpxError::Card(CardError::UnsupportedCard { .. }))
    ));
}

// ---------------------------------------------------------------------------------------
// PIN flows
// ---------------------------------------------------------------------------------------

#[test]
fn login_wrong_right_and_status() {
    let (mut c, card) = open("cps3-doctor");
    take_commands(&card);
    let st = c.pin_status().unwrap();
    assert_eq!(
        st,
        PinStatus {
            tries_left: 3,
            max_tries: 3,
            unblock_left: Some(100),
            verified: false
        }
    );
    let first = take_commands(&card).len();
    // Later status reads cost one APDU (VERIFY without data).
    assert_eq!(c.pin_status().unwrap().tries_left, 3);
    assert_eq!(take_commands(&card), vec![vec![0x00, 0x20, 0x00, 0x01]]);
    eprintln!("pin_status: first {first} APDUs, then 1");
    assert!(first <= 6);

    assert_eq!(
        c.login(b"0000"),
        Err(CpxError::Card(CardError::PinIncorrect { tries_left: 2 }))
    );
    let cmds = take_commands(&card);
    assert_eq!(cmds.len(), 1);
    // VERIFY with 8 bytes (4 digits + FF padding: see the golden trace); the simulator's
    // trace masks the data.
    assert_eq!(&cmds[0][..5], &[0x00, 0x20, 0x00, 0x01, 0x08]);
    assert_eq!(&cmds[0][5..], &[0x2A; 8]);
    assert_eq!(c.pin_status().unwrap().tries_left, 2);
    // Wrong length: refused without touching the card (and without costing a try).
    take_commands(&card);
    assert_eq!(
        c.login(b"12345"),
        Err(CpxError::Refused(Refusal::PinLength))
    );
    assert_eq!(c.login(b""), Err(CpxError::Refused(Refusal::PinLength)));
    assert!(take_commands(&card).is_empty());

    c.login(b"1234").unwrap();
    assert!(card.lock().unwrap().chv_verified(1));
    let st = c.pin_status().unwrap();
    assert!(st.verified);
    assert_eq!(st.tries_left, 3);

    // The simulator's trace never holds the PIN.
    let rendered = card.lock().unwrap().trace().render();
    assert!(!rendered.contains("31323334"), "PIN in the trace");
}

#[test]
fn blocked_pin_then_unblock() {
    let (mut c, card) = open("cps3-pharmacist-blocked");
    let st = c.pin_status().unwrap();
    assert_eq!(
        (st.tries_left, st.verified, st.unblock_left),
        (0, false, Some(100))
    );
    assert_eq!(c.login(b"1234"), Err(CpxError::Card(CardError::PinBlocked)));
    // PUK wrong length: no APDU.
    take_commands(&card);
    assert_eq!(
        c.login_so(b"1234"),
        Err(CpxError::Refused(Refusal::PinLength))
    );
    assert!(take_commands(&card).is_empty());
    assert_eq!(
        c.login_so(b"87654321"),
        Err(CpxError::Card(CardError::PinIncorrect { tries_left: 9 }))
    );
    c.login_so(b"12345678").unwrap();
    c.unblock_pin(b"4321").unwrap();
    let cmds = take_commands(&card);
    let rrc = cmds.last().unwrap();
    assert_eq!(&rrc[..5], &[0x00, 0x2C, 0x02, 0x01, 0x08]);
    let st = c.pin_status().unwrap();
    assert_eq!((st.tries_left, st.unblock_left), (3, Some(99)));
    assert_eq!(
        c.login(b"1234"),
        Err(CpxError::Card(CardError::PinIncorrect { tries_left: 2 }))
    );
    c.login(b"4321").unwrap();
}

#[test]
fn change_pin_cps3() {
    let (mut c, card) = open("cps3-doctor");
    take_commands(&card);
    assert_eq!(
        c.change_pin(b"9999", b"5678"),
        Err(CpxError::Card(CardError::PinIncorrect { tries_left: 2 }))
    );
    assert_eq!(
        c.change_pin(b"1234", b"567"),
        Err(CpxError::Refused(Refusal::PinLength))
    );
    c.change_pin(b"1234", b"5678").unwrap();
    let cmds = take_commands(&card);
    assert_eq!(cmds.len(), 2);
    assert_eq!(&cmds[1][..5], &[0x00, 0x24, 0x00, 0x01, 0x10]);
    assert_eq!(
        c.login(b"1234"),
        Err(CpxError::Card(CardError::PinIncorrect { tries_left: 2 }))
    );
    c.login(b"5678").unwrap();
}

#[test]
fn logout_resets_security_and_forgets_private_values() {
    let (mut c, card) = open("cps3-doctor");
    c.login(b"1234").unwrap();
    let v = c.read_data_object("CPS_ACTIVITY_01_PS").unwrap();
    assert!(!v.is_empty());
    c.logout().unwrap();
    assert!(!card.lock().unwrap().chv_verified(1));
    assert!(object(&c, "CPS_ACTIVITY_01_PS").value.is_none());
    // Public values stay.
    assert!(object(&c, "CPS_NAME_PS").value.is_some());
    let k = key(&c, "CPS_PRIV_SIG").id.clone();
    let hash = soft::digest(HashAlg::Sha256, b"x");
    assert_eq!(
        c.sign(&k, &SignInput::Pkcs1 { data: hash }),
        Err(CpxError::Card(CardError::SecurityNotSatisfied))
    );
}

// ---------------------------------------------------------------------------------------
// CPS3 signatures and decryption
// ---------------------------------------------------------------------------------------

#[test]
fn cps3_signature_key_all_paths() {
    let (mut c, card) = open("cps3-doctor");
    let k = key(&c, "CPS_PRIV_SIG").clone();
    let (n, e) = (k.modulus.clone(), k.public_exponent.clone());

    // Not logged in: the card refuses.
    let h = soft::digest(HashAlg::Sha256, b"doc");
    assert_eq!(
        c.sign(&k.id, &SignInput::Pkcs1 { data: h.clone() }),
        Err(CpxError::Card(CardError::SecurityNotSatisfied))
    );
    c.login(b"1234").unwrap();
    take_commands(&card);

    // Partial hash: PSO HASH + PSO CDS, for message lengths around the block boundaries.
    for alg in [HashAlg::Sha1, HashAlg::Sha256] {
        for len in [1usize, 63, 64, 65, 128, 129, 1000] {
            let m = message(len);
            let sig = c
                .sign(
                    &k.id,
                    &SignInput::Pkcs1Message {
                        alg,
                        message: m.clone(),
                    },
                )
                .unwrap();
            assert_eq!(sig.len(), 256);
            soft::verify_pkcs1_hash(&n, &e, alg, &soft::digest(alg, &m), &sig)
                .unwrap_or_else(|err| panic!("{alg:?} {len}: {err}"));
            let cmds = take_commands(&card);
            let ins: Vec<_> = cmds.iter().map(|c| (c[1], c[2], c[3])).collect();
            assert_eq!(
                ins,
                vec![
                    (0x22, 0x41, 0xAA),
                    (0x2A, 0x90, 0xA0),
                    (0x22, 0x41, 0xB6),
                    (0x2A, 0x9E, 0x9A)
                ],
                "{alg:?} {len}"
            );
        }
    }
    // Empty message: hashed in software, hash-only PSO CDS.
    let sig = c
        .sign(
            &k.id,
            &SignInput::Pkcs1Message {
                alg: HashAlg::Sha256,
                message: vec![],
            },
        )
        .unwrap();
    soft::verify_pkcs1_hash(
        &n,
        &e,
        HashAlg::Sha256,
        &soft::digest(HashAlg::Sha256, b""),
        &sig,
    )
    .unwrap();
    take_commands(&card);

    // Hash only: bare hashes and DigestInfos → MSE DST + PSO CDS (+ GET RESPONSE).
    for alg in [HashAlg::Sha1, HashAlg::Sha256] {
        let hash = soft::digest(alg, b"hash only");
        let info = soft::digest_info(alg, &hash).unwrap();
        for data in [hash.clone(), info] {
            let sig = c.sign(&k.id, &SignInput::Pkcs1 { data }).unwrap();
            soft::verify_pkcs1_hash(&n, &e, alg, &hash, &sig).unwrap();
            let cmds = take_commands(&card);
            assert_eq!(cmds.len(), 3, "MSE + PSO CDS + GET RESPONSE");
            let dst = if alg == HashAlg::Sha1 { 0x12 } else { 0x42 };
            assert_eq!(
                cmds[0],
                vec![0x00, 0x22, 0x41, 0xB6, 0x06, 0x80, 0x01, dst, 0x84, 0x01, 0x81]
            );
            // The hash itself is masked in the simulator's trace (signature input); the
            // golden trace pins it.
            assert_eq!(&cmds[1][..5], &[0x00, 0x2A, 0x9E, 0x9A, alg.len() as u8]);
            assert_eq!(cmds[1].len(), 5 + alg.len());
            assert_eq!(cmds[2], vec![0x00, 0xC0, 0x00, 0x00, 0x00]);
        }
    }

    // Refused without APDU: other data, PSS, raw, decrypt.
    for input in [
        SignInput::Pkcs1 {
            data: vec![0x11; 40],
        },
        SignInput::Pkcs1 { data: vec![] },
    ] {
        // Neither a hash nor a DigestInfo by its size.
        assert_eq!(
            c.check_sign(&k.id, &input),
            Err(CpxError::Refused(Refusal::InputLength))
        );
        assert_eq!(
            c.sign(&k.id, &input),
            Err(CpxError::Refused(Refusal::InputLength))
        );
    }
    let pss = SignInput::Pss {
        alg: HashAlg::Sha256,
        hash: h.clone(),
    };
    assert_eq!(
        c.sign(&k.id, &pss),
        Err(CpxError::Refused(Refusal::KeyCannot))
    );
    let raw = SignInput::Raw {
        block: vec![0; 256],
    };
    assert_eq!(
        c.sign(&k.id, &raw),
        Err(CpxError::Refused(Refusal::KeyCannot))
    );
    assert_eq!(
        c.decrypt(&k.id, &[0; 256]),
        Err(CpxError::Refused(Refusal::KeyCannot))
    );
    assert!(take_commands(&card).is_empty());
}

#[test]
fn cps3_authentication_key_sign_and_decrypt() {
    let (mut c, card) = open("cps3-doctor");
    let k = key(&c, "CPS_PRIV_AUT").clone();
    let (n, e) = (k.modulus.clone(), k.public_exponent.clone());
    c.login(b"1234").unwrap();
    take_commands(&card);

    // CKM_RSA_PKCS with a DigestInfo: INTERNAL AUTHENTICATE, data as is.
    let info = soft::digest_info(HashAlg::Sha256, &soft::digest(HashAlg::Sha256, b"tls")).unwrap();
    let sig = c
        .sign(&k.id, &SignInput::Pkcs1 { data: info.clone() })
        .unwrap();
    soft::verify_pkcs1_raw(&n, &e, &info, &sig).unwrap();
    let cmds = take_commands(&card);
    assert_eq!(
        cmds.len(),
        3,
        "MSE AT + INTERNAL AUTHENTICATE + GET RESPONSE"
    );
    assert_eq!(
        cmds[0],
        vec![0x00, 0x22, 0x41, 0xA4, 0x06, 0x80, 0x01, 0x02, 0x84, 0x01, 0x82]
    );
    assert_eq!(&cmds[1][..5], &[0x00, 0x88, 0x00, 0x00, 51]);

    // Arbitrary data up to 40 % of the modulus (102 bytes) is padded by the card.
    let data = vec![0x5A; 102];
    let sig = c
        .sign(&k.id, &SignInput::Pkcs1 { data: data.clone() })
        .unwrap();
    soft::verify_pkcs1_raw(&n, &e, &data, &sig).unwrap();
    assert_eq!(
        c.sign(
            &k.id,
            &SignInput::Pkcs1 {
                data: vec![0x5A; 103]
            }
        ),
        Err(CpxError::Refused(Refusal::InputLength))
    );

    // Hash-and-sign on the authentication key: software hash + DigestInfo.
    for alg in [HashAlg::Sha1, HashAlg::Sha256] {
        let m = message(300);
        let sig = c
            .sign(
                &k.id,
                &SignInput::Pkcs1Message {
                    alg,
                    message: m.clone(),
                },
            )
            .unwrap();
        soft::verify_pkcs1_hash(&n, &e, alg, &soft::digest(alg, &m), &sig).unwrap();
    }
    assert_eq!(
        c.sign(
            &k.id,
            &SignInput::Pss {
                alg: HashAlg::Sha1,
                hash: vec![0; 20]
            }
        ),
        Err(CpxError::Refused(Refusal::KeyCannot))
    );
    take_commands(&card);

    // Decrypt: MSE CT + chained PSO DECIPHER with the 81 indicator.
    let cryptogram = soft::encrypt_pkcs1(&n, &e, b"session key 0123").unwrap();
    let plain = c.decrypt(&k.id, &cryptogram).unwrap();
    assert_eq!(plain, b"session key 0123");
    let cmds = take_commands(&card);
    assert_eq!(
        cmds[0],
        vec![0x00, 0x22, 0x41, 0xB8, 0x06, 0x80, 0x01, 0x1A, 0x84, 0x01, 0x82]
    );
    assert_eq!(&cmds[1][..6], &[0x10, 0x2A, 0x80, 0x86, 0xFF, 0x81]);
    assert_eq!(&cmds[2][..5], &[0x00, 0x2A, 0x80, 0x86, 0x02]);
    assert!(cmds.len() <= 4, "{}", cmds.len());
    eprintln!("CPS3 decrypt: {} APDUs", cmds.len());
    // Wrong cryptogram length: no APDU.
    assert_eq!(
        c.decrypt(&k.id, &cryptogram[1..]),
        Err(CpxError::Refused(Refusal::InputLength))
    );
    assert_eq!(c.check_decrypt(&k.id, &cryptogram), Ok(()));
    assert!(take_commands(&card).is_empty());
}

#[test]
fn key_operations_reselect_the_application_df() {
    let (mut c, card) = open("cps3-doctor");
    c.login(b"1234").unwrap();
    // pin_status leaves the MF current (DOCP GET DATA needs it).
    c.pin_status().unwrap();
    take_commands(&card);
    let k = key(&c, "CPS_PRIV_SIG").clone();
    let hash = soft::digest(HashAlg::Sha1, b"x");
    c.sign(&k.id, &SignInput::Pkcs1 { data: hash }).unwrap();
    let cmds = take_commands(&card);
    assert_eq!(
        cmds[0],
        vec![0x00, 0xA4, 0x09, 0x0C, 0x04, 0x3F, 0x00, 0x00, 0x01]
    );
    assert_eq!(cmds.len(), 4);
}

// ---------------------------------------------------------------------------------------
// Data objects
// ---------------------------------------------------------------------------------------

#[test]
fn data_objects_private_volet_and_write() {
    let (mut c, card) = open("cps3-doctor");
    // Public: from memory, no APDU.
    take_commands(&card);
    let name = c.read_data_object("CPS_NAME_PS").unwrap();
    assert_eq!(name, fixture("cards/cps3-doctor/do-cps-name-ps.der"));
    assert!(take_commands(&card).is_empty());
    // Private before login: refused by the card.
    assert_eq!(
        c.read_data_object("CPS_ACTIVITY_01_PS"),
        Err(CpxError::Card(CardError::SecurityNotSatisfied))
    );
    assert_eq!(
        c.read_data_object("CPS2TER_ACTIVITY_01_PS"),
        Err(CpxError::Card(CardError::SecurityNotSatisfied))
    );
    assert!(matches!(
        c.read_data_object("NOPE"),
        Err(CpxError::Missing(Missing::DataObject))
    ));
    c.login(b"1234").unwrap();
    let act = c.read_data_object("CPS_ACTIVITY_01_PS").unwrap();
    assert_eq!(act, fixture("cards/cps3-doctor/do-cps-activity-01-ps.der"));
    assert_eq!(
        object(&c, "CPS_ACTIVITY_01_PS").value.as_deref(),
        Some(&act[..])
    );
    take_commands(&card);
    let volet = c.read_data_object("CPS2TER_ACTIVITY_01_PS").unwrap();
    assert_eq!(volet, fixture("cards/cps3-doctor/cps2ter-4010.der"));
    let cmds = take_commands(&card);
    assert!(
        cmds.iter().all(|c| c[0] == 0xA0),
        "volet commands use CLA A0"
    );
    assert_eq!(cmds[0], vec![0xA0, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00]);
    let sit = c.read_data_object("CPS_SIT_FACT").unwrap();
    assert_eq!(sit, fixture("cards/cps3-doctor/cps2ter-4000.der"));

    // CPS_DATA: padded with zeros to the file size, read back from memory.
    c.write_data_object("CPS_DATA", b"hello").unwrap();
    let mut expected = b"hello".to_vec();
    expected.resize(256, 0);
    assert_eq!(c.read_data_object("CPS_DATA").unwrap(), expected);
    assert_eq!(
        card.lock().unwrap().file_content("3F00/0001/A001").unwrap(),
        expected
    );
    assert_eq!(
        c.write_data_object("CPS_DATA", &[1; 257]),
        Err(CpxError::Refused(Refusal::InputLength))
    );
    assert_eq!(
        c.write_data_object("CPS_NAME_PS", b"x"),
        Err(CpxError::Refused(Refusal::ReadOnly))
    );
    assert_eq!(
        c.write_data_object("CPS_SIT_FACT", b"x"),
        Err(CpxError::Refused(Refusal::ReadOnly))
    );
}

#[test]
fn random_bytes() {
    let (mut c, card) = open("cps3-doctor");
    take_commands(&card);
    let r = c.random(20).unwrap();
    assert_eq!(r.len(), 20);
    let cmds = take_commands(&card);
    assert_eq!(cmds, vec![vec![0x00, 0x84, 0x00, 0x00, 0x08]; 3]);
    assert!(c.random(0).unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// CPS4
// ---------------------------------------------------------------------------------------

#[test]
fn cps4_pin_sign_pss_raw_decrypt() {
    let (mut c, card) = open("cps4-nurse");
    let ks = key(&c, "CPS_PRIV_SIG").clone();
    let ka = key(&c, "CPS_PRIV_AUT").clone();
    take_commands(&card);
    let st = c.pin_status().unwrap();
    assert_eq!(
        st,
        PinStatus {
            tries_left: 3,
            max_tries: 3,
            unblock_left: None,
            verified: false
        }
    );
    assert_eq!(take_commands(&card), vec![vec![0x01, 0x20, 0x00, 0x01]]);
    assert_eq!(
        c.login(b"0000"),
        Err(CpxError::Card(CardError::PinIncorrect { tries_left: 2 }))
    );
    c.login(b"1234").unwrap();
    take_commands(&card);

    // Signature key, PKCS#1: software hash, PSO CDS 0A/28.
    for alg in [HashAlg::Sha1, HashAlg::Sha256] {
        let m = message(500);
        let hash = soft::digest(alg, &m);
        let sig = c
            .sign(&ks.id, &SignInput::Pkcs1Message { alg, message: m })
            .unwrap();
        soft::verify_pkcs1_hash(&ks.modulus, &ks.public_exponent, alg, &hash, &sig).unwrap();
        let cmds = take_commands(&card);
        let id = if alg == HashAlg::Sha1 { 0x0A } else { 0x28 };
        assert_eq!(
            cmds[0],
            vec![0x01, 0x22, 0x81, 0xB6, 0x04, 0x91, 0x02, id, 0x90]
        );
        assert_eq!(&cmds[1][..5], &[0x01, 0x2A, 0x9E, 0x9A, alg.len() as u8]);
        assert_eq!(cmds.len(), 2);
        let info = soft::digest_info(alg, &hash).unwrap();
        let sig = c.sign(&ks.id, &SignInput::Pkcs1 { data: info }).unwrap();
        soft::verify_pkcs1_hash(&ks.modulus, &ks.public_exponent, alg, &hash, &sig).unwrap();
        assert_eq!(take_commands(&card).len(), 2);
    }
    assert_eq!(
        c.sign(
            &ks.id,
            &SignInput::Raw {
                block: vec![1; 256]
            }
        ),
        Err(CpxError::Refused(Refusal::KeyCannot))
    );
    take_commands(&card);

    // PSS with both keys (salt = hash length).
    for k in [&ks, &ka] {
        for alg in [HashAlg::Sha1, HashAlg::Sha256] {
            let hash = soft::digest(alg, b"tls 1.3");
            let sig = c
                .sign(
                    &k.id,
                    &SignInput::Pss {
                        alg,
                        hash: hash.clone(),
                    },
                )
                .unwrap();
            soft::verify_pss(&k.modulus, &k.public_exponent, alg, &hash, alg.len(), &sig)
                .unwrap_or_else(|e| panic!("{} {alg:?}: {e}", k.label));
            let cmds = take_commands(&card);
            let id = if alg == HashAlg::Sha1 { 0x15 } else { 0x2C };
            assert_eq!(
                cmds[0],
                vec![
                    0x01,
                    0x22,
                    0x81,
                    0xB6,
                    0x04,
                    0x91,
                    0x02,
                    id,
                    k.key_ref | 0x80
                ]
            );
        }
    }
    assert_eq!(
        c.sign(
            &ka.id,
            &SignInput::Pss {
                alg: HashAlg::Sha256,
                hash: vec![0; 20]
            }
        ),
        Err(CpxError::Refused(Refusal::InputLength))
    );

    // Authentication key, CKM_RSA_PKCS: host padding + raw RSA through PSO DECIPHER.
    let info = soft::digest_info(HashAlg::Sha256, &soft::digest(HashAlg::Sha256, b"auth")).unwrap();
    let sig = c
        .sign(&ka.id, &SignInput::Pkcs1 { data: info.clone() })
        .unwrap();
    soft::verify_pkcs1_raw(&ka.modulus, &ka.public_exponent, &info, &sig).unwrap();
    let cmds = take_commands(&card);
    assert_eq!(
        cmds[0],
        vec![0x01, 0x22, 0x41, 0xB8, 0x03, 0x83, 0x01, 0x20]
    );
    assert_eq!(&cmds[1][..5], &[0x11, 0x2A, 0x80, 0x86, 0xFF]);
    assert_eq!(&cmds[1][5..7], &[0x00, 0x01], "type-1 block starts 00 01");
    assert_eq!(
        cmds[2][..6],
        [0x01, 0x2A, 0x80, 0x86, 0x01, info[info.len() - 1]]
    );
    assert_eq!(cmds.len(), 3);
    // A 32-byte input is a DigestInfo-less raw input here, not a PSO CDS hash (the
    // Cryptolib misroutes it: a bug not reproduced).
    let bare = vec![0x42; 32];
    let sig = c
        .sign(&ka.id, &SignInput::Pkcs1 { data: bare.clone() })
        .unwrap();
    soft::verify_pkcs1_raw(&ka.modulus, &ka.public_exponent, &bare, &sig).unwrap();
    // Hash-and-sign on the authentication key.
    let sig = c
        .sign(
            &ka.id,
            &SignInput::Pkcs1Message {
                alg: HashAlg::Sha1,
                message: b"m".to_vec(),
            },
        )
        .unwrap();
    soft::verify_pkcs1_hash(
        &ka.modulus,
        &ka.public_exponent,
        HashAlg::Sha1,
        &soft::digest(HashAlg::Sha1, b"m"),
        &sig,
    )
    .unwrap();
    // CKM_RSA_X_509: a short block is left-padded with zeros.
    let block = soft::pkcs1_type1_pad(&info, 256).unwrap();
    let sig = c
        .sign(
            &ka.id,
            &SignInput::Raw {
                block: block[1..].to_vec(),
            },
        )
        .unwrap();
    soft::verify_pkcs1_raw(&ka.modulus, &ka.public_exponent, &info, &sig).unwrap();
    assert_eq!(
        c.sign(
            &ka.id,
            &SignInput::Raw {
                block: vec![1; 257]
            }
        ),
        Err(CpxError::Refused(Refusal::InputLength))
    );
    take_commands(&card);

    // Decrypt: raw RSA, type-2 padding removed here.
    let cryptogram = soft::encrypt_pkcs1(&ka.modulus, &ka.public_exponent, b"secret").unwrap();
    assert_eq!(c.decrypt(&ka.id, &cryptogram).unwrap(), b"secret");
    let cmds = take_commands(&card);
    assert_eq!(cmds.len(), 3);
    assert_eq!(&cmds[1][..5], &[0x11, 0x2A, 0x80, 0x86, 0xFF]);
    assert_eq!(
        c.decrypt(&ks.id, &cryptogram),
        Err(CpxError::Refused(Refusal::KeyCannot))
    );
}

#[test]
fn cps4_69_85_recovery_then_redo_once() {
    let (mut c, card) = open("cps4-nurse");
    c.login(b"1234").unwrap();
    let ks = key(&c, "CPS_PRIV_SIG").clone();
    take_commands(&card);
    card.lock().unwrap().inject(1, FaultKind::Status(0x6985));
    let hash = soft::digest(HashAlg::Sha256, b"r");
    // The recovery re-selects ChipDoc, which resets the card's security status (simulator
    // [assume §14 #7]): the redo is refused until the PIN is presented again. The engine
    // never re-sends the PIN on its own.
    assert_eq!(
        c.sign(&ks.id, &SignInput::Pkcs1 { data: hash.clone() }),
        Err(CpxError::Card(CardError::SecurityNotSatisfied))
    );
    let cmds = take_commands(&card);
    assert_eq!(cmds.len(), 6, "MSE, three SELECTs, MSE, PSO CDS");
    assert!(
        cmds.iter().all(|c| c[1] != 0x20),
        "no VERIFY sent on our own"
    );
    c.login(b"1234").unwrap();
    take_commands(&card);
    let sig = c
        .sign(&ks.id, &SignInput::Pkcs1 { data: hash.clone() })
        .unwrap();
    soft::verify_pkcs1_hash(
        &ks.modulus,
        &ks.public_exponent,
        HashAlg::Sha256,
        &hash,
        &sig,
    )
    .unwrap();
    let cmds = take_commands(&card);
    let heads: Vec<_> = cmds.iter().map(|c| hex(&c[..4])).collect();
    assert_eq!(heads, ["012281B6", "012A9E9A"]);
    // The recovery sequence itself, on a second injected 69 85:
    card.lock().unwrap().inject(1, FaultKind::Status(0x6985));
    let _ = c.sign(&ks.id, &SignInput::Pkcs1 { data: hash.clone() });
    let cmds = take_commands(&card);
    let heads: Vec<_> = cmds.iter().map(|c| hex(&c[..4])).collect();
    assert_eq!(
        heads,
        ["012281B6", "01A4040C", "00A4040C", "01A4040C", "012281B6", "012A9E9A"]
    );
    c.login(b"1234").unwrap();
    assert_eq!(&cmds[1][5..], &layout::ISD_AID);
    assert_eq!(&cmds[2][5..], &layout::CPS2TER_APPLET_AID);
    assert_eq!(&cmds[3][5..], &layout::MF_AID);
    take_commands(&card);
    // Twice in a row: reported after one redo.
    card.lock().unwrap().inject(1, FaultKind::Status(0x6985));
    card.lock().unwrap().inject(5, FaultKind::Status(0x6985));
    assert_eq!(
        c.sign(&ks.id, &SignInput::Pkcs1 { data: hash }),
        Err(CpxError::Card(CardError::ConditionsNotSatisfied))
    );
    assert_eq!(take_commands(&card).len(), 5);
}

#[test]
fn cps4_after_reset_reselects_chipdoc() {
    let (mut c, card) = open("cps4-nurse");
    c.login(b"1234").unwrap();
    // Reset behind our back (another application): channel 1 is closed. The event comes
    // back first, nothing sent; then ChipDoc is selected again before the status query.
    card.lock().unwrap().reset();
    take_commands(&card);
    assert_eq!(
        c.pin_status(),
        Err(CpxError::Card(CardError::Transport(TransportError::Reset)))
    );
    assert!(take_commands(&card).is_empty());
    let st = c.pin_status().unwrap();
    assert!(!st.verified);
    let cmds = take_commands(&card);
    assert_eq!(hex(&cmds[cmds.len() - 1]), "01200001");
    assert!(cmds.len() <= 5, "{} commands", cmds.len());
    // A reset instead of an answer: 69 85-style recovery is not needed, the reset is.
    card.lock().unwrap().inject(1, FaultKind::Reset);
    assert_eq!(
        c.pin_status(),
        Err(CpxError::Card(CardError::ResetDuringCommand))
    );
    assert!(c.pin_status().is_ok());
}

#[test]
fn cps4_change_and_unblock() {
    let (mut c, card) = open("cps4-nurse");
    take_commands(&card);
    c.change_pin(b"1234", b"2468").unwrap();
    let cmds = take_commands(&card);
    assert_eq!(&cmds[0][..5], &[0x01, 0x20, 0x00, 0x01, 0x08]);
    assert_eq!(&cmds[1][..5], &[0x01, 0x24, 0x01, 0x01, 0x08]);
    c.login(b"2468").unwrap();
    // Unblock: PUK, RESET RETRY COUNTER without data, CHANGE REFERENCE DATA (new only).
    c.login_so(b"12345678").unwrap();
    take_commands(&card);
    let r = c.unblock_pin(b"1357");
    let cmds = take_commands(&card);
    assert_eq!(hex(&cmds[0]), "012C0381");
    assert_eq!(&cmds[1][..5], &[0x01, 0x24, 0x01, 0x01, 0x08]);
    assert_eq!(cmds.len(), 2);
    r.unwrap();
    c.login(b"1357").unwrap();
}

#[test]
fn golden_cps4_unblock() {
    let steps = "01 20 00 02 08 31 32 33 34 35 36 37 38 -> 90 00\n\
                 01 2C 03 81 -> 90 00\n\
                 01 24 01 01 08 31 33 35 37 FF FF FF FF -> 90 00\n";
    let (mut c, slot) = scripted("cps4-nurse", steps);
    c.login_so(b"12345678").unwrap();
    c.unblock_pin(b"1357").unwrap();
    finish(&slot);
}

// ---------------------------------------------------------------------------------------
// Removal, reset
// ---------------------------------------------------------------------------------------

#[test]
fn removal_and_reset() {
    let (mut c, card) = open("cps3-doctor");
    assert!(c.is_present());
    c.login(b"1234").unwrap();
    // Reset instead of an answer: reported once as such, then the card works again.
    card.lock().unwrap().inject(1, FaultKind::Reset);
    assert_eq!(
        c.pin_status(),
        Err(CpxError::Card(CardError::ResetDuringCommand))
    );
    let st = c.pin_status().unwrap();
    assert!(!st.verified, "a reset drops the PIN state");
    // Reset between two operations (another application): the next operation is not run,
    // the event is returned once, and nothing reached the card.
    take_commands(&card);
    card.lock().unwrap().reset();
    assert_eq!(
        c.pin_status(),
        Err(CpxError::Card(CardError::Transport(TransportError::Reset)))
    );
    assert!(take_commands(&card).is_empty(), "not run after a reset");
    assert!(c.pin_status().is_ok());
    // The operation after the reset checked first that the card is the bound one: EF.SN by
    // its SFI, once.
    let ef_sn = |a: &Vec<u8>| a.starts_with(&[0x00, 0xB0, 0x9C, 0x00]);
    let sent = take_commands(&card);
    assert!(sent.first().is_some_and(ef_sn), "EF.SN first: {sent:?}");
    assert!(c.pin_status().is_ok());
    assert!(
        !take_commands(&card).iter().any(ef_sn),
        "identity checked once"
    );
    assert!(c.is_present());
    assert!(take_commands(&card).is_empty(), "then no APDU");
    // Removal.
    card.lock().unwrap().remove();
    assert!(!c.is_present());
    assert!(matches!(
        c.pin_status(),
        Err(CpxError::Card(CardError::Transport(_)))
    ));
    card.lock().unwrap().insert();
    assert!(
        !c.is_present(),
        "a removed card stays gone for this binding"
    );
    assert!(matches!(
        c.pin_status(),
        Err(CpxError::Card(CardError::Transport(
            TransportError::Removed
        )))
    ));
}

/// A card swapped for another of the same ATR that PC/SC reports only as a reset (pcscd
/// missed the swap): the next operation finds another EF.SN and the binding is dead; no
/// command of the operation, above all no VERIFY, reaches the other card.
#[test]
fn swap_reported_as_a_reset_is_another_card() {
    for (a, b) in [
        ("cps3-doctor", "cps3-expired"),
        ("cps4-nurse", "cps4-pharmacist"),
    ] {
        let (mut c, card) = open(a);
        c.login(b"1234").unwrap();
        let other = crate::sim::SimCard::load(b).unwrap();
        card.lock().unwrap().swap_unseen(other);
        assert_eq!(
            c.pin_status(),
            Err(CpxError::Card(CardError::Transport(TransportError::Reset))),
            "{a} → {b}"
        );
        assert_eq!(
            c.pin_status(),
            Err(CpxError::Card(CardError::Transport(
                TransportError::Removed
            ))),
            "{a} → {b}"
        );
        let sent = take_commands(&card);
        assert!(
            sent.iter().all(|a| a.get(1) != Some(&0x20)),
            "{a} → {b}: a VERIFY reached the other card: {sent:?}"
        );
        assert!(!c.is_present(), "{a} → {b}: the binding is dead");
        assert_eq!(card.lock().unwrap().chv_status(0x01).unwrap().0, 3);
    }
}

// ---------------------------------------------------------------------------------------
// Golden traces (ScriptedTransport, strict mode)
// ---------------------------------------------------------------------------------------

/// A card bound on the simulator, re-attached to a strict script (same contents and
/// engine state), so a single operation's exact APDUs can be pinned.
fn scripted(
    persona: &str,
    steps: &str,
) -> (
    CpxCard,
    std::sync::Arc<std::sync::Mutex<Option<ScriptedTransport>>>,
) {
    let (bound, _) = open(persona);
    let text = format!("strict\natr {}\n{steps}", hex(&bound.contents.atr));
    let script = ScriptedTransport::parse(&text).unwrap();
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(script)));
    let card = CpxCard {
        transport: Box::new(Shared(slot.clone())),
        contents: bound.contents.clone(),
        session: bound.session.clone(),
        features: Default::default(),
    };
    (card, slot)
}

/// A transport that lends a shared ScriptedTransport (so the test can call `finish`).
struct Shared(std::sync::Arc<std::sync::Mutex<Option<ScriptedTransport>>>);

impl Transport for Shared {
    fn atr(&self) -> &[u8] {
        &[]
    }
    fn protocol(&self) -> Protocol {
        self.0.lock().unwrap().as_ref().unwrap().protocol()
    }
    fn transaction(
        &mut self,
        body: &mut crate::transport::TransactionBody<'_>,
    ) -> Result<(), TransportError> {
        self.0.lock().unwrap().as_mut().unwrap().transaction(body)
    }
}

fn finish(slot: &std::sync::Arc<std::sync::Mutex<Option<ScriptedTransport>>>) {
    slot.lock().unwrap().as_ref().unwrap().finish().unwrap();
}

#[test]
fn golden_cps3_login_and_hash_only_signature() {
    let sig = vec![0xA5u8; 256];
    let hash = soft::digest(HashAlg::Sha256, b"golden");
    let steps = format!(
        "00 20 00 01 08 31 32 33 35 FF FF FF FF -> 63 C2\n\
         00 20 00 01 08 31 32 33 34 FF FF FF FF -> 90 00\n\
         00 22 41 B6 06 80 01 42 84 01 81 -> 90 00\n\
         00 2A 9E 9A 20 {} -> 61 00\n\
         00 C0 00 00 00 -> {} 90 00\n",
        spaced(&hash),
        spaced(&sig)
    );
    let (mut c, slot) = scripted("cps3-doctor", &steps);
    assert_eq!(
        c.login(b"1235"),
        Err(CpxError::Card(CardError::PinIncorrect { tries_left: 2 }))
    );
    c.login(b"1234").unwrap();
    let k = key(&c, "CPS_PRIV_SIG").id.clone();
    assert_eq!(c.sign(&k, &SignInput::Pkcs1 { data: hash }).unwrap(), sig);
    finish(&slot);
}

#[test]
fn golden_cps3_partial_hash_and_decipher() {
    let m = message(100);
    let p = cps3::partial_hash(HashAlg::Sha256, &m);
    let sig = vec![0x3Cu8; 256];
    let cryptogram: Vec<u8> = (0..256).map(|i| i as u8).collect();
    let steps = format!(
        "00 22 41 AA 03 80 01 40 -> 90 00\n\
         00 2A 90 A0 50 90 28 {} 00 00 00 00 00 00 02 00 80 24 {} -> 90 00\n\
         00 22 41 B6 06 80 01 42 84 01 81 -> 90 00\n\
         00 2A 9E 9A 00 -> {} 90 00\n\
         00 22 41 B8 06 80 01 1A 84 01 82 -> 90 00\n\
         10 2A 80 86 FF 81 {} -> 90 00\n\
         00 2A 80 86 02 FE FF -> 61 05\n\
         00 C0 00 00 05 -> 01 02 03 04 05 90 00\n",
        spaced(&p.state),
        spaced(&m[64..]),
        spaced(&sig),
        spaced(&cryptogram[..254])
    );
    let (mut c, slot) = scripted("cps3-doctor", &steps);
    let ks = key(&c, "CPS_PRIV_SIG").id.clone();
    let ka = key(&c, "CPS_PRIV_AUT").id.clone();
    let out = c
        .sign(
            &ks,
            &SignInput::Pkcs1Message {
                alg: HashAlg::Sha256,
                message: m,
            },
        )
        .unwrap();
    assert_eq!(out, sig);
    assert_eq!(c.decrypt(&ka, &cryptogram).unwrap(), vec![1, 2, 3, 4, 5]);
    finish(&slot);
}

#[test]
fn golden_cps4_pss_and_raw_with_recovery() {
    let hash = soft::digest(HashAlg::Sha256, b"pss");
    let sig = vec![0x77u8; 256];
    let info = soft::digest_info(HashAlg::Sha1, &soft::digest(HashAlg::Sha1, b"raw")).unwrap();
    let block = soft::pkcs1_type1_pad(&info, 256).unwrap();
    let steps = format!(
        "01 22 81 B6 04 91 02 2C A0 -> 90 00\n\
         01 2A 9E 9A 20 {} 00 -> {} 90 00\n\
         01 22 41 B8 03 83 01 20 -> 69 85\n\
         01 A4 04 0C 07 A0 00 00 01 51 00 00 -> 90 00\n\
         00 A4 04 0C 08 80 25 00 00 01 FF 00 02 -> 90 00\n\
         01 A4 04 0C 08 80 25 00 00 01 FF 01 00 -> 90 00\n\
         01 22 41 B8 03 83 01 20 -> 90 00\n\
         11 2A 80 86 FF {} -> 90 00\n\
         01 2A 80 86 01 {} 00 -> {} 90 00\n",
        spaced(&hash),
        spaced(&sig),
        spaced(&block[..255]),
        spaced(&block[255..]),
        spaced(&sig)
    );
    let (mut c, slot) = scripted("cps4-nurse", &steps);
    let ka = key(&c, "CPS_PRIV_AUT").id.clone();
    assert_eq!(
        c.sign(
            &ka,
            &SignInput::Pss {
                alg: HashAlg::Sha256,
                hash
            }
        )
        .unwrap(),
        sig
    );
    assert_eq!(c.sign(&ka, &SignInput::Pkcs1 { data: info }).unwrap(), sig);
    finish(&slot);
}

#[test]
fn golden_cps4_wrong_pin_and_blocked() {
    let steps = "01 20 00 01 08 30 30 30 30 FF FF FF FF -> 63 C2\n\
                 01 20 00 01 08 30 30 30 30 FF FF FF FF -> 63 C0\n\
                 01 20 00 01 -> 69 83\n";
    let (mut c, slot) = scripted("cps4-nurse", steps);
    assert_eq!(
        c.login(b"0000"),
        Err(CpxError::Card(CardError::PinIncorrect { tries_left: 2 }))
    );
    // CPS4: 63 C0 means blocked (Cryptolib behaviour).
    assert_eq!(c.login(b"0000"), Err(CpxError::Card(CardError::PinBlocked)));
    let st = c.pin_status().unwrap();
    assert_eq!((st.tries_left, st.verified), (0, false));
    finish(&slot);
}

#[test]
fn cps4_logout() {
    let (mut c, card) = open("cps4-nurse");
    c.login(b"1234").unwrap();
    take_commands(&card);
    c.logout().unwrap();
    let cmds = take_commands(&card);
    assert_eq!(hex(&cmds[0]), "01A4040C088025000001FF0100");
    assert_eq!(hex(&cmds[1]), "01200001");
    eprintln!(
        "CPS4 PIN verified after logout: {}",
        card.lock().unwrap().chv_verified(1)
    );
}

#[test]
#[ignore = "diagnostic: prints the bind traces"]
fn print_bind_traces() {
    for persona in ["cps3-doctor", "cps4-nurse", "cps3-contactless"] {
        let (_, card) = open(persona);
        eprintln!("== {persona}\n{}", card.lock().unwrap().trace().render());
    }
}

/// C_SignInit's verdicts (no data yet, no APDU): which forms each key of each generation
/// takes; the same refusals `sign` gives once the data is there.
#[test]
fn sign_forms_each_key_takes() {
    use SignForm::*;
    let sha = HashAlg::Sha256;
    let all = [Pkcs1, Pkcs1Message(sha), Pss(sha), Raw];
    let cases: [(&str, &str, [bool; 4]); 4] = [
        ("cps3-doctor", "CPS_PRIV_AUT", [true, true, false, false]),
        ("cps3-doctor", "CPS_PRIV_SIG", [true, true, false, false]),
        ("cps4-nurse", "CPS_PRIV_AUT", [true, true, true, true]),
        ("cps4-nurse", "CPS_PRIV_SIG", [true, true, true, false]),
    ];
    for (persona, label, takes) in cases {
        let (c, card) = open(persona);
        take_commands(&card);
        let id = key(&c, label).id.clone();
        for (form, ok) in all.into_iter().zip(takes) {
            let expected = if ok {
                Ok(())
            } else {
                Err(CpxError::Refused(Refusal::KeyCannot))
            };
            assert_eq!(
                c.check_sign_form(&id, form),
                expected,
                "{persona} {label} {form:?}"
            );
        }
        assert_eq!(
            c.check_sign_form(b"no such key", Pkcs1),
            Err(CpxError::Missing(Missing::Key))
        );
        assert!(take_commands(&card).is_empty(), "no APDU for a check");
    }
}
