//! Module tests in-process (`style.md` §9 tier 3): a fresh `Module` over simulated cards
//! per test, so tests run in parallel. They exercise the card layer through the module.

use super::error::Error;
use super::mechanism::{self, Mechanism};
use super::object::{Attr, AttrLookup};
use super::session::Output;
use super::test_util::{apdus, find, module, module_coalesced, open, value};
use super::Module;
use crate::cpx::HashAlg;
use cryptoki_sys::*;

fn key(
    m: &mut Module,
    h: CK_SESSION_HANDLE,
    class: CK_OBJECT_CLASS,
    label: &str,
) -> CK_OBJECT_HANDLE {
    let found = find(
        m,
        h,
        &[Attr::ulong(CKA_CLASS, class), Attr::new(CKA_LABEL, label)],
    );
    assert_eq!(found.len(), 1, "{label}");
    found[0]
}

fn sign(
    m: &mut Module,
    h: CK_SESSION_HANDLE,
    mech: Mechanism,
    k: CK_OBJECT_HANDLE,
    data: &[u8],
) -> Vec<u8> {
    m.sign_init(h, &mech, k).unwrap();
    // Length query keeps the operation.
    let Output::Len(n) = m.sign(h, data, None).unwrap() else {
        panic!("length query")
    };
    match m.sign(h, data, Some(n)).unwrap() {
        Output::Bytes(sig) => sig,
        Output::Len(_) => panic!("no signature"),
    }
}

fn verify(
    m: &mut Module,
    h: CK_SESSION_HANDLE,
    mech: Mechanism,
    k: CK_OBJECT_HANDLE,
    data: &[u8],
    sig: &[u8],
) -> Result<(), Error> {
    m.verify_init(h, &mech, k).unwrap();
    m.verify(h, data, sig)
}

#[test]
fn cps3_token_info() {
    let (mut m, _) = module("cps3-doctor");
    assert_eq!(m.slot_list(true), vec![0]);
    let s = m.slot_info(0).unwrap();
    assert_ne!(s.flags & CKF_TOKEN_PRESENT, 0);
    let t = m.token_info(0).unwrap();
    assert_eq!(t.label, "CPS3v3-2699700011");
    assert_eq!(t.serial, "99700011");
    assert_eq!(t.model, "IAS ECC");
    let want = CKF_TOKEN_INITIALIZED | CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED;
    assert_eq!(t.flags & want, want);
    assert_eq!(t.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED), 0);
    assert!(matches!(m.token_info(7), Err(Error::SlotIdInvalid(7))));
    assert!(m.mechanism_list(0).unwrap().contains(&CKM_SHA256_RSA_PKCS));
    assert!(!m.mechanism_list(0).unwrap().contains(&CKM_RSA_PKCS_PSS));
}

#[test]
fn private_objects_appear_after_login() {
    let (mut m, _) = module("cps3-doctor");
    let h = open(&mut m, false);
    let certs = find(&mut m, h, &[Attr::ulong(CKA_CLASS, CKO_CERTIFICATE)]);
    assert_eq!(certs.len(), 2);
    assert!(find(&mut m, h, &[Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY)]).is_empty());
    // Unknown attribute type: matches nothing, no error.
    assert!(find(&mut m, h, &[Attr::new(0x8000_1234, vec![1])]).is_empty());
    m.login(h, CKU_USER, b"1234").unwrap();
    let keys = find(&mut m, h, &[Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY)]);
    assert_eq!(keys.len(), 2);
    let sig = key(&mut m, h, CKO_PRIVATE_KEY, "CPS_PRIV_SIG");
    let id = value(&mut m, h, sig, CKA_ID);
    assert_eq!(id.last(), Some(&0x01));
    let cert = key(&mut m, h, CKO_CERTIFICATE, "Certificat de Signature CPS");
    assert_eq!(value(&mut m, h, cert, CKA_ID), id);
    let pubk = key(
        &mut m,
        h,
        CKO_PUBLIC_KEY,
        "Cle publique - Certificat de Signature CPS",
    );
    assert_eq!(
        value(&mut m, h, pubk, CKA_MODULUS),
        value(&mut m, h, sig, CKA_MODULUS)
    );
    let r = m
        .get_attributes(h, sig, &[CKA_PRIVATE_EXPONENT, CKA_LABEL, 0x8000_9999])
        .unwrap();
    assert_eq!(r[0], AttrLookup::Sensitive);
    assert_eq!(r[1], AttrLookup::Value(b"CPS_PRIV_SIG".to_vec()));
    assert_eq!(r[2], AttrLookup::Invalid);
    m.logout(h).unwrap();
    assert!(matches!(
        m.get_attributes(h, sig, &[CKA_LABEL]),
        Err(Error::ObjectHandleInvalid(_))
    ));
    assert!(matches!(m.logout(h), Err(Error::UserNotLoggedIn)));
}

