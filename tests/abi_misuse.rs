//! The misuse matrix (issue 7): every function of both function lists (C_GetFunctionList's 2.40
//! list and C_GetInterface's 3.0 list), called through the built `.so` as a buggy application
//! would call it — before C_Initialize, after C_Finalize, each pointer argument NULL in turn,
//! invalid and stale session, slot and object handles, absurd lengths (0, 1, 2^31, 2^63−1,
//! ULONG_MAX) against small real buffers, garbage mechanisms and templates — plus calls out of
//! order and bad C_INITIALIZE_ARGS. Each call must answer a correct CK_RV without crashing or
//! hanging, and the module must stay usable (slots, a session, a signature) after each function.
//!
//! The table describes each function by the kinds of its arguments; every argument is passed
//! as a 64-bit integer (pointers, handles, lengths and flags all travel in integer registers
//! or stack words on the 64-bit Unix C ABIs), so one caller serves every row.
#![cfg(all(feature = "sim", unix, target_pointer_width = "64"))]

mod common;
use common::*;

use cryptoki_sys::*;
use std::ptr::null_mut;

/// What an argument is, which decides its valid value and its misuse cases.
#[derive(Clone, Copy, PartialEq, Debug)]
enum A {
    /// CK_SESSION_HANDLE.
    Sess,
    /// CK_SLOT_ID.
    Slot,
    /// An object or key handle.
    Obj,
    /// CK_MECHANISM_PTR.
    Mech,
    /// Input bytes (the next argument is their length).
    In,
    /// A PIN (the next argument is its length).
    Pin,
    /// The length of the previous pointer (or a count).
    Len,
    /// Output bytes (the next argument is a CK_ULONG_PTR length).
    Out,
    /// CK_ULONG_PTR: the length of the previous output.
    OutLen,
    /// CK_ATTRIBUTE_PTR (the next argument is the count).
    Tmpl,
    /// A structure, handle or list the function writes.
    Ptr,
    /// A plain value (flags, user type, mechanism type, CK_BBOOL).
    Val(u64),
    /// C_Initialize's argument (tested separately).
    InitArgs,
}
use A::*;

