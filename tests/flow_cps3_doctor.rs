//! Library integration (`style.md` §9 tier 5): the built cdylib loaded through the
//! `cryptoki` crate, `CPX_SIM_CARDS=cps3-doctor`. One scenario per file (process isolation):
//! slots and token, certificates, login, every CPS3 signing mechanism on both keys verified
//! independently with the fixture certificates, decrypt, encrypt/verify in software,
//! digests, random.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use rsa::Pkcs1v15Sign;
use sha2::Digest;

#[test]
fn cps3_doctor_end_to_end() {
    let p11 = load("cps3-doctor");
    let info = p11.get_library_info().unwrap();
    assert_eq!(info.cryptoki_version().major(), 2);
    assert_eq!(info.cryptoki_version().minor(), 40);

    let slots = p11.get_slots_with_token().unwrap();
    assert_eq!(
        slots.len(),
        1,
        "one virtual reader (library built without `sim`?)"
    );
    let slot = slots[0];
    let t = p11.get_token_info(slot).unwrap();
    assert_eq!(t.label(), "CPS3v3-2699700011");
    assert_eq!(t.serial_number(), "99700011");
    assert_eq!(t.model(), "IAS ECC");
    assert!(t.login_required() && t.user_pin_initialized() && t.rng());
    assert!(!t.user_pin_count_low() && !t.user_pin_locked());
    let mechs = p11.get_mechanism_list(slot).unwrap();
    assert!(mechs.contains(&cryptoki::mechanism::MechanismType::SHA256_RSA_PKCS));
    assert!(!mechs.contains(&cryptoki::mechanism::MechanismType::RSA_PKCS_PSS));

    let s = p11.open_ro_session(slot).unwrap();
    // Certificates: public, byte-identical to the fixtures.
    let mut keys = Vec::new();
    for (label, file, last) in [
        ("Certificat de Signature CPS", "cps3-doctor-sig", 0x01u8),
        (
            "Certificat d'Authentification CPS",
            "cps3-doctor-auth",
            0x02,
        ),
    ] {
        let c = one(
            &s,
            &[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::Label(label.into()),
            ],
        );
        let (public, der) = fixture(file);
        assert_eq!(attr(&s, c, AttributeType::Value), der, "{label}");
        let mut id = AID.to_vec();
        id.push(last);
        assert_eq!(attr(&s, c, AttributeType::Id), id);
        keys.push((id, public));
    }
    assert!(s
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap()
        .is_empty());

    s.login(UserType::User, Some(&AuthPin::new("1234".into())))
        .unwrap();
    let msg = b"Ordonnance electronique";
    let sha1 = sha1::Sha1::digest(msg).to_vec();
    let sha256 = sha2::Sha256::digest(msg).to_vec();
    for (i, (id, public)) in keys.iter().enumerate() {
        let k = one(
            &s,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(id.clone()),
            ],
        );
        let check256 = |sig: &[u8]| {
            public
                .verify(Pkcs1v15Sign::new::<sha2::Sha256>(), &sha256, sig)
                .expect("SHA-256 signature verifies with the fixture key")
        };
        let check1 = |sig: &[u8]| {
            public
                .verify(Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1, sig)
                .expect("SHA-1 signature verifies with the fixture key")
        };
        check256(&s.sign(&Mechanism::Sha256RsaPkcs, k, msg).unwrap());
        check1(&s.sign(&Mechanism::Sha1RsaPkcs, k, msg).unwrap());
        let mut di256 = vec![
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        di256.extend_from_slice(&sha256);
        check256(&s.sign(&Mechanism::RsaPkcs, k, &di256).unwrap());
        if i == 0 {
            // Signature key: a bare hash is accepted too (hash-off-card, compat §7.2).
            check256(&s.sign(&Mechanism::RsaPkcs, k, &sha256).unwrap());
        }
        // Multi-part SHA-256 over 11 blocks (ANS tests 1000–1008).
        s.sign_init(&Mechanism::Sha256RsaPkcs, k).unwrap();
        let long: Vec<u8> = (0..11 * 100).map(|i| i as u8).collect();
        for part in long.chunks(100) {
            s.sign_update(part).unwrap();
        }
        let sig = s.sign_final().unwrap();
        public
            .verify(
                Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(&long),
                &sig,
            )
            .unwrap();
        // The module's own software verification agrees.
        let label = if i == 0 {
            "Cle publique - Certificat de Signature CPS"
        } else {
            "Cle publique - Certificat d'Authentification CPS"
        };
        let pk = one(
            &s,
            &[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Label(label.into()),
            ],
        );
        s.verify(&Mechanism::Sha256RsaPkcs, pk, &long, &sig)
            .unwrap();
        assert!(s
            .verify(&Mechanism::Sha256RsaPkcs, pk, b"tampered", &sig)
            .is_err());
    }

    // Decrypt with the authentication key what the fixture public key encrypted, and
    // what the module encrypted in software.
    let (_, auth_public) = &keys[1];
    let aut = one(
        &s,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label("CPS_PRIV_AUT".into()),
        ],
    );
    assert_card_decrypts(&s, aut, auth_public, b"cle de session");
    let pk = one(
        &s,
        &[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Id(keys[1].0.clone()),
        ],
    );
    let c = s.encrypt(&Mechanism::RsaPkcs, pk, b"second").unwrap();
    assert_eq!(s.decrypt(&Mechanism::RsaPkcs, aut, &c).unwrap(), b"second");

    assert_eq!(s.digest(&Mechanism::Sha256, msg).unwrap(), sha256);
    assert_eq!(s.digest(&Mechanism::Sha1, msg).unwrap(), sha1);
    assert_eq!(s.generate_random_vec(32).unwrap().len(), 32);

    s.logout().unwrap();
    drop(s);
    p11.finalize().unwrap();
}
