//! Regression tests of issue 7 (the C ABI under misuse), in-process through the exported C
//! functions: each one crashed (segfault, abort on a huge allocation), hung or failed on the
//! code before the fix. One global module: the tests serialise on [`SERIAL`].

use super::crypto::*;
use super::general::*;
use super::object::*;
use super::session::*;
use cryptoki_sys::*;
use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// A non-NULL pointer to nothing: reading it is a segfault.
const WILD: *mut c_void = 0x10 as *mut c_void;

/// Serialises the test and (re)starts the module over `persona`.
fn start(persona: &str) -> MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    std::env::set_var("CPX_SIM_CARDS", persona);
    // SAFETY: NULL is a valid argument of both calls.
    unsafe {
        C_Finalize(null_mut());
        assert_eq!(C_Initialize(null_mut()), CKR_OK);
    }
    g
}

fn finalize() {
    // SAFETY: NULL is the required argument.
    assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_OK);
}

/// A session on the first slot with a card.
fn open(rw: bool) -> CK_SESSION_HANDLE {
    let mut slots = [0 as CK_SLOT_ID; 4];
    let mut n = slots.len() as CK_ULONG;
    let mut h = 0;
    let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
    // SAFETY: real buffers of the announced sizes.
    unsafe {
        assert_eq!(C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n), CKR_OK);
        assert!(n >= 1);
        assert_eq!(
            C_OpenSession(slots[0], flags, null_mut(), None, &mut h),
            CKR_OK
        );
    }
    h
}

fn login(h: CK_SESSION_HANDLE) {
    let mut pin = *b"1234";
    // SAFETY: a real 4-byte PIN.
    assert_eq!(unsafe { C_Login(h, CKU_USER, pin.as_mut_ptr(), 4) }, CKR_OK);
}

/// The object of class `class` labelled `label`.
fn object(h: CK_SESSION_HANDLE, class: CK_OBJECT_CLASS, label: &str) -> CK_OBJECT_HANDLE {
    let mut class = class;
    let mut label = label.as_bytes().to_vec();
    let mut t = [
        CK_ATTRIBUTE {
            type_: CKA_CLASS,
            pValue: &mut class as *mut _ as *mut c_void,
            ulValueLen: std::mem::size_of::<CK_OBJECT_CLASS>() as CK_ULONG,
        },
        CK_ATTRIBUTE {
            type_: CKA_LABEL,
            pValue: label.as_mut_ptr() as *mut c_void,
            ulValueLen: label.len() as CK_ULONG,
        },
    ];
    let mut found = [0 as CK_OBJECT_HANDLE; 2];
    let mut n = 0;
    // SAFETY: real template and buffers of the announced sizes.
    unsafe {
        assert_eq!(C_FindObjectsInit(h, t.as_mut_ptr(), 2), CKR_OK);
        assert_eq!(C_FindObjects(h, found.as_mut_ptr(), 2, &mut n), CKR_OK);
        assert_eq!(C_FindObjectsFinal(h), CKR_OK);
    }
    assert_eq!(n, 1, "{label:?}");
    found[0]
}

/// The module still answers normally: slots, a session, a signature.
fn assert_usable() {
    let h = open(false);
    login(h);
    let key = object(h, CKO_PRIVATE_KEY, "CPS_PRIV_AUT");
    let mut mech = CK_MECHANISM {
        mechanism: CKM_SHA256_RSA_PKCS,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    let mut data = *b"hello";
    let mut sig = [0u8; 512];
    let mut n = sig.len() as CK_ULONG;
    // SAFETY: real buffers of the announced sizes.
    unsafe {
        assert_eq!(C_SignInit(h, &mut mech, key), CKR_OK);
        assert_eq!(
            C_Sign(h, data.as_mut_ptr(), 5, sig.as_mut_ptr(), &mut n),
            CKR_OK
        );
        assert_eq!(C_CloseSession(h), CKR_OK);
    }
    assert_eq!(n, 256);
}

/// Uninitialised memory as a mechanism: a wild parameter pointer with a huge length.
fn garbage_mechanism(ty: CK_MECHANISM_TYPE, len: CK_ULONG) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: WILD,
        ulParameterLen: len,
    }
}