/// The 2.40 functions in function-list order, then the 3.0 additions.
const FUNCTIONS: &[(&str, &[A])] = &[
    ("C_Initialize", &[InitArgs]),
    ("C_Finalize", &[Val(0)]),
    ("C_GetInfo", &[Ptr]),
    ("C_GetFunctionList", &[Ptr]),
    ("C_GetSlotList", &[Val(1), Out, OutLen]),
    ("C_GetSlotInfo", &[Slot, Ptr]),
    ("C_GetTokenInfo", &[Slot, Ptr]),
    ("C_GetMechanismList", &[Slot, Out, OutLen]),
    ("C_GetMechanismInfo", &[Slot, Val(CKM_RSA_PKCS), Ptr]),
    ("C_InitToken", &[Slot, Pin, Len, In]),
    ("C_InitPIN", &[Sess, Pin, Len]),
    ("C_SetPIN", &[Sess, Pin, Len, Pin, Len]),
    (
        "C_OpenSession",
        &[Slot, Val(CKF_SERIAL_SESSION), Val(0), Val(0), Ptr],
    ),
    ("C_CloseSession", &[Sess]),
    ("C_CloseAllSessions", &[Slot]),
    ("C_GetSessionInfo", &[Sess, Ptr]),
    ("C_GetOperationState", &[Sess, Out, OutLen]),
    ("C_SetOperationState", &[Sess, In, Len, Obj, Obj]),
    ("C_Login", &[Sess, Val(CKU_USER), Pin, Len]),
    ("C_Logout", &[Sess]),
    ("C_CreateObject", &[Sess, Tmpl, Len, Ptr]),
    ("C_CopyObject", &[Sess, Obj, Tmpl, Len, Ptr]),
    ("C_DestroyObject", &[Sess, Obj]),
    ("C_GetObjectSize", &[Sess, Obj, Ptr]),
    ("C_GetAttributeValue", &[Sess, Obj, Tmpl, Len]),
    ("C_SetAttributeValue", &[Sess, Obj, Tmpl, Len]),
    ("C_FindObjectsInit", &[Sess, Tmpl, Len]),
    ("C_FindObjects", &[Sess, Out, Len, Ptr]),
    ("C_FindObjectsFinal", &[Sess]),
    ("C_EncryptInit", &[Sess, Mech, Obj]),
    ("C_Encrypt", &[Sess, In, Len, Out, OutLen]),
    ("C_EncryptUpdate", &[Sess, In, Len, Out, OutLen]),
    ("C_EncryptFinal", &[Sess, Out, OutLen]),
    ("C_DecryptInit", &[Sess, Mech, Obj]),
    ("C_Decrypt", &[Sess, In, Len, Out, OutLen]),
    ("C_DecryptUpdate", &[Sess, In, Len, Out, OutLen]),
    ("C_DecryptFinal", &[Sess, Out, OutLen]),
    ("C_DigestInit", &[Sess, Mech]),
    ("C_Digest", &[Sess, In, Len, Out, OutLen]),
    ("C_DigestUpdate", &[Sess, In, Len]),
    ("C_DigestKey", &[Sess, Obj]),
    ("C_DigestFinal", &[Sess, Out, OutLen]),
    ("C_SignInit", &[Sess, Mech, Obj]),
    ("C_Sign", &[Sess, In, Len, Out, OutLen]),
    ("C_SignUpdate", &[Sess, In, Len]),
    ("C_SignFinal", &[Sess, Out, OutLen]),
    ("C_SignRecoverInit", &[Sess, Mech, Obj]),
    ("C_SignRecover", &[Sess, In, Len, Out, OutLen]),
    ("C_VerifyInit", &[Sess, Mech, Obj]),
    ("C_Verify", &[Sess, In, Len, In, Len]),
    ("C_VerifyUpdate", &[Sess, In, Len]),
    ("C_VerifyFinal", &[Sess, In, Len]),
    ("C_VerifyRecoverInit", &[Sess, Mech, Obj]),
    ("C_VerifyRecover", &[Sess, In, Len, Out, OutLen]),
    ("C_DigestEncryptUpdate", &[Sess, In, Len, Out, OutLen]),
    ("C_DecryptDigestUpdate", &[Sess, In, Len, Out, OutLen]),
    ("C_SignEncryptUpdate", &[Sess, In, Len, Out, OutLen]),
    ("C_DecryptVerifyUpdate", &[Sess, In, Len, Out, OutLen]),
    ("C_GenerateKey", &[Sess, Mech, Tmpl, Len, Ptr]),
    (
        "C_GenerateKeyPair",
        &[Sess, Mech, Tmpl, Len, Tmpl, Len, Ptr, Ptr],
    ),
    ("C_WrapKey", &[Sess, Mech, Obj, Obj, Out, OutLen]),
    ("C_UnwrapKey", &[Sess, Mech, Obj, In, Len, Tmpl, Len, Ptr]),
    ("C_DeriveKey", &[Sess, Mech, Obj, Tmpl, Len, Ptr]),
    ("C_SeedRandom", &[Sess, In, Len]),
    ("C_GenerateRandom", &[Sess, Out, Len]),
    ("C_GetFunctionStatus", &[Sess]),
    ("C_CancelFunction", &[Sess]),
    ("C_WaitForSlotEvent", &[Val(CKF_DONT_BLOCK), Ptr, Val(0)]),
    // PKCS#11 3.0.
    ("C_GetInterfaceList", &[Out, OutLen]),
    ("C_GetInterface", &[In, In, Ptr, Val(0)]),
    ("C_LoginUser", &[Sess, Val(CKU_USER), Pin, Len, In, Len]),
    ("C_SessionCancel", &[Sess, Val(0)]),
    ("C_MessageEncryptInit", &[Sess, Mech, Obj]),
    ("C_EncryptMessage", &[Sess, In, Len, In, Len, In, Len, Ptr]),
    ("C_EncryptMessageBegin", &[Sess, In, Len, In, Len]),
    (
        "C_EncryptMessageNext",
        &[Sess, In, Len, In, Len, Out, OutLen],
    ),
    ("C_MessageEncryptFinal", &[Sess]),
    ("C_MessageDecryptInit", &[Sess, Mech, Obj]),
    ("C_DecryptMessage", &[Sess, In, Len, In, Len, In, Len, Ptr]),
    ("C_DecryptMessageBegin", &[Sess, In, Len, In, Len]),
    (
        "C_DecryptMessageNext",
        &[Sess, In, Len, In, Len, Out, OutLen],
    ),
    ("C_MessageDecryptFinal", &[Sess]),
    ("C_MessageSignInit", &[Sess, Mech, Obj]),
    ("C_SignMessage", &[Sess, In, Len, In, Len, Out, OutLen]),
    ("C_SignMessageBegin", &[Sess, In, Len]),
    ("C_SignMessageNext", &[Sess, In, Len, In, Len, Out, OutLen]),
    ("C_MessageSignFinal", &[Sess]),
    ("C_MessageVerifyInit", &[Sess, Mech, Obj]),
    ("C_VerifyMessage", &[Sess, In, Len, In, Len, In, Len]),
    ("C_VerifyMessageBegin", &[Sess, In, Len]),
    ("C_VerifyMessageNext", &[Sess, In, Len, In, Len, In, Len]),
    ("C_MessageVerifyFinal", &[Sess]),
];

