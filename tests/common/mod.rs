//! Helpers shared by the library-integration tests (`tests/flow_*.rs`, `tests/abi_contract.rs`):
//! finding the built cdylib, loading it over simulated cards, fixture certificates, and small
//! object-search shortcuts. Each test file uses a subset.
#![allow(dead_code)]

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;
use std::path::PathBuf;
use x509_cert::der::{Decode, Encode};

/// The PKCS#15 application AID of the contact application: CKA_IDs are AID ‖ key number.
pub const AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];

/// The cdylib: `CPX_PKCS11_MODULE`, else next to this test binary in the target dir
/// (`cargo test --features sim` builds it with the same features).
pub fn library() -> PathBuf {
    if let Some(p) = std::env::var_os("CPX_PKCS11_MODULE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir");
    let name = format!(
        "{}cpx_pkcs11{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    [
        deps.join(&name),
        deps.parent().expect("target dir").join(&name),
    ]
    .into_iter()
    .find(|p| p.exists())
    .expect("built cdylib not found: run `cargo test --features sim`")
}

/// Loads and initialises the module over simulated cards (`CPX_SIM_CARDS`).
pub fn load(personas: &str) -> Pkcs11 {
    std::env::set_var("CPX_SIM_CARDS", personas);
    use_scratch_cache();
    let p = Pkcs11::new(library()).expect("load module");
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    p
}

/// Points the module's persistent card cache at a directory of this test process (never
/// the user's ~/.cache), unless the caller chose one (or `CPX_TEST_DEFAULT_CACHE` asks for
/// the default location: tests/flow_cache.rs sets it with a scratch HOME).
pub fn use_scratch_cache() {
    if std::env::var_os("CPX_PKCS11_CACHE_DIR").is_none()
        && std::env::var_os("CPX_TEST_DEFAULT_CACHE").is_none()
    {
        let dir = std::env::temp_dir().join(format!("cpx-test-cache-{}", std::process::id()));
        std::env::set_var("CPX_PKCS11_CACHE_DIR", dir);
    }
}

/// A fixture certificate's public key and DER (`fixtures/pki/<name>.der`), parsed with an
/// independent X.509 implementation.
pub fn fixture(name: &str) -> (RsaPublicKey, Vec<u8>) {
    let path = format!("{}/fixtures/pki/{name}.der", env!("CARGO_MANIFEST_DIR"));
    let der = std::fs::read(&path).expect(&path);
    let cert = x509_cert::Certificate::from_der(&der).expect("fixture certificate");
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    (RsaPublicKey::from_public_key_der(&spki).unwrap(), der)
}

/// The single object matching `template`.
pub fn one(s: &Session, template: &[Attribute]) -> ObjectHandle {
    let found = s.find_objects(template).expect("C_FindObjects");
    assert_eq!(found.len(), 1, "{template:?}");
    found[0]
}

/// The card decrypts with the private key `key` what its certificate's public key `public`
/// encrypted (CKM_RSA_PKCS): the plaintext `secret` comes back.
pub fn assert_card_decrypts(s: &Session, key: ObjectHandle, public: &RsaPublicKey, secret: &[u8]) {
    let c = public
        .encrypt(&mut rsa::rand_core::OsRng, rsa::Pkcs1v15Encrypt, secret)
        .unwrap();
    assert_eq!(
        s.decrypt(&cryptoki::mechanism::Mechanism::RsaPkcs, key, &c)
            .unwrap(),
        secret
    );
}

/// A byte-valued attribute of an object.
pub fn attr(s: &Session, o: ObjectHandle, t: AttributeType) -> Vec<u8> {
    match s
        .get_attributes(o, &[t])
        .expect("C_GetAttributeValue")
        .pop()
    {
        Some(
            Attribute::Value(v) | Attribute::Id(v) | Attribute::Label(v) | Attribute::Modulus(v),
        ) => v,
        other => panic!("{t:?}: {other:?}"),
    }
}

// ---- PIN flows (issue #4) ----------------------------------------------------------------

/// The CK_RV of a failed call (None on success); other errors fail the test.
pub fn ck_rv<T>(r: cryptoki::error::Result<T>) -> Option<cryptoki::error::RvError> {
    match r {
        Ok(_) => None,
        Err(cryptoki::error::Error::Pkcs11(rv, _)) => Some(rv),
        Err(e) => panic!("{e}"),
    }
}

/// A PIN for the cryptoki calls.
pub fn auth_pin(p: &str) -> cryptoki::types::AuthPin {
    cryptoki::types::AuthPin::new(p.into())
}

/// The counter flags of the token: (COUNT_LOW, FINAL_TRY, LOCKED). Every PIN operation makes
/// the module read the card's counters again at the next C_GetTokenInfo.
pub fn pin_flags(p11: &Pkcs11, slot: cryptoki::slot::Slot) -> (bool, bool, bool) {
    let t = p11.get_token_info(slot).expect("C_GetTokenInfo");
    (
        t.user_pin_count_low(),
        t.user_pin_final_try(),
        t.user_pin_locked(),
    )
}
