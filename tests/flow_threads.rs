//! Threads: 8 threads × 200 signatures spread over two simulated cards (a CPS3 and a CPS4)
//! through the built cdylib, each signature verified with the certificate's public key.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use rsa::pkcs8::DecodePublicKey;
use rsa::Pkcs1v15Sign;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Encode};

const THREADS: usize = 8;
const SIGNATURES: usize = 200;

fn public_key(der: &[u8]) -> RsaPublicKey {
    let cert = x509_cert::Certificate::from_der(der).unwrap();
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    RsaPublicKey::from_public_key_der(&spki).unwrap()
}

#[test]
fn eight_threads_sign_on_two_cards() {
    let p11 = load("cps3-doctor,cps4-nurse");
    let slots = p11.get_slots_with_token().unwrap();
    assert_eq!(slots.len(), 2);
    // Login is per token: once per card, from a session that stays open.
    let keep: Vec<_> = slots
        .iter()
        .map(|&slot| {
            let s = p11.open_ro_session(slot).unwrap();
            s.login(UserType::User, Some(&auth_pin("1234"))).unwrap();
            s
        })
        .collect();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let p11 = p11.clone();
            let slot = slots[t % slots.len()];
            std::thread::spawn(move || {
                let s = p11.open_ro_session(slot).unwrap();
                let key = one(
                    &s,
                    &[
                        Attribute::Class(ObjectClass::PRIVATE_KEY),
                        Attribute::Label(b"CPS_PRIV_AUT".to_vec()),
                    ],
                );
                let cert = one(
                    &s,
                    &[
                        Attribute::Class(ObjectClass::CERTIFICATE),
                        Attribute::Label(b"Certificat d'Authentification CPS".to_vec()),
                    ],
                );
                let public = public_key(&attr(&s, cert, AttributeType::Value));
                for i in 0..SIGNATURES {
                    let data = format!("thread {t} document {i}");
                    let sig = s
                        .sign(&Mechanism::Sha256RsaPkcs, key, data.as_bytes())
                        .unwrap_or_else(|e| panic!("thread {t}, signature {i}: {e}"));
                    public
                        .verify(
                            Pkcs1v15Sign::new::<Sha256>(),
                            &Sha256::digest(data.as_bytes()),
                            &sig,
                        )
                        .unwrap_or_else(|e| panic!("thread {t}, signature {i}: {e}"));
                }
                SIGNATURES
            })
        })
        .collect();
    let done: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(done, THREADS * SIGNATURES);
    drop(keep);
}