/// Functions answering CKR_FUNCTION_NOT_SUPPORTED whatever the arguments (cryptolib-compat §8
/// and the 3.0 additions), once the module is initialised.
fn unsupported(name: &str) -> bool {
    const LIST: &[&str] = &[
        "C_InitToken",
        "C_GetOperationState",
        "C_SetOperationState",
        "C_CreateObject",
        "C_CopyObject",
        "C_DestroyObject",
        "C_GetObjectSize",
        "C_EncryptUpdate",
        "C_EncryptFinal",
        "C_DigestKey",
        "C_SignRecoverInit",
        "C_SignRecover",
        "C_VerifyRecoverInit",
        "C_VerifyRecover",
        "C_DigestEncryptUpdate",
        "C_DecryptDigestUpdate",
        "C_SignEncryptUpdate",
        "C_DecryptVerifyUpdate",
        "C_GenerateKey",
        "C_GenerateKeyPair",
        "C_WrapKey",
        "C_UnwrapKey",
        "C_DeriveKey",
    ];
    LIST.contains(&name)
        || (FUNCTIONS.iter().position(|f| f.0 == name).unwrap() >= 70 && name != "C_GetInterface")
}

/// Functions needing no C_Initialize.
fn needs_no_init(name: &str) -> bool {
    matches!(
        name,
        "C_GetFunctionList" | "C_GetInterfaceList" | "C_GetInterface" | "C_Initialize"
    )
}

/// Every CKR the module may answer (anything else, and CKR_GENERAL_ERROR, fails the matrix).
const SANE: &[CK_RV] = &[
    CKR_OK,
    CKR_ARGUMENTS_BAD,
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_CRYPTOKI_ALREADY_INITIALIZED,
    CKR_SLOT_ID_INVALID,
    CKR_SESSION_HANDLE_INVALID,
    CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    CKR_SESSION_READ_ONLY,
    CKR_SESSION_READ_ONLY_EXISTS,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_KEY_HANDLE_INVALID,
    CKR_KEY_TYPE_INCONSISTENT,
    CKR_MECHANISM_INVALID,
    CKR_MECHANISM_PARAM_INVALID,
    CKR_OPERATION_ACTIVE,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_USER_NOT_LOGGED_IN,
    CKR_USER_ALREADY_LOGGED_IN,
    CKR_USER_TYPE_INVALID,
    CKR_PIN_INCORRECT,
    CKR_PIN_LEN_RANGE,
    CKR_DATA_LEN_RANGE,
    CKR_ENCRYPTED_DATA_LEN_RANGE,
    CKR_SIGNATURE_LEN_RANGE,
    CKR_SIGNATURE_INVALID,
    CKR_BUFFER_TOO_SMALL,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_TEMPLATE_INCONSISTENT,
    CKR_ACTION_PROHIBITED,
    CKR_TOKEN_WRITE_PROTECTED,
    CKR_FUNCTION_NOT_SUPPORTED,
    CKR_FUNCTION_NOT_PARALLEL,
    CKR_RANDOM_SEED_NOT_SUPPORTED,
    CKR_NO_EVENT,
];

const ABSURD: [u64; 5] = [0, 1, 1 << 31, (1 << 63) - 1, u64::MAX];

