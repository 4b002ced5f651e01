//! Cards that move (issue: live cards): reset by another application with the PIN cache on
//! and off, reset in the middle of an operation, pulled and put back, swapped for another
//! card with the same ATR, and the fault matrix — the card pulled or reset at every APDU of
//! login, signature and decryption. In-process over simulated cards, which report resets
//! and removals as pcsc-lite does.

use super::error::Error;
use super::mechanism::Mechanism;
use super::object::Attr;
use super::session::Output;
use super::test_util::{find, module, open};
use super::Module;
use crate::sim::FaultKind;
use crate::transport::r#virtual::SharedCard;
use cryptoki_sys::*;

const PIN_REF: u8 = 0x01;

fn key(m: &mut Module, h: CK_SESSION_HANDLE, label: &str) -> CK_OBJECT_HANDLE {
    let found = find(
        m,
        h,
        &[
            Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
            Attr::new(CKA_LABEL, label),
        ],
    );
    assert_eq!(found.len(), 1, "{label}");
    found[0]
}

/// One CKM_SHA256_RSA_PKCS signature with the key labelled `label`.
fn sign(m: &mut Module, h: CK_SESSION_HANDLE, label: &str) -> Result<Vec<u8>, Error> {
    let k = key(m, h, label);
    m.sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), k)?;
    match m.sign(h, b"document", Some(512))? {
        Output::Bytes(sig) => Ok(sig),
        Output::Len(_) => panic!("no signature"),
    }
}

fn state(m: &mut Module, h: CK_SESSION_HANDLE) -> CK_STATE {
    m.session_info(h).expect("session info").state
}

/// (PIN tries left, VERIFY commands carrying a PIN so far).
fn pin_facts(card: &SharedCard) -> (u8, usize) {
    let c = card.lock().unwrap();
    let tries = c.chv_status(PIN_REF).expect("user PIN").0;
    let verifies = c
        .trace()
        .apdus()
        .iter()
        .filter(|(c, _)| c.len() > 5 && c[1] == 0x20)
        .count();
    (tries, verifies)
}

#[test]
fn reset_with_pin_cache_off_logs_the_token_out() {
    let (mut m, card) = module("cps3-doctor");
    m.pin_cache = false;
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    sign(&mut m, h, "CPS_PRIV_AUT").unwrap();
    card.lock().unwrap().reset();
    // The session says what the card says: logged out.
    assert_eq!(state(&mut m, h), CKS_RO_PUBLIC_SESSION);
    // The private key is gone with the login; C_Login works again at once.
    assert!(find(&mut m, h, &[Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY)]).is_empty());
    m.login(h, CKU_USER, b"1234").unwrap();
    assert_eq!(state(&mut m, h), CKS_RO_USER_FUNCTIONS);
    sign(&mut m, h, "CPS_PRIV_AUT").unwrap();
}

#[test]
fn reset_with_pin_cache_off_fails_the_next_signature_as_not_logged_in() {
    let (mut m, card) = module("cps3-doctor");
    m.pin_cache = false;
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    let k = key(&mut m, h, "CPS_PRIV_AUT");
    m.sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), k)
        .unwrap();
    card.lock().unwrap().reset();
    assert!(matches!(
        m.sign(h, b"document", Some(512)),
        Err(Error::Card(_))
    ));
    assert_eq!(
        m.sign(h, b"document", Some(512))
            .map(|_| ())
            .unwrap_err()
            .rv(),
        CKR_OPERATION_NOT_INITIALIZED,
        "a failed C_Sign ends the operation"
    );
    assert_eq!(state(&mut m, h), CKS_RO_PUBLIC_SESSION);
    assert!(matches!(m.login(h, CKU_USER, b"1234"), Ok(()),));
}

#[test]
fn reset_with_pin_cache_on_is_transparent() {
    let (mut m, card) = module("cps3-doctor");
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    let (tries, verifies) = pin_facts(&card);
    card.lock().unwrap().reset();
    sign(&mut m, h, "CPS_PRIV_AUT").unwrap();
    assert_eq!(state(&mut m, h), CKS_RO_USER_FUNCTIONS);
    assert_eq!(
        pin_facts(&card),
        (tries, verifies + 1),
        "one silent VERIFY, no try spent"
    );
}

#[test]
fn reset_during_a_signature_is_replayed_with_the_pin_cache_on() {
    for persona in ["cps3-doctor", "cps4-nurse"] {
        for at in 1..=4 {
            let (mut m, card) = module(persona);
            let h = open(&mut m, false);
            m.login(h, CKU_USER, b"1234").unwrap();
            let k = key(&mut m, h, "CPS_PRIV_AUT");
            m.sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), k)
                .unwrap();
            card.lock().unwrap().inject(at, FaultKind::Reset);
            let r = m.sign(h, b"document", Some(512));
            assert!(
                matches!(r, Ok(Output::Bytes(ref s)) if s.len() == 256),
                "{persona}, reset at APDU {at}: {r:?}"
            );
            assert_eq!(state(&mut m, h), CKS_RO_USER_FUNCTIONS);
        }
    }
}