#[test]
fn login_rules() {
    let (mut m, _) = module("cps3-doctor");
    let ro = open(&mut m, false);
    // Outside the AODF bounds: refused without costing a try.
    assert!(matches!(
        m.login(ro, CKU_USER, b"12"),
        Err(Error::PinIncorrect)
    ));
    assert_eq!(m.token_info(0).unwrap().flags & CKF_USER_PIN_COUNT_LOW, 0);
    assert!(matches!(
        m.login(ro, 7, b"1234"),
        Err(Error::UserTypeInvalid(7))
    ));
    assert!(matches!(
        m.login(ro, CKU_SO, b"12345678"),
        Err(Error::SessionReadOnlyExists)
    ));
    let r = m.login(ro, CKU_USER, b"9999");
    assert_eq!(r.unwrap_err().rv(), CKR_PIN_INCORRECT);
    std::thread::sleep(m.pin_status_ttl);
    assert_ne!(m.token_info(0).unwrap().flags & CKF_USER_PIN_COUNT_LOW, 0);
    m.login(ro, CKU_USER, b"1234").unwrap();
    assert!(matches!(
        m.login(ro, CKU_USER, b"1234"),
        Err(Error::UserAlreadyLoggedIn)
    ));
    assert!(matches!(
        m.login(ro, CKU_SO, b"12345678"),
        Err(Error::UserAnotherAlreadyLoggedIn)
    ));
    let info = m.session_info(ro).unwrap();
    assert_eq!(info.state, CKS_RO_USER_FUNCTIONS);
    // Closing the last session logs out.
    m.close_session(ro).unwrap();
    let h = open(&mut m, false);
    assert_eq!(m.session_info(h).unwrap().state, CKS_RO_PUBLIC_SESSION);
    assert!(matches!(
        m.close_session(ro),
        Err(Error::SessionHandleInvalid(_))
    ));
}

#[test]
fn cps3_sign_all_mechanisms_and_verify() {
    let (mut m, _) = module("cps3-doctor");
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    let msg = b"message to sign";
    for label in ["CPS_PRIV_SIG", "CPS_PRIV_AUT"] {
        let k = key(&mut m, h, CKO_PRIVATE_KEY, label);
        let cert_label = if label == "CPS_PRIV_SIG" {
            "Certificat de Signature CPS"
        } else {
            "Certificat d'Authentification CPS"
        };
        let pk = key(
            &mut m,
            h,
            CKO_PUBLIC_KEY,
            &format!("Cle publique - {cert_label}"),
        );
        for alg in [HashAlg::Sha1, HashAlg::Sha256] {
            let info = mechanism::digest_info_of(alg, msg).unwrap();
            let sig = sign(&mut m, h, Mechanism::new(CKM_RSA_PKCS), k, &info);
            assert_eq!(sig.len(), 256);
            verify(&mut m, h, Mechanism::new(CKM_RSA_PKCS), pk, &info, &sig).unwrap();
            let mech = if alg == HashAlg::Sha1 {
                CKM_SHA1_RSA_PKCS
            } else {
                CKM_SHA256_RSA_PKCS
            };
            let sig2 = sign(&mut m, h, Mechanism::new(mech), k, msg);
            assert_eq!(sig, sig2, "{label} {alg:?}: PKCS#1 v1.5 is deterministic");
            verify(&mut m, h, Mechanism::new(mech), pk, msg, &sig2).unwrap();
            assert!(matches!(
                verify(&mut m, h, Mechanism::new(mech), pk, b"other", &sig2),
                Err(Error::SignatureInvalid)
            ));
        }
    }
}