/// A non-NULL pointer to nothing (never dereferenced by a correct module in these cases).
const WILD: u64 = 0x10;

type Raw = unsafe extern "C" fn(u64, u64, u64, u64, u64, u64, u64, u64) -> CK_RV;

/// Buffers the valid arguments point to: small, real, rewritten before every call.
struct Buffers {
    input: Vec<u8>,
    pin: [u8; 4],
    out: Vec<u64>,
    out_len: u64,
    ptrs: Vec<Vec<u64>>,
    mech: CK_MECHANISM,
    template: [CK_ATTRIBUTE; 2],
    values: [[u8; 64]; 2],
    name: [u8; 8],
    version: CK_VERSION,
}

impl Buffers {
    fn new() -> Box<Buffers> {
        let mut b = Box::new(Buffers {
            input: vec![1; 64],
            pin: *b"1234",
            out: vec![0; 512],
            out_len: 0,
            ptrs: vec![vec![0; 512]; 3],
            mech: CK_MECHANISM {
                mechanism: CKM_SHA256_RSA_PKCS,
                pParameter: null_mut(),
                ulParameterLen: 0,
            },
            template: [CK_ATTRIBUTE {
                type_: 0,
                pValue: null_mut(),
                ulValueLen: 0,
            }; 2],
            values: [[0; 64]; 2],
            name: *b"PKCS 11\0",
            version: CK_VERSION { major: 3, minor: 0 },
        });
        b.reset();
        b
    }

    fn reset(&mut self) {
        self.input.fill(1);
        self.out.fill(0);
        self.out_len = (self.out.len() * 8) as u64;
        for p in &mut self.ptrs {
            p.fill(0);
        }
        self.mech = CK_MECHANISM {
            mechanism: CKM_SHA256_RSA_PKCS,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        self.values = [[0; 64]; 2];
        self.values[0][..8].copy_from_slice(b"CPS_DATA");
        self.template = [
            CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: self.values[0].as_mut_ptr() as *mut _,
                ulValueLen: 8,
            },
            CK_ATTRIBUTE {
                type_: CKA_VALUE,
                pValue: self.values[1].as_mut_ptr() as *mut _,
                ulValueLen: 64,
            },
        ];
    }
}

/// The module's state the cases run against: an anchor session keeps the token logged in;
/// each case runs on a fresh read/write work session.
struct Ctx {
    p11: Pkcs11,
    slot: CK_SLOT_ID,
    anchor: CK_SESSION_HANDLE,
    work: CK_SESSION_HANDLE,
    key: CK_OBJECT_HANDLE,
    stale_session: CK_SESSION_HANDLE,
}

impl Ctx {
    /// Initialised, the anchor session open and logged in, a new work session, the key found.
    fn refresh(&mut self) {
        let p = &self.p11;
        // SAFETY: valid arguments throughout.
        unsafe {
            let mut info: CK_SESSION_INFO = std::mem::zeroed();
            let anchor_ok =
                self.anchor != 0 && p.C_GetSessionInfo(self.anchor, &mut info) == CKR_OK;
            if !anchor_ok {
                let rv = p.C_Initialize(null_mut());
                assert!(
                    rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED,
                    "{rv:#x}"
                );
                let mut slots = [0; 4];
                let mut n = 4;
                assert_eq!(p.C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n), CKR_OK);
                self.slot = slots[0];
                let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
                assert_eq!(
                    p.C_OpenSession(self.slot, flags, null_mut(), None, &mut self.anchor),
                    CKR_OK
                );
            }
            assert_eq!(p.C_GetSessionInfo(self.anchor, &mut info), CKR_OK);
            if info.state != CKS_RW_USER_FUNCTIONS {
                let mut pin = *b"1234";
                assert_eq!(
                    p.C_Login(self.anchor, CKU_USER, pin.as_mut_ptr(), 4),
                    CKR_OK
                );
            }
            if self.work != 0 {
                p.C_CloseSession(self.work);
                self.stale_session = self.work;
            }
            let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
            assert_eq!(
                p.C_OpenSession(self.slot, flags, null_mut(), None, &mut self.work),
                CKR_OK
            );
            self.key = find_key(p, self.work);
        }
    }

    /// A full round: slot list, a session, a signature verified by the module.
    fn assert_usable(&mut self, after: &str) {
        self.refresh();
        let p = &self.p11;
        let h = self.work;
        let mut m = CK_MECHANISM {
            mechanism: CKM_SHA256_RSA_PKCS,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        let mut data = *b"still usable";
        let mut sig = [0u8; 256];
        let mut n = 256;
        // SAFETY: real buffers of the announced sizes.
        unsafe {
            let mut count = 0;
            assert_eq!(
                p.C_GetSlotList(CK_TRUE, null_mut(), &mut count),
                CKR_OK,
                "{after}"
            );
            assert_eq!(p.C_SignInit(h, &mut m, self.key), CKR_OK, "{after}");
            assert_eq!(
                p.C_Sign(h, data.as_mut_ptr(), 12, sig.as_mut_ptr(), &mut n),
                CKR_OK,
                "{after}"
            );
            assert_eq!(p.C_VerifyInit(h, &mut m, self.key), CKR_OK, "{after}");
            assert_eq!(
                p.C_Verify(h, data.as_mut_ptr(), 12, sig.as_mut_ptr(), 256),
                CKR_OK,
                "{after}"
            );
        }
    }
}