type InitFn = unsafe extern "C" fn(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) -> CK_RV;

/// The *Init functions with a key, and the code of each for an unknown key handle.
const INITS: [(&str, InitFn, CK_RV); 4] = [
    ("C_SignInit", C_SignInit, CKR_KEY_HANDLE_INVALID),
    ("C_VerifyInit", C_VerifyInit, CKR_KEY_HANDLE_INVALID),
    ("C_EncryptInit", C_EncryptInit, CKR_KEY_HANDLE_INVALID),
    ("C_DecryptInit", C_DecryptInit, CKR_OBJECT_HANDLE_INVALID),
];

const HUGE_LENGTHS: [CK_ULONG; 4] = [8, 1 << 31, (1 << 63) - 1, CK_ULONG::MAX];

#[test]
fn init_garbage_mechanism_is_checked_after_state() {
    let _g = start("cps3-doctor");
    finalize();
    for state in [
        "before C_Initialize / after C_Finalize",
        "closed session",
        "valid session",
    ] {
        let h = match state {
            "closed session" | "valid session" => {
                // SAFETY: NULL is a valid argument.
                unsafe { C_Initialize(null_mut()) };
                let h = open(false);
                if state == "closed session" {
                    // SAFETY: plain handle.
                    assert_eq!(unsafe { C_CloseSession(h) }, CKR_OK);
                }
                h
            }
            _ => 1,
        };
        let expect = |bad_key: CK_RV| match state {
            "closed session" => CKR_SESSION_HANDLE_INVALID,
            "valid session" => bad_key,
            _ => CKR_CRYPTOKI_NOT_INITIALIZED,
        };
        for len in HUGE_LENGTHS {
            for ty in [0xdead_beef, CKM_SHA256_RSA_PKCS] {
                let mut m = garbage_mechanism(ty, len);
                for (name, f, bad_key) in INITS {
                    // SAFETY: the mechanism is garbage on purpose; the module must not read it.
                    let rv = unsafe { f(h, &mut m, 0x7fff_0000) };
                    assert_eq!(rv, expect(bad_key), "{name} {state} {ty:#x} {len}");
                }
                // SAFETY: as above.
                let rv = unsafe { C_DigestInit(h, &mut m) };
                let digest = expect(CKR_MECHANISM_INVALID);
                assert_eq!(rv, digest, "C_DigestInit {state} {ty:#x} {len}");
            }
        }
        if state == "valid session" {
            // A real key: a garbage mechanism type is MECHANISM_INVALID, a parameterless
            // mechanism with a (garbage) parameter MECHANISM_PARAM_INVALID; never read.
            login(h);
            let key = object(h, CKO_PRIVATE_KEY, "CPS_PRIV_AUT");
            for len in HUGE_LENGTHS {
                let mut m = garbage_mechanism(0xdead_beef, len);
                // SAFETY: garbage on purpose.
                assert_eq!(unsafe { C_SignInit(h, &mut m, key) }, CKR_MECHANISM_INVALID);
                let mut m = garbage_mechanism(CKM_SHA256_RSA_PKCS, len);
                // SAFETY: garbage on purpose.
                let rv = unsafe { C_SignInit(h, &mut m, key) };
                assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID, "{len}");
                let mut m = garbage_mechanism(CKM_SHA256, len);
                // SAFETY: garbage on purpose.
                let rv = unsafe { C_DigestInit(h, &mut m) };
                assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID, "{len}");
            }
            // SAFETY: plain handle.
            unsafe { C_CloseSession(h) };
        }
    }
    assert_usable();
}

