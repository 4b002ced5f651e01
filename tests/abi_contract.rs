//! ABI contract (`style.md` §9 tier 4): the built cdylib called through its raw C entry
//! points (cryptoki-sys dynamic loading): calls before C_Initialize, initialise arguments,
//! double initialise, null pointers, bad handles, short buffers, the attribute-template
//! protocol, operation-state rules, unsupported functions, complete 2.40 and 3.0 lists.
//! One test function: the module has process-global state.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki_sys::*;
use std::ptr::{null, null_mut};

unsafe extern "C" fn dummy_mutex(_: *mut *mut std::ffi::c_void) -> CK_RV {
    CKR_OK
}

/// Every function pointer of a list (the words after `version`) is non-null.
fn all_set<T>(list: &T) -> usize {
    let words = (std::mem::size_of::<T>() - 8) / std::mem::size_of::<usize>();
    let base = list as *const T as *const u8;
    for i in 0..words {
        // SAFETY: reads pointer-sized words inside the struct.
        let w = unsafe { (base.add(8) as *const usize).add(i).read_unaligned() };
        assert_ne!(w, 0, "entry {i} is NULL");
    }
    words
}

#[test]
#[allow(clippy::too_many_lines)]
fn abi_contract() {
    std::env::set_var("CPX_SIM_CARDS", "cps3-doctor");
    common::use_scratch_cache();
    // SAFETY: loading our own PKCS#11 module; the calls below follow the C API.
    let p11 = unsafe { Pkcs11::new(library()) }.expect("load module");
    unsafe {
        // Function lists.
        let mut list: *mut CK_FUNCTION_LIST = null_mut();
        assert_eq!(p11.C_GetFunctionList(&mut list), CKR_OK);
        assert_eq!(((*list).version.major, (*list).version.minor), (2, 40));
        assert_eq!(all_set(&*list), 68);
        assert_eq!(p11.C_GetFunctionList(null_mut()), CKR_ARGUMENTS_BAD);
        let mut n: CK_ULONG = 0;
        assert_eq!(p11.C_GetInterfaceList(null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 2);
        let mut iface: *mut CK_INTERFACE = null_mut();
        assert_eq!(
            p11.C_GetInterface(null_mut(), null_mut(), &mut iface, 0),
            CKR_OK
        );
        let l3 = (*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0;
        assert_eq!(((*l3).version.major, (*l3).version.minor), (3, 0));
        assert_eq!(all_set(&*l3), 92);
        let mut v = CK_VERSION {
            major: 2,
            minor: 40,
        };
        let mut name = *b"PKCS 11\0";
        assert_eq!(
            p11.C_GetInterface(name.as_mut_ptr(), &mut v, &mut iface, 0),
            CKR_OK
        );
        assert_eq!(
            (*iface).pFunctionList as *const CK_FUNCTION_LIST,
            list as *const _
        );
        // Some callers write into the interface they are handed (OpenSC's pkcs11-spy swaps in
        // its own function list): the structure must be writable, as a C module's global is.
        let original = (*iface).pFunctionList;
        std::ptr::write_volatile(&mut (*iface).pFunctionList, null_mut());
        assert!((*iface).pFunctionList.is_null());
        (*iface).pFunctionList = original;
        let mut other = *b"Vendor\0";
        assert_eq!(
            p11.C_GetInterface(other.as_mut_ptr(), null_mut(), &mut iface, 0),
            CKR_ARGUMENTS_BAD
        );

        // Before C_Initialize.
        let mut info: CK_INFO = std::mem::zeroed();
        assert_eq!(p11.C_GetInfo(&mut info), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(
            p11.C_GetSlotList(CK_FALSE, null_mut(), &mut n),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(
            p11.C_OpenSession(0, CKF_SERIAL_SESSION, null_mut(), None, &mut n),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(
            p11.C_GetObjectSize(1, 1, &mut n),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(p11.C_Finalize(null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);

        // C_Initialize arguments: mutex functions all or none.
        let mut args: CK_C_INITIALIZE_ARGS = std::mem::zeroed();
        args.CreateMutex = Some(dummy_mutex);
        assert_eq!(
            p11.C_Initialize(&mut args as *mut _ as *mut _),
            CKR_ARGUMENTS_BAD
        );
        let mut args: CK_C_INITIALIZE_ARGS = std::mem::zeroed();
        args.flags = CKF_OS_LOCKING_OK;
        let mut reserved = *b"x-init-reserved\0";
        args.pReserved = reserved.as_mut_ptr() as *mut _;
        assert_eq!(p11.C_Initialize(&mut args as *mut _ as *mut _), CKR_OK);
        assert_eq!(
            p11.C_Initialize(null_mut()),
            CKR_CRYPTOKI_ALREADY_INITIALIZED
        );
        assert_eq!(
            p11.C_Finalize(&mut n as *mut _ as *mut _),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(p11.C_Finalize(null_mut()), CKR_OK);
        assert_eq!(p11.C_Initialize(null_mut()), CKR_OK);

        // C_GetInfo.
        assert_eq!(p11.C_GetInfo(null_mut()), CKR_ARGUMENTS_BAD);
        assert_eq!(p11.C_GetInfo(&mut info), CKR_OK);
        assert_eq!(
            (info.cryptokiVersion.major, info.cryptokiVersion.minor),
            (2, 40)
        );
        assert!(!info.manufacturerID.starts_with(b"ANS"));

        // Slots: length protocol, bad IDs.
        assert_eq!(
            p11.C_GetSlotList(CK_FALSE, null_mut(), null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(p11.C_GetSlotList(CK_TRUE, null_mut(), &mut n), CKR_OK);
        assert_eq!(n, 1);
        let mut slots = [99 as CK_SLOT_ID; 1];
        n = 0;
        assert_eq!(
            p11.C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(n, 1);
        assert_eq!(
            p11.C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n),
            CKR_OK
        );
        let slot = slots[0];
        let mut sinfo: CK_SLOT_INFO = std::mem::zeroed();
        assert_eq!(p11.C_GetSlotInfo(slot, &mut sinfo), CKR_OK);
        assert_ne!(sinfo.flags & CKF_TOKEN_PRESENT, 0);
        assert_eq!(p11.C_GetSlotInfo(4242, &mut sinfo), CKR_SLOT_ID_INVALID);
        assert_eq!(p11.C_GetSlotInfo(slot, null_mut()), CKR_ARGUMENTS_BAD);
        let mut tinfo: CK_TOKEN_INFO = std::mem::zeroed();
        assert_eq!(p11.C_GetTokenInfo(4242, &mut tinfo), CKR_SLOT_ID_INVALID);
        let mut ev: CK_SLOT_ID = 0;
        assert_eq!(
            p11.C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut ev, null_mut()),
            CKR_NO_EVENT
        );
        // (The blocking wait: tests/flow_slot_events.rs.)

        // Sessions.
        let mut h: CK_SESSION_HANDLE = 0;
        assert_eq!(
            p11.C_OpenSession(slot, 0, null_mut(), None, &mut h),
            CKR_SESSION_PARALLEL_NOT_SUPPORTED
        );
        assert_eq!(
            p11.C_OpenSession(slot, CKF_SERIAL_SESSION, null_mut(), None, null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(p11.C_CloseSession(999), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(p11.C_GetTokenInfo(slot, &mut tinfo), CKR_OK);
        assert!(tinfo.label.starts_with(b"CPS3v3-"));
        assert_eq!(
            p11.C_OpenSession(slot, CKF_SERIAL_SESSION, null_mut(), None, &mut h),
            CKR_OK
        );
        assert!(h >= 1);
        assert_eq!(p11.C_Login(h, CKU_USER, null_mut(), 4), CKR_ARGUMENTS_BAD);

        // Unsupported functions.
        assert_eq!(
            p11.C_GetObjectSize(h, 1, &mut n),
            CKR_FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(
            p11.C_CreateObject(h, null_mut(), 0, &mut n),
            CKR_FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(
            p11.C_GetOperationState(h, null_mut(), &mut n),
            CKR_FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(
            p11.C_SeedRandom(h, null_mut(), 0),
            CKR_RANDOM_SEED_NOT_SUPPORTED
        );

        // Find the signature certificate.
        let mut class = CKO_CERTIFICATE;
        let mut label = *b"Certificat de Signature CPS";
        let mut tmpl = [
            CK_ATTRIBUTE {
                type_: CKA_CLASS,
                pValue: &mut class as *mut _ as *mut _,
                ulValueLen: std::mem::size_of::<CK_ULONG>() as CK_ULONG,
            },
            CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: label.as_mut_ptr() as *mut _,
                ulValueLen: label.len() as CK_ULONG,
            },
        ];
        let mut objs = [0 as CK_OBJECT_HANDLE; 4];
        assert_eq!(
            p11.C_FindObjects(h, objs.as_mut_ptr(), 4, &mut n),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(
            p11.C_FindObjects(h, null_mut(), 1, &mut n),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(p11.C_FindObjectsInit(h, tmpl.as_mut_ptr(), 2), CKR_OK);
        assert_eq!(
            p11.C_FindObjectsInit(h, tmpl.as_mut_ptr(), 2),
            CKR_OPERATION_ACTIVE
        );
        assert_eq!(
            p11.C_FindObjects(h, objs.as_mut_ptr(), 4, null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(p11.C_FindObjects(h, objs.as_mut_ptr(), 4, &mut n), CKR_OK);
        assert_eq!(n, 1);
        assert_eq!(p11.C_FindObjectsFinal(h), CKR_OK);
        let cert = objs[0];

        // Attribute template protocol.
        let mut small = [0u8; 4];
        let mut lab = [0u8; 64];
        let mut t = [
            CK_ATTRIBUTE {
                type_: CKA_VALUE,
                pValue: null_mut(),
                ulValueLen: 0,
            },
            CK_ATTRIBUTE {
                type_: 0x8123_4567,
                pValue: null_mut(),
                ulValueLen: 0,
            },
            CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: lab.as_mut_ptr() as *mut _,
                ulValueLen: 64,
            },
        ];
        assert_eq!(
            p11.C_GetAttributeValue(h, cert, t.as_mut_ptr(), 3),
            CKR_ATTRIBUTE_TYPE_INVALID
        );
        let der_len = t[0].ulValueLen;
        assert!(der_len > 500 && der_len != CK_UNAVAILABLE_INFORMATION);
        assert_eq!(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(
            &lab[..t[2].ulValueLen as usize],
            b"Certificat de Signature CPS"
        );
        let mut t = [CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: small.as_mut_ptr() as *mut _,
            ulValueLen: 4,
        }];
        assert_eq!(
            p11.C_GetAttributeValue(h, cert, t.as_mut_ptr(), 1),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(small, [0; 4], "a too-small buffer is not written");
        assert_eq!(
            p11.C_GetAttributeValue(h, 987_654, t.as_mut_ptr(), 1),
            CKR_OBJECT_HANDLE_INVALID
        );
        assert_eq!(
            p11.C_GetAttributeValue(h, cert, null_mut(), 1),
            CKR_ARGUMENTS_BAD
        );

        // Operation-state rules.
        let mut mech = CK_MECHANISM {
            mechanism: CKM_SHA256,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        let mut out = [0u8; 64];
        let mut len: CK_ULONG = 64;
        assert_eq!(p11.C_SignInit(h, null_mut(), cert), CKR_ARGUMENTS_BAD);
        assert_eq!(
            p11.C_Sign(h, b"x".as_ptr() as *mut _, 1, out.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(
            p11.C_DigestFinal(h, out.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(p11.C_DigestInit(h, &mut mech), CKR_OK);
        assert_eq!(p11.C_DigestInit(h, &mut mech), CKR_OPERATION_ACTIVE);
        len = 0;
        assert_eq!(
            p11.C_Digest(h, b"abc".as_ptr() as *mut _, 3, null_mut(), &mut len),
            CKR_OK
        );
        assert_eq!(len, 32);
        len = 8;
        assert_eq!(
            p11.C_Digest(h, b"abc".as_ptr() as *mut _, 3, out.as_mut_ptr(), &mut len),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(len, 32);
        assert_eq!(
            p11.C_Digest(h, b"abc".as_ptr() as *mut _, 3, out.as_mut_ptr(), &mut len),
            CKR_OK
        );
        let first = out[..32].to_vec();
        // C_DigestFinal after C_Digest is tolerated (cryptolib-compat §14).
        len = 64;
        assert_eq!(p11.C_DigestFinal(h, out.as_mut_ptr(), &mut len), CKR_OK);
        assert_eq!(&out[..32], &first[..]);
        let mut bad = CK_MECHANISM {
            mechanism: CKM_MD5,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        assert_eq!(p11.C_DigestInit(h, &mut bad), CKR_MECHANISM_INVALID);
        let mut rsa = CK_MECHANISM {
            mechanism: CKM_RSA_PKCS,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        assert_eq!(p11.C_SignInit(h, &mut rsa, 987_654), CKR_KEY_HANDLE_INVALID);
        assert_eq!(
            p11.C_DecryptInit(h, &mut rsa, 987_654),
            CKR_OBJECT_HANDLE_INVALID
        );
        assert_eq!(
            p11.C_EncryptInit(h, &mut rsa, 987_654),
            CKR_KEY_HANDLE_INVALID
        );
        assert_eq!(p11.C_SignInit(h, &mut rsa, cert), CKR_KEY_TYPE_INCONSISTENT);

        // Login rules.
        let mut so = *b"12345678";
        assert_eq!(
            p11.C_Login(h, CKU_SO, so.as_mut_ptr(), 8),
            CKR_SESSION_READ_ONLY_EXISTS
        );
        assert_eq!(p11.C_Logout(h), CKR_USER_NOT_LOGGED_IN);
        let mut pin = *b"1234";
        assert_eq!(p11.C_Login(h, CKU_USER, pin.as_mut_ptr(), 4), CKR_OK);
        assert_eq!(
            p11.C_Login(h, CKU_USER, pin.as_mut_ptr(), 4),
            CKR_USER_ALREADY_LOGGED_IN
        );
        assert_eq!(p11.C_Logout(h), CKR_OK);

        assert_eq!(p11.C_CloseSession(h), CKR_OK);
        assert_eq!(p11.C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(p11.C_Finalize(null_mut()), CKR_OK);
        assert_eq!(
            p11.C_GetSlotList(CK_FALSE, null_mut(), &mut n),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
    }
    let _ = null::<u8>();
}
