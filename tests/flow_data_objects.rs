//! Library integration, `CPX_SIM_CARDS=cps3-doctor`: the CPS data objects, raw values as the
//! card stores them (compared with the persona's files). Public ones are found with
//! CKA_PRIVATE=FALSE before login; CPS_ACTIVITY_nn_PS, CPS_SIT_FACT and CPS2TER_* only after
//! login; CPS_DATA is written with C_SetAttributeValue(CKA_VALUE) in a R/W session and read
//! back zero-padded to the file size.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::RvError;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;

fn persona_file(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/fixtures/cards/cps3-doctor/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).expect(&path)
}

#[test]
fn data_objects() {
    let p11 = load("cps3-doctor");
    let slot = p11.get_slots_with_token().unwrap()[0];
    let ro = p11.open_ro_session(slot).unwrap();
    for (label, file) in [
        ("CPS_ID_CARD", "do-cps-id-card.der"),
        ("CPS_NAME_PS", "do-cps-name-ps.der"),
        ("CPS_LANG_PS", "do-cps-lang-ps.der"),
        ("CPS_INFO_PS", "do-cps-info-ps.der"),
    ] {
        let o = one(
            &ro,
            &[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Private(false),
                Attribute::Label(label.into()),
            ],
        );
        assert_eq!(
            attr(&ro, o, AttributeType::Value),
            persona_file(file),
            "{label}"
        );
    }
    for label in [
        "CPS_ACTIVITY_01_PS",
        "CPS_SIT_FACT",
        "CPS2TER_ACTIVITY_01_PS",
    ] {
        let found = ro.find_objects(&[Attribute::Label(label.into())]).unwrap();
        assert!(found.is_empty(), "{label} is private");
    }
    drop(ro);

    let rw = p11.open_rw_session(slot).unwrap();
    rw.login(UserType::User, Some(&auth_pin("1234"))).unwrap();
    for (label, file) in [
        ("CPS_ACTIVITY_01_PS", "do-cps-activity-01-ps.der"),
        ("CPS_ACTIVITY_03_PS", "do-cps-activity-03-ps.der"),
        ("CPS_SIT_FACT", "cps2ter-4000.der"),
        ("CPS2TER_ACTIVITY_01_PS", "cps2ter-4010.der"),
        ("CPS2TER_ACTIVITY_03_PS", "cps2ter-4012.der"),
    ] {
        let o = one(&rw, &[Attribute::Label(label.into())]);
        assert_eq!(
            attr(&rw, o, AttributeType::Value),
            persona_file(file),
            "{label}"
        );
    }

    // CPS_DATA, found as ANS's test program does.
    let d = one(
        &rw,
        &[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Modifiable(true),
            Attribute::Label("CPS_DATA".into()),
        ],
    );
    let before = attr(&rw, d, AttributeType::Value);
    rw.update_attributes(d, &[Attribute::Value(b"dossier 42".to_vec())])
        .unwrap();
    let after = attr(&rw, d, AttributeType::Value);
    assert_eq!(after.len(), before.len());
    assert_eq!(&after[..10], b"dossier 42");
    assert!(after[10..].iter().all(|b| *b == 0));
    let name = one(&rw, &[Attribute::Label("CPS_NAME_PS".into())]);
    assert_eq!(
        ck_rv(rw.update_attributes(name, &[Attribute::Value(b"x".to_vec())])),
        Some(RvError::ActionProhibited)
    );
    drop(rw);
    p11.finalize().unwrap();
}