#[test]
fn template_is_read_after_session_and_object_checks() {
    let _g = start("cps3-doctor");
    let wild = WILD as CK_ATTRIBUTE_PTR;
    let h = open(true);
    let cert = object(h, CKO_CERTIFICATE, "Certificat de Signature CPS");
    // SAFETY: plain handle.
    unsafe { C_CloseSession(h) };
    // A closed session, then an unknown object: the wild template is never read.
    for n in HUGE_LENGTHS {
        // SAFETY: the template is garbage on purpose; the module must not read it.
        unsafe {
            assert_eq!(C_FindObjectsInit(h, wild, n), CKR_SESSION_HANDLE_INVALID);
            assert_eq!(
                C_GetAttributeValue(h, cert, wild, n),
                CKR_SESSION_HANDLE_INVALID
            );
            assert_eq!(
                C_SetAttributeValue(h, cert, wild, n),
                CKR_SESSION_HANDLE_INVALID
            );
        }
    }
    let h = open(true);
    for n in HUGE_LENGTHS {
        // SAFETY: as above.
        unsafe {
            assert_eq!(
                C_GetAttributeValue(h, 0x7fff_0000, wild, n),
                CKR_OBJECT_HANDLE_INVALID
            );
            assert_eq!(
                C_SetAttributeValue(h, 0x7fff_0000, wild, n),
                CKR_OBJECT_HANDLE_INVALID
            );
        }
    }
    // A real one-entry template announced as huge: refused, not read beyond.
    let mut v = [0u8; 8];
    let mut t = [CK_ATTRIBUTE {
        type_: CKA_LABEL,
        pValue: v.as_mut_ptr() as *mut c_void,
        ulValueLen: 8,
    }];
    for n in &HUGE_LENGTHS[1..] {
        // SAFETY: a one-entry template announced as n entries, on purpose.
        unsafe {
            assert_eq!(C_FindObjectsInit(h, t.as_mut_ptr(), *n), CKR_ARGUMENTS_BAD);
            assert_eq!(
                C_GetAttributeValue(h, cert, t.as_mut_ptr(), *n),
                CKR_ARGUMENTS_BAD
            );
            assert_eq!(
                C_SetAttributeValue(h, cert, t.as_mut_ptr(), *n),
                CKR_TEMPLATE_INCONSISTENT
            );
        }
    }
    // One entry whose value length is huge.
    for n in &HUGE_LENGTHS[1..] {
        t[0].ulValueLen = *n;
        // SAFETY: an 8-byte value announced as n bytes, on purpose.
        unsafe {
            assert_eq!(
                C_FindObjectsInit(h, t.as_mut_ptr(), 1),
                CKR_ATTRIBUTE_VALUE_INVALID
            );
            assert_eq!(
                C_SetAttributeValue(h, cert, t.as_mut_ptr(), 1),
                CKR_ATTRIBUTE_VALUE_INVALID
            );
        }
    }
    // SAFETY: plain handle.
    unsafe { C_CloseSession(h) };
    assert_usable();
}

#[test]
fn find_objects_huge_max_count_does_not_poison_the_module() {
    let _g = start("cps3-doctor");
    let h = open(false);
    let mut found = [0 as CK_OBJECT_HANDLE; 64];
    let mut n = 0;
    // SAFETY: a real 64-handle buffer; the module writes at most the number of objects.
    unsafe {
        assert_eq!(C_FindObjectsInit(h, null_mut(), 0), CKR_OK);
        assert_eq!(C_FindObjects(h, found.as_mut_ptr(), 1, &mut n), CKR_OK);
        assert_eq!(n, 1);
        let rv = C_FindObjects(h, found.as_mut_ptr(), CK_ULONG::MAX, &mut n);
        assert_eq!(rv, CKR_OK);
        assert!((1..64).contains(&n), "{n}");
        assert_eq!(C_FindObjectsFinal(h), CKR_OK);
        assert_eq!(C_CloseSession(h), CKR_OK);
    }
    assert_usable();
}

#[test]
fn generate_random_huge_length_is_refused() {
    let _g = start("cps3-doctor");
    let h = open(false);
    let mut buf = [0u8; 16];
    for n in &HUGE_LENGTHS[1..] {
        // SAFETY: a 16-byte buffer announced as n bytes, on purpose.
        let rv = unsafe { C_GenerateRandom(h, buf.as_mut_ptr(), *n) };
        assert_eq!(rv, CKR_ARGUMENTS_BAD, "{n}");
    }
    // SAFETY: the real size.
    assert_eq!(unsafe { C_GenerateRandom(h, buf.as_mut_ptr(), 16) }, CKR_OK);
    // SAFETY: plain handle.
    unsafe { C_CloseSession(h) };
    assert_usable();
}