#[test]
fn operation_state_rules() {
    let (mut m, _) = module("cps3-doctor");
    let h = open(&mut m, false);
    let sig_cert = key(&mut m, h, CKO_CERTIFICATE, "Certificat de Signature CPS");
    // Not logged in: the key is invisible; a certificate is the wrong kind of key.
    assert!(matches!(
        m.sign_init(h, &Mechanism::new(CKM_RSA_PKCS), sig_cert),
        Err(Error::KeyTypeInconsistent)
    ));
    assert!(matches!(
        m.sign_init(h, &Mechanism::new(CKM_RSA_PKCS), 9999),
        Err(Error::KeyHandleInvalid(_))
    ));
    assert!(matches!(
        m.decrypt_init(h, &Mechanism::new(CKM_RSA_PKCS), 9999),
        Err(Error::ObjectHandleInvalid(_))
    ));
    m.login(h, CKU_USER, b"1234").unwrap();
    let k = key(&mut m, h, CKO_PRIVATE_KEY, "CPS_PRIV_SIG");
    assert!(matches!(
        m.sign_init(h, &Mechanism::new(CKM_RSA_PKCS_PSS), k),
        Err(Error::MechanismInvalid(_))
    ));
    m.sign_init(h, &Mechanism::new(CKM_RSA_PKCS), k).unwrap();
    assert!(matches!(
        m.sign_init(h, &Mechanism::new(CKM_RSA_PKCS), k),
        Err(Error::OperationActive)
    ));
    assert_eq!(m.sign(h, &[0; 32], Some(10)).unwrap(), Output::Len(256));
    // Wrong length for the signature key ends the operation.
    assert_eq!(
        m.sign(h, &[0; 33], Some(256)).unwrap_err().rv(),
        CKR_DATA_LEN_RANGE
    );
    assert!(matches!(
        m.sign(h, &[0; 32], Some(256)),
        Err(Error::OperationNotInitialized)
    ));
    // Digest, then DigestFinal is tolerated (compat §14).
    m.digest_init(h, &Mechanism::new(CKM_SHA256)).unwrap();
    let Output::Bytes(d) = m.digest(h, b"abc", Some(32)).unwrap() else {
        panic!()
    };
    assert_eq!(d, mechanism::hash(HashAlg::Sha256, b"abc"));
    assert_eq!(m.digest_final(h, Some(32)).unwrap(), Output::Bytes(d));
    assert!(matches!(
        m.digest_final(h, Some(32)),
        Err(Error::OperationNotInitialized)
    ));
}

#[test]
fn decrypt_what_was_encrypted() {
    let (mut m, _) = module("cps3-doctor");
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    let pk = key(
        &mut m,
        h,
        CKO_PUBLIC_KEY,
        "Cle publique - Certificat d'Authentification CPS",
    );
    let pk_sig = key(
        &mut m,
        h,
        CKO_PUBLIC_KEY,
        "Cle publique - Certificat de Signature CPS",
    );
    assert!(matches!(
        m.encrypt_init(h, &Mechanism::new(CKM_RSA_PKCS), pk_sig),
        Err(Error::KeyTypeInconsistent)
    ));
    m.encrypt_init(h, &Mechanism::new(CKM_RSA_PKCS), pk)
        .unwrap();
    let Output::Bytes(c) = m.encrypt(h, b"secret", Some(256)).unwrap() else {
        panic!()
    };
    let k = key(&mut m, h, CKO_PRIVATE_KEY, "CPS_PRIV_AUT");
    m.decrypt_init(h, &Mechanism::new(CKM_RSA_PKCS), k).unwrap();
    assert_eq!(m.decrypt(h, &c, None).unwrap(), Output::Len(256));
    assert_eq!(
        m.decrypt(h, &c, Some(256)).unwrap(),
        Output::Bytes(b"secret".to_vec())
    );
}

#[test]
fn removal_invalidates_sessions() {
    let (mut m, card) = module("cps3-doctor");
    let h = open(&mut m, false);
    card.lock().unwrap().remove();
    assert!(matches!(
        m.session_info(h),
        Err(Error::SessionHandleInvalid(_))
    ));
    assert!(matches!(m.token_info(0), Err(Error::TokenNotPresent)));
    assert_eq!(m.slot_list(true), Vec::<CK_SLOT_ID>::new());
    assert_eq!(m.slot_list(false), vec![0]);
    assert_eq!(m.poll_slot_event().unwrap(), 0);
    assert!(matches!(m.poll_slot_event(), Err(Error::NoEvent)));
    card.lock().unwrap().insert();
    assert_eq!(m.token_info(0).unwrap().label, "CPS3v3-2699700011");
    let h2 = open(&mut m, false);
    assert!(h2 > h, "handles are never reused");
}