#[test]
fn card_pulled_and_put_back_while_idle_is_a_fresh_token() {
    let (mut m, card) = module("cps3-doctor");
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    {
        let mut c = card.lock().unwrap();
        c.remove();
        c.insert();
    }
    // Between two scans the reader saw a card both times: its event counter tells.
    assert!(matches!(
        m.session_info(h),
        Err(Error::SessionHandleInvalid(_))
    ));
    let h2 = open(&mut m, false);
    assert_eq!(state(&mut m, h2), CKS_RO_PUBLIC_SESSION);
    assert!(find(&mut m, h2, &[Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY)]).is_empty());
}

/// The certificates' CKA_VALUEs a fresh session sees on slot 0.
fn certificates(m: &mut Module) -> Vec<Vec<u8>> {
    let h = open(m, false);
    let certs = find(m, h, &[Attr::ulong(CKA_CLASS, CKO_CERTIFICATE)]);
    let values = certs
        .iter()
        .map(|&o| super::test_util::value(m, h, o, CKA_VALUE))
        .collect();
    m.close_session(h).unwrap();
    values
}

#[test]
fn card_swapped_for_another_with_the_same_atr_is_never_confused() {
    let (mut m, card) = module("cps3-doctor");
    let a = certificates(&mut m);
    let label_a = m.token_info(0).unwrap().label;
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    let other = crate::sim::SimCard::load("cps3-expired").unwrap();
    assert_eq!(other.atr(), card.lock().unwrap().atr(), "same ATR");
    card.lock().unwrap().swap(other);
    // Calls served from memory: the old session is gone, the token is the new card's.
    assert!(matches!(
        m.session_info(h),
        Err(Error::SessionHandleInvalid(_))
    ));
    let label_b = m.token_info(0).unwrap().label;
    assert_ne!(label_a, label_b);
    let b = certificates(&mut m);
    assert!(!b.is_empty());
    assert!(b.iter().all(|c| !a.contains(c)), "none of A's certificates");
    // And the PIN state is B's: nobody logged in.
    let h2 = open(&mut m, false);
    assert_eq!(state(&mut m, h2), CKS_RO_PUBLIC_SESSION);
}

/// A swap PC/SC reports as a reset only (pcscd missed it: the new card was found
/// unpowered). With the PIN cache on the module would replay the kept PIN after a reset: it
/// first finds another EF.SN, so the kept PIN never reaches the other card, which signs
/// nothing; the token is the other card's, logged out.
#[test]
fn swap_reported_as_a_reset_never_gets_the_kept_pin() {
    for (a, b) in [
        ("cps3-doctor", "cps3-expired"),
        ("cpe-staff", "cps3-doctor"),
        ("cps4-nurse", "cps4-pharmacist"),
    ] {
        let (mut m, card) = module(a);
        assert!(m.pin_cache);
        let a_certs = certificates(&mut m);
        let h = open(&mut m, false);
        m.login(h, CKU_USER, b"1234").unwrap();
        let k = key(&mut m, h, "CPS_PRIV_AUT");
        card.lock()
            .unwrap()
            .swap_unseen(crate::sim::SimCard::load(b).unwrap());
        m.sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), k)
            .unwrap();
        let r = m.sign(h, b"document", Some(512));
        assert!(matches!(&r, Err(e) if e.is_removal()), "{a} → {b}: {r:?}");
        {
            let c = card.lock().unwrap();
            let sent: Vec<_> = c.trace().apdus().into_iter().map(|(c, _)| c).collect();
            assert!(
                sent.iter()
                    .all(|c| !matches!(c.get(1), Some(0x20 | 0x88 | 0x2A))),
                "{a} → {b}: the kept PIN or a signature reached the other card: {sent:?}"
            );
            assert!(!c.chv_verified(PIN_REF), "{a} → {b}");
            assert_eq!(c.chv_status(PIN_REF).unwrap().0, 3, "{a} → {b}");
        }
        assert!(matches!(
            m.session_info(h),
            Err(Error::SessionHandleInvalid(_))
        ));
        let b_certs = certificates(&mut m);
        assert!(!b_certs.is_empty());
        assert!(b_certs.iter().all(|c| !a_certs.contains(c)), "{a} → {b}");
        let h2 = open(&mut m, false);
        assert_eq!(state(&mut m, h2), CKS_RO_PUBLIC_SESSION, "{a} → {b}");
    }
}

