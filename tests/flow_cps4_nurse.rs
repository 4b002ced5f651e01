//! Library integration, `CPX_SIM_CARDS=cps4-nurse`: the CPS4 dialect through the built
//! cdylib — PSS (TLS 1.3) and raw RSA on the authentication key, PKCS#1 v1.5 on both keys,
//! each signature verified with the fixture certificate's key; decrypt.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, Pss};
use sha2::Digest;

#[test]
fn cps4_nurse_end_to_end() {
    let p11 = load("cps4-nurse");
    let slot = p11.get_slots_with_token().unwrap()[0];
    let t = p11.get_token_info(slot).unwrap();
    assert_eq!(t.label(), "CPS4v1-8099700033");
    assert_eq!(t.serial_number(), "99700033");
    assert_eq!(t.model(), "ChipDoc");
    let mechs = p11.get_mechanism_list(slot).unwrap();
    for m in [
        MechanismType::RSA_PKCS_PSS,
        MechanismType::SHA1_RSA_PKCS_PSS,
        MechanismType::SHA256_RSA_PKCS_PSS,
        MechanismType::RSA_X_509,
    ] {
        assert!(mechs.contains(&m), "{m}");
    }
    let s = p11.open_ro_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::new("1234".into())))
        .unwrap();
    let (auth_pub, auth_der) = fixture("cps4-nurse-auth");
    let (sig_pub, _) = fixture("cps4-nurse-sig");
    let cert = one(
        &s,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label("Certificat d'Authentification CPS".into()),
        ],
    );
    assert_eq!(attr(&s, cert, AttributeType::Value), auth_der);
    assert_eq!(attr(&s, cert, AttributeType::Id).last(), Some(&0x20));
    let aut = one(
        &s,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label("CPS_PRIV_AUT".into()),
        ],
    );
    let sig = one(
        &s,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label("CPS_PRIV_SIG".into()),
        ],
    );
    assert_eq!(attr(&s, sig, AttributeType::Id).last(), Some(&0x10));

    let msg = b"TLS 1.3 CertificateVerify content";
    let h1 = sha1::Sha1::digest(msg).to_vec();
    let h256 = sha2::Sha256::digest(msg).to_vec();
    let pss256 = PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    };
    let pss1 = PkcsPssParams {
        hash_alg: MechanismType::SHA1,
        mgf: PkcsMgfType::MGF1_SHA1,
        s_len: 20.into(),
    };
    for (k, public) in [(aut, &auth_pub), (sig, &sig_pub)] {
        let v = s
            .sign(&Mechanism::Sha256RsaPkcsPss(pss256), k, msg)
            .unwrap();
        public
            .verify(Pss::new_with_salt::<sha2::Sha256>(32), &h256, &v)
            .unwrap();
        let v = s.sign(&Mechanism::Sha1RsaPkcsPss(pss1), k, msg).unwrap();
        public
            .verify(Pss::new_with_salt::<sha1::Sha1>(20), &h1, &v)
            .unwrap();
        let v = s.sign(&Mechanism::RsaPkcsPss(pss256), k, &h256).unwrap();
        public
            .verify(Pss::new_with_salt::<sha2::Sha256>(32), &h256, &v)
            .unwrap();
        let v = s.sign(&Mechanism::Sha256RsaPkcs, k, msg).unwrap();
        public
            .verify(Pkcs1v15Sign::new::<sha2::Sha256>(), &h256, &v)
            .unwrap();
        let v = s.sign(&Mechanism::Sha1RsaPkcs, k, msg).unwrap();
        public
            .verify(Pkcs1v15Sign::new::<sha1::Sha1>(), &h1, &v)
            .unwrap();
    }
    // CKM_RSA_PKCS on the authentication key: software padding + raw RSA (compat §7.2),
    // including the 32-byte input the Cryptolib misroutes.
    for input in [
        h256.clone(),
        b"client hello transcript hash with some length".to_vec(),
    ] {
        let v = s.sign(&Mechanism::RsaPkcs, aut, &input).unwrap();
        auth_pub
            .verify(Pkcs1v15Sign::new_unprefixed(), &input, &v)
            .unwrap();
    }
    // Raw RSA on the authentication key only.
    let block = vec![0x42u8; 255];
    let v = s.sign(&Mechanism::RsaX509, aut, &block).unwrap();
    let m = BigUint::from_bytes_be(&v)
        .modpow(auth_pub.e(), auth_pub.n())
        .to_bytes_be();
    assert_eq!(m, block);
    assert!(s.sign(&Mechanism::RsaX509, sig, &block).is_err());

    assert_card_decrypts(&s, aut, &auth_pub, b"cle de session");
    drop(s);
    p11.finalize().unwrap();
}