/// The authentication private key.
fn find_key(p: &Pkcs11, h: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
    let mut label = *b"CPS_PRIV_AUT";
    let mut t = [CK_ATTRIBUTE {
        type_: CKA_LABEL,
        pValue: label.as_mut_ptr() as *mut _,
        ulValueLen: label.len() as CK_ULONG,
    }];
    let mut found = [0; 2];
    let mut n = 0;
    // SAFETY: real template and buffers.
    unsafe {
        assert_eq!(p.C_FindObjectsInit(h, t.as_mut_ptr(), 1), CKR_OK);
        assert_eq!(p.C_FindObjects(h, found.as_mut_ptr(), 2, &mut n), CKR_OK);
        assert_eq!(p.C_FindObjectsFinal(h), CKR_OK);
    }
    assert_eq!(n, 1);
    found[0]
}

/// One misuse of one argument.
#[derive(Clone, Copy, Debug)]
enum Case {
    Valid,
    Null(usize),
    Value(usize, u64),
    OutLenValue(u64),
    GarbageMech(u64, u64),
    GarbageTemplate(usize, u64, u64),
    HugeValueLen(u64),
    GarbageType,
}

/// What a case must answer, beyond "a sane CK_RV".
#[derive(Debug)]
enum Expect {
    Sane,
    NotOk,
    Exact(CK_RV),
    OneOf(&'static [CK_RV]),
}

fn cases(name: &str, args: &[A]) -> Vec<(Case, Expect)> {
    let mut v = vec![(Case::Valid, Expect::Sane)];
    for (i, a) in args.iter().enumerate() {
        match a {
            // C_GetInterface: a NULL name or version means "any".
            In if name == "C_GetInterface" => v.push((Case::Null(i), Expect::Sane)),
            Mech | In | Pin | Tmpl | Ptr | OutLen => v.push((Case::Null(i), Expect::NotOk)),
            Out => v.push((Case::Null(i), Expect::Sane)),
            _ => {}
        }
        match a {
            Sess => {
                for h in [0, 0x7fff_ffff, u64::MAX] {
                    v.push((Case::Value(i, h), Expect::Exact(CKR_SESSION_HANDLE_INVALID)));
                }
                // The stale handle of the previous work session: set at call time.
                v.push((
                    Case::Value(i, u64::MAX - 1),
                    Expect::Exact(CKR_SESSION_HANDLE_INVALID),
                ));
            }
            Slot => {
                for s in [4242, u64::MAX] {
                    v.push((Case::Value(i, s), Expect::Exact(CKR_SLOT_ID_INVALID)));
                }
            }
            Obj => {
                for o in [0, 0x7fff_ffff, u64::MAX] {
                    v.push((
                        Case::Value(i, o),
                        Expect::OneOf(&[CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID]),
                    ));
                }
            }
            Len => {
                let input = i > 0 && matches!(args[i - 1], In | Pin);
                for n in ABSURD {
                    let e = if input && n >= 1 << 31 {
                        Expect::NotOk
                    } else {
                        Expect::Sane
                    };
                    v.push((Case::Value(i, n), e));
                }
            }
            OutLen => {
                for n in ABSURD {
                    v.push((Case::OutLenValue(n), Expect::Sane));
                }
            }
            Mech => {
                for (ty, n) in [
                    (0xdead_beef, u64::MAX),
                    (CKM_SHA256_RSA_PKCS, 8),
                    (CKM_SHA256, 1 << 31),
                    (CKM_RSA_PKCS_PSS, u64::MAX),
                    (CKM_RSA_PKCS, (1 << 63) - 1),
                ] {
                    v.push((Case::GarbageMech(ty, n), Expect::NotOk));
                }
            }
            Tmpl => {
                for n in [1 << 31, u64::MAX] {
                    v.push((Case::GarbageTemplate(i, WILD, n), Expect::NotOk));
                    v.push((Case::GarbageTemplate(i, 0, n), Expect::NotOk));
                }
                for n in [1 << 31, (1 << 63) - 1, u64::MAX] {
                    v.push((Case::HugeValueLen(n), Expect::Sane));
                }
                v.push((Case::GarbageType, Expect::Sane));
            }
            _ => {}
        }
    }
    v
}

/// Calls function `f` with the valid arguments of `args`, one of them misused as `case` says.
///
/// # Safety
/// `f` is a PKCS#11 function whose parameters are described by `args`.
unsafe fn call(f: Raw, name: &str, args: &[A], case: Case, ctx: &Ctx, b: &mut Buffers) -> CK_RV {
    b.reset();
    let mut raw = [0u64; 8];
    for (i, a) in args.iter().enumerate() {
        raw[i] = match a {
            Sess => ctx.work,
            Slot => ctx.slot,
            Obj => ctx.key,
            Mech => &mut b.mech as *mut _ as u64,
            In => b.input.as_mut_ptr() as u64,
            Pin => b.pin.as_mut_ptr() as u64,
            Len => match (i > 0).then(|| args[i - 1]) {
                Some(Pin) => 4,
                Some(Tmpl) => 1,
                Some(Out) => 16,
                _ => 16,
            },
            Out => b.out.as_mut_ptr() as u64,
            OutLen => &mut b.out_len as *mut _ as u64,
            Tmpl => b.template.as_mut_ptr() as u64,
            Ptr => {
                let k = args[..i].iter().filter(|x| **x == Ptr).count();
                b.ptrs[k].as_mut_ptr() as u64
            }
            Val(v) => *v,
            InitArgs => 0,
        };
    }
    if name == "C_GetInterface" {
        // A NUL-terminated name and a CK_VERSION.
        raw[0] = b.name.as_mut_ptr() as u64;
        b.version = CK_VERSION { major: 3, minor: 0 };
        raw[1] = &mut b.version as *mut _ as u64;
    }
    match case {
        Case::Valid => {}
        Case::Null(i) => raw[i] = 0,
        Case::Value(i, v) if v == u64::MAX - 1 && args[i] == Sess => raw[i] = ctx.stale_session,
        Case::Value(i, v) => raw[i] = v,
        Case::OutLenValue(v) => b.out_len = v,
        Case::GarbageMech(ty, n) => {
            b.mech = CK_MECHANISM {
                mechanism: ty,
                pParameter: WILD as *mut _,
                ulParameterLen: n,
            }
        }
        Case::GarbageTemplate(i, p, n) => {
            if p != 0 {
                raw[i] = p;
            }
            raw[i + 1] = n;
        }
        Case::HugeValueLen(n) => b.template[0].ulValueLen = n,
        Case::GarbageType => b.template[0].type_ = 0xdead_beef,
    }
    // SAFETY: the caller's contract; every pointer argument is real, NULL or deliberately
    // wild where the module must not read it.
    unsafe {
        f(
            raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
        )
    }
}

fn check(name: &str, case: Case, expect: &Expect, rv: CK_RV) {
    let what = format!("{name} {case:?} -> {rv:#x}");
    assert!(SANE.contains(&rv), "not a sane CK_RV: {what}");
    if unsupported(name) {
        assert_eq!(rv, CKR_FUNCTION_NOT_SUPPORTED, "{what}");
        return;
    }
    match expect {
        Expect::Sane => {}
        Expect::NotOk => assert_ne!(rv, CKR_OK, "{what}"),
        Expect::Exact(e) => assert_eq!(rv, *e, "{what}"),
        Expect::OneOf(es) => assert!(es.contains(&rv), "{what}"),
    }
}

/// The function pointers of a function list (the words after `version`).
fn pointers<T>(list: &T) -> Vec<usize> {
    let words = (std::mem::size_of::<T>() - 8) / 8;
    let base = list as *const T as *const u8;
    (0..words)
        // SAFETY: pointer-sized words inside the structure.
        .map(|i| unsafe { (base.add(8) as *const usize).add(i).read_unaligned() })
        .collect()
}

unsafe extern "C" fn bad_mutex(_: *mut *mut std::ffi::c_void) -> CK_RV {
    CKR_OK
}

unsafe extern "C" fn bad_mutex_op(_: *mut std::ffi::c_void) -> CK_RV {
    CKR_OK
}

#[test]
#[allow(clippy::too_many_lines)]
fn misuse_matrix() {
    std::env::set_var("CPX_SIM_CARDS", "cps3-doctor");
    common::use_scratch_cache();
    // SAFETY: loading our own PKCS#11 module.
    let p11 = unsafe { Pkcs11::new(library()) }.expect("load module");
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    let mut iface: *mut CK_INTERFACE = null_mut();
    // SAFETY: valid out pointers.
    let (l2, l3) = unsafe {
        assert_eq!(p11.C_GetFunctionList(&mut list), CKR_OK);
        assert_eq!(
            p11.C_GetInterface(null_mut(), null_mut(), &mut iface, 0),
            CKR_OK
        );
        (
            pointers(&*list),
            pointers(&*((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0)),
        )
    };
    assert_eq!((l2.len(), l3.len(), FUNCTIONS.len()), (68, 92, 92));
    assert_eq!(
        l2[..],
        l3[..68],
        "the 3.0 list starts with the 2.40 functions"
    );

    // Bad C_INITIALIZE_ARGS (before any C_Initialize).
    // SAFETY: real structures.
    unsafe {
        for partial in 1..15u32 {
            let mut a: CK_C_INITIALIZE_ARGS = std::mem::zeroed();
            if partial & 1 != 0 {
                a.CreateMutex = Some(bad_mutex);
            }
            if partial & 2 != 0 {
                a.DestroyMutex = Some(bad_mutex_op);
            }
            if partial & 4 != 0 {
                a.LockMutex = Some(bad_mutex_op);
            }
            if partial & 8 != 0 {
                a.UnlockMutex = Some(bad_mutex_op);
            }
            let rv = p11.C_Initialize(&mut a as *mut _ as *mut _);
            assert_eq!(rv, CKR_ARGUMENTS_BAD, "mutex functions {partial:#b}");
        }
        let mut info: CK_INFO = std::mem::zeroed();
        assert_eq!(p11.C_GetInfo(&mut info), CKR_CRYPTOKI_NOT_INITIALIZED);
        assert_eq!(p11.C_Finalize(null_mut()), CKR_CRYPTOKI_NOT_INITIALIZED);
    }

    let mut ctx = Ctx {
        p11,
        slot: 0,
        anchor: 0,
        work: 0,
        key: 0,
        stale_session: 0,
    };
    let mut b = Buffers::new();
    ctx.refresh();
    ctx.refresh();
    let mut calls = 0usize;
    let mut names = Vec::new();

    for (idx, (name, args)) in FUNCTIONS.iter().enumerate() {
        names.push(*name);
        // SAFETY: a function-list pointer, called with its arity (extra words are ignored).
        let f: Raw = unsafe { std::mem::transmute::<usize, Raw>(l3[idx]) };
        if *name == "C_Initialize" {
            // SAFETY: NULL is valid.
            assert_eq!(
                unsafe { f(0, 0, 0, 0, 0, 0, 0, 0) },
                CKR_CRYPTOKI_ALREADY_INITIALIZED
            );
            calls += 1;
            continue;
        }
        // Before C_Initialize and after C_Finalize.
        for when in ["before C_Initialize", "after C_Finalize"] {
            // SAFETY: NULL is valid.
            unsafe {
                ctx.p11.C_Finalize(null_mut());
                if when == "after C_Finalize" {
                    assert_eq!(ctx.p11.C_Initialize(null_mut()), CKR_OK);
                    assert_eq!(ctx.p11.C_Finalize(null_mut()), CKR_OK);
                }
            }
            // SAFETY: as described by the table.
            let rv = unsafe { call(f, name, args, Case::Valid, &ctx, &mut b) };
            calls += 1;
            if needs_no_init(name) {
                assert_eq!(rv, CKR_OK, "{name} {when}");
            } else {
                assert_eq!(rv, CKR_CRYPTOKI_NOT_INITIALIZED, "{name} {when}");
            }
        }
        ctx.anchor = 0;
        ctx.work = 0;
        ctx.refresh();
        for (case, expect) in cases(name, args) {
            ctx.refresh();
            // SAFETY: as described by the table.
            let rv = unsafe { call(f, name, args, case, &ctx, &mut b) };
            calls += 1;
            if *name == "C_Finalize" && matches!(case, Case::Valid) {
                assert_eq!(rv, CKR_OK);
                ctx.anchor = 0;
                ctx.work = 0;
                continue;
            }
            check(name, case, &expect, rv);
        }
        ctx.assert_usable(name);
    }

    // Calls out of order: Update/Final/single part without an Init, a second Init, logout
    // twice, find without init.
    ctx.refresh();
    let p = &ctx.p11;
    let h = ctx.work;
    let mut d = [0u8; 16];
    let mut n: CK_ULONG = 16;
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    // SAFETY: real buffers.
    unsafe {
        let none = CKR_OPERATION_NOT_INITIALIZED;
        assert_eq!(p.C_Sign(h, d.as_mut_ptr(), 4, d.as_mut_ptr(), &mut n), none);
        assert_eq!(p.C_SignUpdate(h, d.as_mut_ptr(), 4), none);
        assert_eq!(p.C_SignFinal(h, d.as_mut_ptr(), &mut n), none);
        assert_eq!(p.C_Verify(h, d.as_mut_ptr(), 4, d.as_mut_ptr(), 4), none);
        assert_eq!(p.C_VerifyUpdate(h, d.as_mut_ptr(), 4), none);
        assert_eq!(p.C_VerifyFinal(h, d.as_mut_ptr(), 4), none);
        assert_eq!(
            p.C_Decrypt(h, d.as_mut_ptr(), 4, d.as_mut_ptr(), &mut n),
            none
        );
        assert_eq!(p.C_DecryptFinal(h, d.as_mut_ptr(), &mut n), none);
        assert_eq!(
            p.C_Encrypt(h, d.as_mut_ptr(), 4, d.as_mut_ptr(), &mut n),
            none
        );
        assert_eq!(
            p.C_Digest(h, d.as_mut_ptr(), 4, d.as_mut_ptr(), &mut n),
            none
        );
        assert_eq!(p.C_DigestUpdate(h, d.as_mut_ptr(), 4), none);
        assert_eq!(p.C_DigestFinal(h, d.as_mut_ptr(), &mut n), none);
        assert_eq!(p.C_FindObjects(h, null_mut(), 0, &mut n), none);
        assert_eq!(p.C_FindObjectsFinal(h), none);
        assert_eq!(p.C_DigestInit(h, &mut m), CKR_OK);
        assert_eq!(p.C_DigestInit(h, &mut m), CKR_OPERATION_ACTIVE);
        assert_eq!(p.C_FindObjectsInit(h, null_mut(), 0), CKR_OPERATION_ACTIVE);
        assert_eq!(p.C_SignInit(h, &mut m, ctx.key), CKR_OPERATION_ACTIVE);
        assert_eq!(p.C_Logout(h), CKR_OK);
        assert_eq!(p.C_Logout(h), CKR_USER_NOT_LOGGED_IN);
        assert_eq!(p.C_CloseSession(h), CKR_OK);
        assert_eq!(p.C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(p.C_Finalize(&mut n as *mut _ as *mut _), CKR_ARGUMENTS_BAD);
    }
    ctx.work = 0;
    ctx.assert_usable("calls out of order");
    println!(
        "misuse matrix: {} functions (68 of the 2.40 list + 24 of the 3.0 list), {calls} calls",
        names.len()
    );
    // SAFETY: NULL is valid.
    unsafe { ctx.p11.C_Finalize(null_mut()) };
}
