//! What NSS needs from the built cdylib, through its raw C entry points (cryptoki-sys
//! dynamic loading): C_OpenSession with a non-NULL application pointer and Notify callback
//! (NSS passes both), and on every token one CKO_PROFILE object with CKA_PROFILE_ID =
//! CKP_PUBLIC_CERTIFICATES_TOKEN (PKCS#11 3.0 §4.13), visible without login, so that NSS lists
//! the certificates without asking for the PIN. One test function: the module has
//! process-global state.
#![cfg(feature = "sim")]

mod common;

use cryptoki_sys::*;
use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};

static NOTIFIED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn notify(_: CK_SESSION_HANDLE, _: CK_NOTIFICATION, _: *mut c_void) -> CK_RV {
    NOTIFIED.fetch_add(1, Ordering::SeqCst);
    CKR_OK
}

/// C_FindObjects over `template`, all handles.
unsafe fn find(
    p11: &Pkcs11,
    h: CK_SESSION_HANDLE,
    template: &mut [CK_ATTRIBUTE],
) -> Vec<CK_OBJECT_HANDLE> {
    assert_eq!(
        p11.C_FindObjectsInit(h, template.as_mut_ptr(), template.len() as CK_ULONG),
        CKR_OK
    );
    let mut out = vec![0; 64];
    let mut n: CK_ULONG = 0;
    assert_eq!(p11.C_FindObjects(h, out.as_mut_ptr(), 64, &mut n), CKR_OK);
    assert_eq!(p11.C_FindObjectsFinal(h), CKR_OK);
    out.truncate(n as usize);
    out
}

fn ulong_attr(ty: CK_ATTRIBUTE_TYPE, v: &mut CK_ULONG) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: v as *mut CK_ULONG as *mut c_void,
        ulValueLen: std::mem::size_of::<CK_ULONG>() as CK_ULONG,
    }
}

#[test]
fn nss_profile_and_notify() {
    std::env::set_var("CPX_SIM_CARDS", "cps3-doctor,cps4-nurse");
    common::use_scratch_cache();
    // SAFETY: loading our own PKCS#11 module; the calls below follow the C API.
    let p11 = unsafe { Pkcs11::new(common::library()) }.expect("load module");
    unsafe {
        assert_eq!(p11.C_Initialize(null_mut()), CKR_OK);
        let mut slots = [0 as CK_SLOT_ID; 8];
        let mut n: CK_ULONG = 8;
        assert_eq!(
            p11.C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n),
            CKR_OK
        );
        assert_eq!(n, 2, "two simulated cards");
        let mut app_data = 0x5eed_u64;
        for &slot in &slots[..2] {
            let mut h: CK_SESSION_HANDLE = 0;
            // NSS's PK11_GetRWSession/pk11_OpenSession: the slot as pApplication, a callback.
            assert_eq!(
                p11.C_OpenSession(
                    slot,
                    CKF_SERIAL_SESSION,
                    &mut app_data as *mut u64 as *mut c_void,
                    Some(notify),
                    &mut h
                ),
                CKR_OK
            );
            let mut info: CK_SESSION_INFO = std::mem::zeroed();
            assert_eq!(p11.C_GetSessionInfo(h, &mut info), CKR_OK);
            assert_eq!(info.slotID, slot);

            // Exactly one profile object, public (no login), with the profile id.
            let mut class = CKO_PROFILE;
            let found = find(&p11, h, &mut [ulong_attr(CKA_CLASS, &mut class)]);
            assert_eq!(found.len(), 1, "slot {slot}: one CKO_PROFILE object");
            let mut id: CK_ULONG = 0;
            let mut token: CK_BBOOL = 0;
            let mut private: CK_BBOOL = 1;
            let mut t = [
                ulong_attr(CKA_PROFILE_ID, &mut id),
                CK_ATTRIBUTE {
                    type_: CKA_TOKEN,
                    pValue: &mut token as *mut CK_BBOOL as *mut c_void,
                    ulValueLen: 1,
                },
                CK_ATTRIBUTE {
                    type_: CKA_PRIVATE,
                    pValue: &mut private as *mut CK_BBOOL as *mut c_void,
                    ulValueLen: 1,
                },
            ];
            assert_eq!(
                p11.C_GetAttributeValue(h, found[0], t.as_mut_ptr(), t.len() as CK_ULONG),
                CKR_OK
            );
            assert_eq!(id, CKP_PUBLIC_CERTIFICATES_TOKEN);
            assert_eq!((token, private), (CK_TRUE, CK_FALSE));
            // Not a storage object: no label.
            let mut label = [0u8; 8];
            let mut t = [CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: label.as_mut_ptr() as *mut c_void,
                ulValueLen: 8,
            }];
            assert_eq!(
                p11.C_GetAttributeValue(h, found[0], t.as_mut_ptr(), 1),
                CKR_ATTRIBUTE_TYPE_INVALID
            );
            // Searching by the profile id finds it too; it is not a key.
            let mut want = CKP_PUBLIC_CERTIFICATES_TOKEN;
            assert_eq!(
                find(&p11, h, &mut [ulong_attr(CKA_PROFILE_ID, &mut want)]),
                found
            );
            let mut mech = CK_MECHANISM {
                mechanism: CKM_RSA_PKCS,
                pParameter: null_mut(),
                ulParameterLen: 0,
            };
            assert_ne!(p11.C_SignInit(h, &mut mech, found[0]), CKR_OK);
            // The certificates are there before login, as CKP_PUBLIC_CERTIFICATES_TOKEN says.
            let mut cert = CKO_CERTIFICATE;
            assert!(find(&p11, h, &mut [ulong_attr(CKA_CLASS, &mut cert)]).len() >= 2);
            assert_eq!(p11.C_CloseSession(h), CKR_OK);
        }
        assert_eq!(
            NOTIFIED.load(Ordering::SeqCst),
            0,
            "no callback for plain operations"
        );
        assert_eq!(p11.C_Finalize(null_mut()), CKR_OK);
    }
}