#[test]
fn cps4_pss_and_raw() {
    let (mut m, _) = module("cps4-nurse");
    let t = m.token_info(0).unwrap();
    assert_eq!(t.model, "ChipDoc");
    assert!(t.label.starts_with("CPS4v1-"));
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    let k = key(&mut m, h, CKO_PRIVATE_KEY, "CPS_PRIV_AUT");
    let pk = key(
        &mut m,
        h,
        CKO_PUBLIC_KEY,
        "Cle publique - Certificat d'Authentification CPS",
    );
    for (mech, alg) in [
        (CKM_SHA1_RSA_PKCS_PSS, HashAlg::Sha1),
        (CKM_SHA256_RSA_PKCS_PSS, HashAlg::Sha256),
    ] {
        let mech = Mechanism {
            ty: mech,
            param: mechanism::pss_params(alg),
        };
        let sig = sign(&mut m, h, mech.clone(), k, b"tls 1.3 transcript");
        verify(&mut m, h, mech, pk, b"tls 1.3 transcript", &sig).unwrap();
    }
    let bad = Mechanism {
        ty: CKM_SHA256_RSA_PKCS_PSS,
        param: mechanism::pss_params(HashAlg::Sha1),
    };
    assert!(matches!(
        m.sign_init(h, &bad, k),
        Err(Error::MechanismParamInvalid)
    ));
    let sig = sign(&mut m, h, Mechanism::new(CKM_RSA_X_509), k, &[0x5a; 200]);
    verify(
        &mut m,
        h,
        Mechanism::new(CKM_RSA_X_509),
        pk,
        &[0x5a; 200],
        &sig,
    )
    .unwrap();
    // Listed for the token, but the signature key has no raw RSA: "invalid for this key",
    // which lets mechanism probes (pkcs11-tool --test) go on.
    let sig_key = key(&mut m, h, CKO_PRIVATE_KEY, "CPS_PRIV_SIG");
    assert!(matches!(
        m.sign_init(h, &Mechanism::new(CKM_RSA_X_509), sig_key),
        Err(Error::MechanismInvalid(CKM_RSA_X_509))
    ));
}

#[test]
fn contactless_signs_without_login() {
    let (mut m, _) = module("cps3-contactless");
    let t = m.token_info(0).unwrap();
    assert_eq!(t.label, "CPS3v3_CL");
    assert_eq!(t.flags & CKF_LOGIN_REQUIRED, 0);
    assert_eq!((t.min_pin, t.max_pin), (4, 8));
    let h = open(&mut m, false);
    assert!(matches!(
        m.login(h, CKU_USER, b"1234"),
        Err(Error::UserPinNotInitialized)
    ));
    assert!(matches!(m.logout(h), Err(Error::UserNotLoggedIn)));
    let k = key(&mut m, h, CKO_PRIVATE_KEY, "CPS_PRIV_TECH_AUT");
    let sig = sign(&mut m, h, Mechanism::new(CKM_RSA_PKCS), k, b"challenge");
    assert_eq!(sig.len(), 256);
}

#[test]
fn blocked_pin_is_reported_locked() {
    let (mut m, _) = module("cps3-pharmacist-blocked");
    assert_ne!(m.token_info(0).unwrap().flags & CKF_USER_PIN_LOCKED, 0);
    let h = open(&mut m, false);
    let r = m.login(h, CKU_USER, b"1234");
    assert_eq!(r.unwrap_err().rv(), CKR_PIN_LOCKED);
}

