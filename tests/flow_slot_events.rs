//! C_WaitForSlotEvent through the built cdylib: a blocking wait holds no lock (other calls
//! go on meanwhile) and C_Finalize from another thread wakes it with
//! CKR_CRYPTOKI_NOT_INITIALIZED (how NSS and Firefox stop their event thread).
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki_sys::*;
use std::ptr::null_mut;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn blocking_wait_is_woken_by_finalize() {
    std::env::set_var("CPX_SIM_CARDS", "cps3-doctor");
    common::use_scratch_cache();
    // SAFETY: loading our own PKCS#11 module; the calls below follow the C API.
    let p11 = std::sync::Arc::new(unsafe { Pkcs11::new(library()) }.expect("load module"));
    unsafe {
        assert_eq!(p11.C_Initialize(null_mut()), CKR_OK);
        let mut ev: CK_SLOT_ID = 0;
        assert_eq!(
            p11.C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut ev, null_mut()),
            CKR_NO_EVENT
        );
        assert_eq!(
            p11.C_WaitForSlotEvent(0, null_mut(), null_mut()),
            CKR_ARGUMENTS_BAD
        );
    }
    let (tx, rx) = mpsc::channel();
    let waiter = {
        let p11 = p11.clone();
        std::thread::spawn(move || {
            let mut ev: CK_SLOT_ID = 0;
            // SAFETY: a valid out pointer; the module is initialised.
            let rv = unsafe { p11.C_WaitForSlotEvent(0, &mut ev, null_mut()) };
            tx.send((rv, Instant::now())).unwrap();
        })
    };
    // Still waiting, and the module answers other calls meanwhile (no lock held).
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    unsafe {
        let mut n: CK_ULONG = 0;
        assert_eq!(p11.C_GetSlotList(CK_TRUE, null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 1);
        let finalized = Instant::now();
        assert_eq!(p11.C_Finalize(null_mut()), CKR_OK);
        let (rv, at) = rx
            .recv_timeout(Duration::from_secs(1))
            .expect("the waiter returns within 1 s of C_Finalize");
        assert_eq!(rv, CKR_CRYPTOKI_NOT_INITIALIZED);
        assert!(at.duration_since(finalized) < Duration::from_secs(1));
    }
    waiter.join().unwrap();
    // The module can be initialised again and waited on again.
    unsafe {
        assert_eq!(p11.C_Initialize(null_mut()), CKR_OK);
        let mut ev: CK_SLOT_ID = 0;
        assert_eq!(
            p11.C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut ev, null_mut()),
            CKR_NO_EVENT
        );
        assert_eq!(p11.C_Finalize(null_mut()), CKR_OK);
    }
}