#[test]
fn verify_init_refuses_a_private_key_hidden_by_logout() {
    let _g = start("cps3-doctor");
    let h = open(false);
    login(h);
    let key = object(h, CKO_PRIVATE_KEY, "CPS_PRIV_AUT");
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256_RSA_PKCS,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    // SAFETY: a real mechanism; plain handles.
    unsafe {
        assert_eq!(C_VerifyInit(h, &mut m, key), CKR_OK);
        let mut data = *b"x";
        let mut sig = [0u8; 256];
        assert_eq!(
            C_Verify(h, data.as_mut_ptr(), 1, sig.as_mut_ptr(), 256),
            CKR_SIGNATURE_INVALID
        );
        assert_eq!(C_Logout(h), CKR_OK);
        assert_eq!(C_VerifyInit(h, &mut m, key), CKR_KEY_HANDLE_INVALID);
        assert_eq!(C_CloseSession(h), CKR_OK);
    }
    assert_usable();
}

#[test]
fn a_panic_inside_the_lock_leaves_the_module_usable() {
    let _g = start("cps3-doctor");
    let h = open(false);
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    // SAFETY: a real mechanism.
    assert_eq!(unsafe { C_DigestInit(h, &mut m) }, CKR_OK);
    let rv = super::guard("test_panic", || {
        super::with_module(|_| -> crate::p11::Result<()> { panic!("injected panic") })
    });
    assert_eq!(rv, CKR_GENERAL_ERROR);
    // The operation the panic may have left half-done is gone; everything else works.
    let mut d = [0u8; 32];
    let mut n = 32;
    // SAFETY: real buffers.
    unsafe {
        assert_eq!(
            C_DigestFinal(h, d.as_mut_ptr(), &mut n),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(C_DigestInit(h, &mut m), CKR_OK);
        let mut data = *b"abc";
        assert_eq!(
            C_Digest(h, data.as_mut_ptr(), 3, d.as_mut_ptr(), &mut n),
            CKR_OK
        );
        assert_eq!(C_CloseSession(h), CKR_OK);
    }
    assert_usable();
}

fn mech(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: null_mut(),
        ulParameterLen: 0,
    }
}