/// A swap nobody reports (neither removal nor reset: the new card simply answers). The
/// signature meets "security status not satisfied" and the PIN cache would replay the kept
/// PIN: the replay first checks EF.SN, finds another card, and sends it nothing.
#[test]
fn silent_swap_never_gets_the_kept_pin() {
    for (a, b) in [
        ("cps3-doctor", "cps3-expired"),
        ("cps4-nurse", "cps4-pharmacist"),
    ] {
        let (mut m, card) = module(a);
        let h = open(&mut m, false);
        m.login(h, CKU_USER, b"1234").unwrap();
        card.lock()
            .unwrap()
            .swap_silent(crate::sim::SimCard::load(b).unwrap());
        let r = sign(&mut m, h, "CPS_PRIV_AUT");
        assert!(matches!(&r, Err(e) if e.is_removal()), "{a} → {b}: {r:?}");
        let c = card.lock().unwrap();
        assert!(
            !c.chv_verified(PIN_REF),
            "{a} → {b}: the kept PIN reached the other card"
        );
        assert_eq!(c.chv_status(PIN_REF).unwrap().0, 3, "{a} → {b}");
    }
}

/// C_Login, then a decryption by the authentication key of what its public key encrypted.
fn decrypt(m: &mut Module, h: CK_SESSION_HANDLE) -> Result<(), Error> {
    m.login(h, CKU_USER, b"1234")?;
    let found = find(
        m,
        h,
        &[
            Attr::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            Attr::new(
                CKA_LABEL,
                "Cle publique - Certificat d'Authentification CPS",
            ),
        ],
    );
    m.encrypt_init(h, &Mechanism::new(CKM_RSA_PKCS), found[0])?;
    let Output::Bytes(c) = m.encrypt(h, b"secret", Some(512))? else {
        panic!("no cryptogram")
    };
    let k = key(m, h, "CPS_PRIV_AUT");
    m.decrypt_init(h, &Mechanism::new(CKM_RSA_PKCS), k)?;
    match m.decrypt(h, &c, Some(512))? {
        Output::Bytes(p) if p == b"secret" => Ok(()),
        other => panic!("decrypted {other:?}"),
    }
}

/// The fault matrix: the card pulled (or reset) at every APDU of an operation. Each time an
/// error or a result — no panic, no hang —, no session left pointing at a pulled card, the
/// PIN try counter untouched, and the first operation after reinsertion works.
#[test]
fn fault_matrix_pull_and_reset_at_every_apdu() {
    type Op = fn(&mut Module) -> Result<(), Error>;
    fn session(m: &mut Module) -> Result<CK_SESSION_HANDLE, Error> {
        m.open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
    }
    let ops: [(&str, Op); 6] = [
        ("bind", |m| m.token_info(0).map(|_| ())),
        ("login", |m| {
            let h = session(m)?;
            m.login(h, CKU_USER, b"1234")
        }),
        ("sign with the authentication key", |m| {
            let h = session(m)?;
            m.login(h, CKU_USER, b"1234")?;
            sign(m, h, "CPS_PRIV_AUT").map(|_| ())
        }),
        ("sign with the signature key", |m| {
            let h = session(m)?;
            m.login(h, CKU_USER, b"1234")?;
            sign(m, h, "CPS_PRIV_SIG").map(|_| ())
        }),
        ("decrypt", |m| {
            let h = session(m)?;
            decrypt(m, h)
        }),
        ("change the PIN to itself", |m| {
            let h = session(m)?;
            m.set_pin(h, b"1234", b"1234")
        }),
    ];
    for persona in ["cps3-doctor", "cps4-nurse"] {
        for (name, op) in ops {
            for fault in [FaultKind::Remove, FaultKind::Reset] {
                let mut at = 1;
                loop {
                    let (mut m, card) = module(persona);
                    let tries = card.lock().unwrap().chv_status(PIN_REF).unwrap().0;
                    card.lock().unwrap().inject(at, fault.clone());
                    let r = op(&mut m);
                    let fired = {
                        let plan = card.lock().unwrap().faults();
                        let mut plan = plan.lock().unwrap();
                        let fired = plan.is_empty();
                        *plan = Default::default();
                        fired
                    };
                    let what = format!("{persona}: {name}, {fault:?} at APDU {at}: {r:?}");
                    if fault == FaultKind::Remove && fired {
                        assert!(r.is_err(), "{what}");
                        assert!(
                            m.sessions.is_empty(),
                            "{what}: sessions left on the pulled card"
                        );
                        card.lock().unwrap().insert();
                    }
                    assert_eq!(
                        card.lock().unwrap().chv_status(PIN_REF).unwrap().0,
                        tries,
                        "{what}: the try counter moved"
                    );
                    // The first operation after the fault (and reinsertion) works.
                    let h2 = m.open_session(0, CKF_SERIAL_SESSION).unwrap();
                    if m.session_info(h2).unwrap().state == CKS_RO_PUBLIC_SESSION {
                        m.login(h2, CKU_USER, b"1234")
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                    }
                    sign(&mut m, h2, "CPS_PRIV_AUT").unwrap_or_else(|e| panic!("{what}: {e}"));
                    if !fired {
                        break; // the operation took fewer APDUs than `at`
                    }
                    at += 1;
                    assert!(at < 120, "{what}: too many APDUs");
                }
            }
        }
    }
}
