//! Helpers shared by the in-process module tests (`tests.rs`, `tests_pin.rs`): a `Module`
//! over simulated cards, sessions, object search and attribute values.

use super::object::{Attr, AttrLookup};
use super::Module;
use crate::transport::r#virtual::{SharedCard, SimReaders};
use cryptoki_sys::*;

/// A module over the simulated cards of `spec` (`CPX_SIM_CARDS` syntax), and the first card.
pub(super) fn module(spec: &str) -> (Module, SharedCard) {
    let readers = SimReaders::from_spec(spec).expect("persona");
    let card = readers.cards().remove(0).1;
    (Module::new(Box::new(readers)), card)
}

/// [`module`] whose readers are listed at most every `scan_ttl`, as PC/SC readers are.
pub(super) fn module_coalesced(spec: &str, scan_ttl: std::time::Duration) -> (Module, SharedCard) {
    let readers = SimReaders::from_spec(spec)
        .expect("persona")
        .with_costly_listing();
    let card = readers.cards().remove(0).1;
    let mut m = Module::new(Box::new(readers));
    m.scan_ttl = scan_ttl;
    (m, card)
}

/// The number of APDUs the simulated card has answered.
pub(super) fn apdus(card: &SharedCard) -> u64 {
    card.lock().unwrap().trace().apdu_count() as u64
}

/// A session on slot 0, read/write when `rw`.
pub(super) fn open(m: &mut Module, rw: bool) -> CK_SESSION_HANDLE {
    let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
    m.open_session(0, flags).expect("open session")
}

/// C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal.
pub(super) fn find(
    m: &mut Module,
    h: CK_SESSION_HANDLE,
    template: &[Attr],
) -> Vec<CK_OBJECT_HANDLE> {
    m.find_init(h, template).unwrap();
    let r = m.find_next(h, 100).unwrap();
    m.find_final(h).unwrap();
    r
}

/// The value of one attribute of an object (the test fails when it has none).
pub(super) fn value(
    m: &mut Module,
    h: CK_SESSION_HANDLE,
    o: CK_OBJECT_HANDLE,
    ty: CK_ATTRIBUTE_TYPE,
) -> Vec<u8> {
    match m.get_attributes(h, o, &[ty]).unwrap().remove(0) {
        AttrLookup::Value(v) => v,
        other => panic!("attribute {ty:#x}: {other:?}"),
    }
}