/// The exact return codes of issue 7 (`docs/compatibility.md`, "Return codes").
#[test]
fn return_codes_of_issue_7() {
    let _g = start("cps3-doctor");
    let h = open(false);
    login(h);
    let key = object(h, CKO_PRIVATE_KEY, "CPS_PRIV_AUT");
    let public = object(
        h,
        CKO_PUBLIC_KEY,
        "Cle publique - Certificat d'Authentification CPS",
    );
    let mut bad = mech(0xdead_beef);
    let mut data = [7u8; 300];
    let mut out = [0u8; 512];
    let mut n: CK_ULONG = 0;
    // SAFETY: real buffers of the announced sizes throughout.
    unsafe {
        // Key handle before mechanism.
        assert_eq!(C_SignInit(h, &mut bad, 0x7fff_0000), CKR_KEY_HANDLE_INVALID);
        assert_eq!(
            C_VerifyInit(h, &mut bad, 0x7fff_0000),
            CKR_KEY_HANDLE_INVALID
        );
        assert_eq!(
            C_EncryptInit(h, &mut bad, 0x7fff_0000),
            CKR_KEY_HANDLE_INVALID
        );
        assert_eq!(
            C_DecryptInit(h, &mut bad, 0x7fff_0000),
            CKR_OBJECT_HANDLE_INVALID
        );
        assert_eq!(
            C_SignInit(h, null_mut(), 0x7fff_0000),
            CKR_KEY_HANDLE_INVALID
        );
        assert_eq!(C_SignInit(h, null_mut(), key), CKR_ARGUMENTS_BAD);
        assert_eq!(C_SignInit(h, &mut bad, key), CKR_MECHANISM_INVALID);

        // A length query answers the length before the input length is checked; the
        // failure that follows ends the operation.
        let mut m = mech(CKM_RSA_PKCS);
        assert_eq!(C_SignInit(h, &mut m, key), CKR_OK);
        assert_eq!(
            C_Sign(h, data.as_mut_ptr(), 300, null_mut(), &mut n),
            CKR_OK
        );
        assert_eq!(n, 256);
        n = 512;
        let rv = C_Sign(h, data.as_mut_ptr(), 300, out.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_DATA_LEN_RANGE);
        let rv = C_Sign(h, data.as_mut_ptr(), 10, out.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(C_EncryptInit(h, &mut m, public), CKR_OK);
        assert_eq!(
            C_Encrypt(h, data.as_mut_ptr(), 300, null_mut(), &mut n),
            CKR_OK
        );
        assert_eq!(n, 256);
        n = 512;
        let rv = C_Encrypt(h, data.as_mut_ptr(), 300, out.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_DATA_LEN_RANGE);
        assert_eq!(C_DecryptInit(h, &mut m, key), CKR_OK);
        assert_eq!(
            C_Decrypt(h, data.as_mut_ptr(), 300, null_mut(), &mut n),
            CKR_OK
        );
        assert_eq!(n, 256);
        n = 512;
        let rv = C_Decrypt(h, data.as_mut_ptr(), 300, out.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_ENCRYPTED_DATA_LEN_RANGE);
        assert_eq!(C_DecryptInit(h, &mut m, key), CKR_OK, "ended");
        assert_eq!(C_DecryptFinal(h, null_mut(), null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(
            C_DecryptInit(h, &mut m, key),
            CKR_OK,
            "ended by ARGUMENTS_BAD"
        );
        let rv = C_Decrypt(h, data.as_mut_ptr(), 256, null_mut(), null_mut());
        assert_eq!(rv, CKR_ARGUMENTS_BAD);

        // C_Verify: a wrong data length is DATA_LEN_RANGE even with a wrong signature
        // length; a wrong signature length ends the operation.
        assert_eq!(C_VerifyInit(h, &mut m, public), CKR_OK);
        let rv = C_Verify(h, data.as_mut_ptr(), 300, out.as_mut_ptr(), 3);
        assert_eq!(rv, CKR_DATA_LEN_RANGE);
        assert_eq!(C_VerifyInit(h, &mut m, public), CKR_OK);
        let rv = C_Verify(h, data.as_mut_ptr(), 10, out.as_mut_ptr(), 3);
        assert_eq!(rv, CKR_SIGNATURE_LEN_RANGE);
        let rv = C_Verify(h, data.as_mut_ptr(), 10, out.as_mut_ptr(), 256);
        assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);

        // A failed C_Digest ends the operation: the next C_DigestInit is not ACTIVE.
        let mut sha = mech(CKM_SHA256);
        assert_eq!(C_DigestInit(h, &mut sha), CKR_OK);
        let rv = C_Digest(h, data.as_mut_ptr(), 3, out.as_mut_ptr(), null_mut());
        assert_eq!(rv, CKR_ARGUMENTS_BAD);
        assert_eq!(C_DigestInit(h, &mut sha), CKR_OK);
        // Single part after multi-part: OPERATION_ACTIVE, the multi-part one goes on.
        assert_eq!(C_DigestUpdate(h, data.as_mut_ptr(), 3), CKR_OK);
        n = 512;
        let rv = C_Digest(h, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_OPERATION_ACTIVE);
        assert_eq!(C_DigestFinal(h, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(n, 32);
        let mut sign = mech(CKM_SHA256_RSA_PKCS);
        assert_eq!(C_SignInit(h, &mut sign, key), CKR_OK);
        assert_eq!(C_SignUpdate(h, data.as_mut_ptr(), 3), CKR_OK);
        n = 512;
        let rv = C_Sign(h, data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_OPERATION_ACTIVE);
        assert_eq!(C_SignFinal(h, out.as_mut_ptr(), &mut n), CKR_OK);
        assert_eq!(n, 256);
        assert_eq!(C_VerifyInit(h, &mut sign, public), CKR_OK);
        assert_eq!(C_VerifyUpdate(h, data.as_mut_ptr(), 3), CKR_OK);
        let rv = C_Verify(h, data.as_mut_ptr(), 3, out.as_mut_ptr(), 256);
        assert_eq!(rv, CKR_OPERATION_ACTIVE);
        assert_eq!(C_VerifyFinal(h, out.as_mut_ptr(), 256), CKR_OK);

        // A parameter on a parameterless mechanism.
        let mut param = [0u8; 8];
        let mut with_param = CK_MECHANISM {
            mechanism: CKM_SHA256,
            pParameter: param.as_mut_ptr() as *mut c_void,
            ulParameterLen: 8,
        };
        assert_eq!(
            C_DigestInit(h, &mut with_param),
            CKR_MECHANISM_PARAM_INVALID
        );

        // Legacy and unsupported functions, after their session check.
        use super::unsupported::{C_CancelFunction, C_GetFunctionStatus, C_SeedRandom};
        assert_eq!(
            C_SeedRandom(h, data.as_mut_ptr(), 3),
            CKR_RANDOM_SEED_NOT_SUPPORTED
        );
        assert_eq!(C_GetFunctionStatus(h), CKR_FUNCTION_NOT_PARALLEL);
        assert_eq!(C_CancelFunction(h), CKR_FUNCTION_NOT_PARALLEL);
        let closed = 0x7fff_0000;
        assert_eq!(
            C_SeedRandom(closed, null_mut(), 0),
            CKR_SESSION_HANDLE_INVALID
        );
        assert_eq!(C_GetFunctionStatus(closed), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(C_CancelFunction(closed), CKR_SESSION_HANDLE_INVALID);

        // The slot before the arguments.
        let rv = C_OpenSession(4242, CKF_SERIAL_SESSION, null_mut(), None, null_mut());
        assert_eq!(rv, CKR_SLOT_ID_INVALID);
        // C_GetMechanismInfo with a NULL output.
        let mut info: CK_SESSION_INFO = std::mem::zeroed();
        assert_eq!(C_GetSessionInfo(h, &mut info), CKR_OK);
        let rv = C_GetMechanismInfo(info.slotID, CKM_RSA_PKCS, null_mut());
        assert_eq!(rv, CKR_ARGUMENTS_BAD);
        assert_eq!(C_CloseSession(h), CKR_OK);
    }
    assert_usable();
}

/// CPS4 has a modifiable CPS_DATA (cryptolib-compat §6.3, cpx-cards §10.6): found with ANS's
/// template {CLASS=DATA, TOKEN=TRUE, MODIFIABLE=TRUE, LABEL}, written and read back.
#[test]
fn cps4_cps_data_is_modifiable() {
    let _g = start("cps4-nurse");
    let h = open(true);
    login(h);
    let (mut class, mut yes) = (CKO_DATA, CK_TRUE);
    let mut label = *b"CPS_DATA";
    let attr = |type_, p: *mut c_void, n: usize| CK_ATTRIBUTE {
        type_,
        pValue: p,
        ulValueLen: n as CK_ULONG,
    };
    let mut t = [
        attr(CKA_CLASS, &mut class as *mut _ as *mut c_void, 8),
        attr(CKA_TOKEN, &mut yes as *mut _ as *mut c_void, 1),
        attr(CKA_MODIFIABLE, &mut yes as *mut _ as *mut c_void, 1),
        attr(CKA_LABEL, label.as_mut_ptr() as *mut c_void, 8),
    ];
    let mut found = [0 as CK_OBJECT_HANDLE; 2];
    let mut n = 0;
    let mut value = *b"hello CPS4";
    let mut back = [0u8; 512];
    // SAFETY: real template and buffers of the announced sizes.
    unsafe {
        assert_eq!(C_FindObjectsInit(h, t.as_mut_ptr(), 4), CKR_OK);
        assert_eq!(C_FindObjects(h, found.as_mut_ptr(), 2, &mut n), CKR_OK);
        assert_eq!(C_FindObjectsFinal(h), CKR_OK);
        assert_eq!(n, 1);
        let mut w = [attr(CKA_VALUE, value.as_mut_ptr() as *mut c_void, 10)];
        assert_eq!(C_SetAttributeValue(h, found[0], w.as_mut_ptr(), 1), CKR_OK);
        let mut r = [attr(CKA_VALUE, back.as_mut_ptr() as *mut c_void, 512)];
        assert_eq!(C_GetAttributeValue(h, found[0], r.as_mut_ptr(), 1), CKR_OK);
        assert_eq!(&back[..10], b"hello CPS4");
        assert_eq!(C_CloseSession(h), CKR_OK);
    }
}