#[test]
fn attribute_reads_cost_no_apdu() {
    let (mut m, card) = module("cps3-doctor");
    let h = open(&mut m, false);
    let before = apdus(&card);
    let certs = find(&mut m, h, &[Attr::ulong(CKA_CLASS, CKO_CERTIFICATE)]);
    for c in certs {
        value(&mut m, h, c, CKA_VALUE);
        value(&mut m, h, c, CKA_SUBJECT);
    }
    let data = find(
        &mut m,
        h,
        &[
            Attr::ulong(CKA_CLASS, CKO_DATA),
            Attr::bool(CKA_PRIVATE, false),
        ],
    );
    assert!(!data.is_empty());
    // CPS_DATA (modifiable: another program may write it) is read when first asked for,
    // once; every other public value was read at bind.
    let cps_data = find(&mut m, h, &[Attr::new(CKA_LABEL, "CPS_DATA")]);
    for &d in &data {
        if !cps_data.contains(&d) {
            m.get_attributes(h, d, &[CKA_VALUE, CKA_LABEL]).unwrap();
        }
    }
    assert_eq!(apdus(&card), before);
    assert_eq!(value(&mut m, h, cps_data[0], CKA_VALUE), vec![0u8; 256]);
    let read = apdus(&card) - before;
    assert!((1..=4).contains(&read), "CPS_DATA read: {read} APDUs");
    for d in data {
        m.get_attributes(h, d, &[CKA_VALUE, CKA_LABEL]).unwrap();
    }
    assert_eq!(apdus(&card), before + read);
}

#[test]
fn cps_data_write_and_private_objects() {
    let (mut m, _) = module("cps3-doctor");
    let ro = open(&mut m, false);
    let template = [
        Attr::ulong(CKA_CLASS, CKO_DATA),
        Attr::bool(CKA_TOKEN, true),
        Attr::bool(CKA_MODIFIABLE, true),
        Attr::new(CKA_LABEL, "CPS_DATA"),
    ];
    let d = find(&mut m, ro, &template);
    assert_eq!(d.len(), 1);
    let before = value(&mut m, ro, d[0], CKA_VALUE);
    assert!(matches!(
        m.set_attributes(ro, d[0], &[Attr::new(CKA_VALUE, b"x".to_vec())]),
        Err(Error::SessionReadOnly)
    ));
    let name = find(
        &mut m,
        ro,
        &[
            Attr::new(CKA_LABEL, "CPS_NAME_PS"),
            Attr::bool(CKA_PRIVATE, false),
        ],
    );
    assert_eq!(name.len(), 1);
    assert!(find(&mut m, ro, &[Attr::new(CKA_LABEL, "CPS_ACTIVITY_01_PS")]).is_empty());
    let rw = open(&mut m, true);
    m.login(rw, CKU_USER, b"1234").unwrap();
    let act = find(&mut m, rw, &[Attr::new(CKA_LABEL, "CPS_ACTIVITY_01_PS")]);
    assert_eq!(act.len(), 1);
    assert!(!value(&mut m, rw, act[0], CKA_VALUE).is_empty());
    m.set_attributes(rw, d[0], &[Attr::new(CKA_VALUE, b"hello".to_vec())])
        .unwrap();
    let after = value(&mut m, rw, d[0], CKA_VALUE);
    assert!(after.starts_with(b"hello"));
    assert_eq!(after.len(), before.len(), "zero-padded to the file size");
}

/// The reader scan is coalesced within `scan_ttl` (the C ABI's setting), but a card that
/// leaves is still noticed at the next card operation, and C_GetSlotList always re-scans.
#[test]
fn coalesced_scans_still_notice_removal() {
    let (mut m, card) = module_coalesced("cps3-doctor", std::time::Duration::from_secs(3600));
    let h = open(&mut m, false);
    card.lock().unwrap().remove();
    // Within the window the session still looks valid to calls that need no card I/O…
    assert!(m.session_info(h).is_ok());
    // …but the first card operation finds the card gone and invalidates everything.
    assert!(m.random(h, 8).is_err());
    assert!(matches!(
        m.session_info(h),
        Err(Error::SessionHandleInvalid(_))
    ));
    card.lock().unwrap().insert();
    assert_eq!(m.slot_list(true), vec![0], "C_GetSlotList re-scans");
}

/// Within the listing window (`scan_ttl`) calls served from memory do not look for a swap;
/// once it has passed, the next call sees the reader's event counter moved: the first card's
/// session is gone and the token is the other card's.
#[test]
fn coalesced_swap_is_seen_after_the_window() {
    let window = std::time::Duration::from_millis(50);
    let (mut m, card) = module_coalesced("cps3-doctor", window);
    let label_a = m.token_info(0).unwrap().label;
    let h = open(&mut m, false);
    let other = crate::sim::SimCard::load("cps3-expired").unwrap();
    card.lock().unwrap().swap(other);
    std::thread::sleep(window * 2);
    assert!(matches!(
        m.session_info(h),
        Err(Error::SessionHandleInvalid(_))
    ));
    assert_ne!(m.token_info(0).unwrap().label, label_a);
}
