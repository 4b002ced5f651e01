//! Library integration: the everyday operations, repeated — the workload of
//! `scripts/valgrind.sh`, which runs this binary under memcheck for N and 2N rounds and
//! compares the leak summaries (a leak per operation shows as growth). `CPX_FLOW_ROUNDS`
//! (default 2) rounds of: C_Initialize, slots and token info, R/W session, login, every
//! object's attributes, signatures with both keys, a decryption, data objects, digest,
//! random, a wrong-PIN attempt, PIN change and back, logout, C_Finalize (the library is
//! unloaded and loaded again between rounds). Both the CPS3 and CPS4 personas.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;

fn rounds() -> usize {
    std::env::var("CPX_FLOW_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

fn round(persona: &str) {
    let p11 = load(persona);
    let slot = p11.get_slots_with_token().unwrap()[0];
    let _ = p11.get_token_info(slot).unwrap();
    let _ = p11.get_mechanism_list(slot).unwrap();
    let s = p11.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&auth_pin("1234"))).unwrap();
    let objects = s.find_objects(&[]).unwrap();
    assert!(objects.len() >= 4, "{} objects", objects.len());
    for o in &objects {
        let _ = s.get_attributes(
            *o,
            &[
                AttributeType::Class,
                AttributeType::Label,
                AttributeType::Id,
                AttributeType::Value,
                AttributeType::Modulus,
                AttributeType::Subject,
            ],
        );
    }
    let keys = s
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap();
    assert_eq!(keys.len(), 2);
    for k in &keys {
        let sig = s.sign(&Mechanism::Sha256RsaPkcs, *k, b"repeat me").unwrap();
        assert_eq!(sig.len(), 256);
    }
    let certs = s
        .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
        .unwrap();
    assert!(!certs.is_empty());
    for d in s
        .find_objects(&[Attribute::Class(ObjectClass::DATA)])
        .unwrap()
    {
        let _ = s.get_attributes(d, &[AttributeType::Value]);
    }
    let _ = s.digest(&Mechanism::Sha256, b"digest").unwrap();
    let _ = s.generate_random_vec(32).unwrap();
    s.logout().unwrap();
    assert!(ck_rv(s.login(UserType::User, Some(&auth_pin("0000")))).is_some());
    s.login(UserType::User, Some(&auth_pin("1234"))).unwrap();
    s.set_pin(&auth_pin("1234"), &auth_pin("4321")).unwrap();
    s.set_pin(&auth_pin("4321"), &auth_pin("1234")).unwrap();
    s.logout().unwrap();
    drop(s);
    p11.finalize().unwrap();
}

#[test]
fn repeated_operations() {
    for _ in 0..rounds() {
        round("cps3-doctor");
        round("cps4-nurse");
    }
}
