//! Random PKCS#11 call sequences through the C ABI, in process, against the simulator's
//! virtual cards (`CPX_SIM_CARDS`). Each input is one life of the module: C_Initialize,
//! calls chosen by the input (functions, slots, session and object handles — live, stale or
//! made up —, user types, PINs, mechanisms with parameters, templates with buffers of every
//! size, NULL outputs for length queries), C_Finalize.
//!
//! Buffers are honest: a length the module is given is the size of the memory behind the
//! pointer (absurd lengths against small buffers are the misuse matrix of
//! `tests/abi_contract.rs`; they cannot be fuzzed without undefined behaviour in the caller).
//! Properties: no panic (libFuzzer aborts on any, even one the entry guard would catch), no
//! CKR_GENERAL_ERROR, every CK_RV a defined one, and an output length never larger than the
//! buffer it describes.

use cryptoki_sys::*;
use std::ptr::null_mut;

extern "C" {
    fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV;
}

/// Reads choices from the input; zeros when it runs out.
pub struct Src<'a> {
    data: &'a [u8],
}

impl<'a> Src<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Src { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_le_bytes(b)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a.to_vec()
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.u8()) % from.len()]
    }
    /// A buffer size: mostly small, sometimes exactly the interesting sizes, rarely big.
    fn size(&mut self) -> usize {
        match self.u8() {
            0..=199 => usize::from(self.u8()),
            200..=239 => self.pick(&[0, 1, 19, 20, 32, 35, 51, 128, 255, 256, 257, 512]),
            _ => usize::from(self.u16()) % 70_000,
        }
    }
}

const ATTRS: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_VALUE,
    CKA_ID,
    CKA_KEY_TYPE,
    CKA_CERTIFICATE_TYPE,
    CKA_SUBJECT,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_SIGN,
    CKA_DECRYPT,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_MODIFIABLE,
    CKA_APPLICATION,
    CKA_OBJECT_ID,
    CKA_PRIVATE_EXPONENT,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_TRUSTED,
    CKA_CERTIFICATE_CATEGORY,
    CKA_ALLOWED_MECHANISMS,
    CKA_VENDOR_DEFINED,
];

const MECHS: &[CK_MECHANISM_TYPE] = &[
    CKM_RSA_PKCS,
    CKM_SHA1_RSA_PKCS,
    CKM_SHA256_RSA_PKCS,
    CKM_RSA_PKCS_PSS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_RSA_X_509,
    CKM_SHA_1,
    CKM_SHA256,
    CKM_SHA512,
    CKM_RSA_PKCS_OAEP,
    CKM_ECDSA,
];

const PINS: &[&[u8]] = &[b"1234", b"0000", b"12345678", b"", b"123", b"1234567890123456"];

/// One attribute template with its value buffers (kept alive while the call runs).
struct Template {
    attrs: Vec<CK_ATTRIBUTE>,
    _bufs: Vec<Vec<u8>>,
    /// Each entry's buffer size (None: NULL pValue).
    sizes: Vec<Option<usize>>,
}

impl Template {
    /// `values`: buffers filled from the input (C_FindObjectsInit, C_SetAttributeValue), or
    /// output buffers of chosen sizes (C_GetAttributeValue).
    fn new(src: &mut Src<'_>, values: bool) -> Template {
        let n = usize::from(src.u8() % 9);
        let mut bufs: Vec<Vec<u8>> = Vec::new();
        let mut sizes = Vec::new();
        let mut attrs = Vec::new();
        for _ in 0..n {
            let ty = if src.u8() < 240 {
                src.pick(ATTRS)
            } else {
                src.u64()
            };
            let buf = match src.u8() % 8 {
                0 => None,
                1 if values => {
                    // The exact encodings the module compares with.
                    let v = src.pick(&[
                        CKO_CERTIFICATE,
                        CKO_PRIVATE_KEY,
                        CKO_PUBLIC_KEY,
                        CKO_DATA,
                        CKK_RSA,
                    ]);
                    Some(v.to_ne_bytes().to_vec())
                }
                2 if values => Some(vec![src.pick(&[0u8, 1])]),
                _ if values => {
                    let n = usize::from(src.u8() % 64);
                    let mut b = src.bytes(n);
                    b.resize(n, 0);
                    Some(b)
                }
                _ => Some(vec![0xA5; src.size()]),
            };
            sizes.push(buf.as_ref().map(Vec::len));
            let (p, len) = match buf {
                Some(mut b) => {
                    let p = b.as_mut_ptr();
                    let len = b.len();
                    bufs.push(b);
                    (p.cast(), len as CK_ULONG)
                }
                // A NULL pValue asks for the length; its ulValueLen is ignored.
                None => (null_mut(), src.u64() as CK_ULONG),
            };
            attrs.push(CK_ATTRIBUTE {
                type_: ty,
                pValue: p,
                ulValueLen: len,
            });
        }
        Template {
            attrs,
            _bufs: bufs,
            sizes,
        }
    }
    fn ptr(&mut self) -> *mut CK_ATTRIBUTE {
        if self.attrs.is_empty() {
            null_mut()
        } else {
            self.attrs.as_mut_ptr()
        }
    }
    fn len(&self) -> CK_ULONG {
        self.attrs.len() as CK_ULONG
    }
}

/// A mechanism with its parameter buffer.
struct Mech {
    m: CK_MECHANISM,
    _param: Vec<u8>,
    _pss: Box<CK_RSA_PKCS_PSS_PARAMS>,
}

fn mechanism(src: &mut Src<'_>) -> Mech {
    let ty = if src.u8() < 245 { src.pick(MECHS) } else { src.u64() };
    let mut pss = Box::new(CK_RSA_PKCS_PSS_PARAMS {
        hashAlg: src.pick(&[CKM_SHA_1, CKM_SHA256, CKM_SHA512]),
        mgf: src.pick(&[CKG_MGF1_SHA1, CKG_MGF1_SHA256, 0]),
        sLen: src.pick(&[20, 32, 0, 64]),
    });
    let mut param = Vec::new();
    let (p, len): (*mut std::ffi::c_void, CK_ULONG) = match src.u8() % 4 {
        0 => (
            (&mut *pss as *mut CK_RSA_PKCS_PSS_PARAMS).cast(),
            std::mem::size_of::<CK_RSA_PKCS_PSS_PARAMS>() as CK_ULONG,
        ),
        1 => {
            let n = usize::from(src.u8() % 48);
            param = src.bytes(n);
            param.resize(n, 0);
            (param.as_mut_ptr().cast(), n as CK_ULONG)
        }
        _ => (null_mut(), 0),
    };
    Mech {
        m: CK_MECHANISM {
            mechanism: ty,
            pParameter: p,
            ulParameterLen: len,
        },
        _param: param,
        _pss: pss,
    }
}

/// Live state of one run: handles seen, to pick from.
struct State {
    f: &'static CK_FUNCTION_LIST,
    slots: Vec<CK_SLOT_ID>,
    sessions: Vec<CK_SESSION_HANDLE>,
    objects: Vec<CK_OBJECT_HANDLE>,
}

impl State {
    fn slot(&mut self, src: &mut Src<'_>) -> CK_SLOT_ID {
        match src.u8() {
            0..=229 if !self.slots.is_empty() => self.slots[usize::from(src.u8()) % self.slots.len()],
            _ => src.u64() as CK_SLOT_ID,
        }
    }
    fn session(&mut self, src: &mut Src<'_>) -> CK_SESSION_HANDLE {
        match src.u8() {
            0..=229 if !self.sessions.is_empty() => {
                self.sessions[usize::from(src.u8()) % self.sessions.len()]
            }
            230..=239 => 0,
            _ => src.u64() as CK_SESSION_HANDLE,
        }
    }
    fn object(&mut self, src: &mut Src<'_>) -> CK_OBJECT_HANDLE {
        match src.u8() {
            0..=229 if !self.objects.is_empty() => {
                self.objects[usize::from(src.u8()) % self.objects.len()]
            }
            230..=239 => 0,
            _ => src.u64() as CK_OBJECT_HANDLE,
        }
    }
}

/// Checks one return value: defined, and never the catch-all of a panic or internal error.
fn rv(name: &str, rv: CK_RV) -> CK_RV {
    assert_ne!(rv, CKR_GENERAL_ERROR, "{name} answered CKR_GENERAL_ERROR");
    assert!(
        rv < 0x300 || rv & CKR_VENDOR_DEFINED != 0,
        "{name} answered an undefined CK_RV {rv:#x}"
    );
    rv
}

/// An output buffer: NULL (length query) or `size` bytes; returns (buffer, its length word).
fn out_buf(src: &mut Src<'_>) -> (Option<Vec<u8>>, CK_ULONG) {
    if src.u8() % 5 == 0 {
        (None, src.u64() as CK_ULONG)
    } else {
        let n = src.size();
        (Some(vec![0x5A; n]), n as CK_ULONG)
    }
}

/// Calls `$f` with an output buffer chosen by the input and checks the length protocol.
macro_rules! with_out {
    ($src:expr, $name:expr, |$p:ident, $pl:ident| $call:expr) => {{
        let (mut buf, mut len) = out_buf($src);
        let cap = buf.as_ref().map(Vec::len);
        let $p = buf.as_mut().map_or(null_mut(), |b| b.as_mut_ptr());
        let $pl = &mut len as *mut CK_ULONG;
        let r = rv($name, $call);
        if r == CKR_OK {
            if let Some(cap) = cap {
                assert!(len as usize <= cap, "{} wrote {} into {}", $name, len, cap);
            }
        }
        r
    }};
}

fn input_data(src: &mut Src<'_>) -> Vec<u8> {
    let n = src.size();
    let mut d = src.bytes(n);
    d.resize(n, 0x33);
    d
}

/// The personas the runs see: a CPS3 and a CPS4 card.
pub const CARDS: &str = "cps3-doctor,cps4-nurse";

/// Call before the first run.
pub fn init() {
    std::env::set_var("CPX_SIM_CARDS", CARDS);
    std::env::set_var("CPX_PKCS11_LOG", "off");
}

fn function_list() -> &'static CK_FUNCTION_LIST {
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: C_GetFunctionList writes a pointer to the module's static list.
    let r = unsafe { C_GetFunctionList(&mut list) };
    assert_eq!(r, CKR_OK);
    // SAFETY: the list is a static of the module, never freed.
    unsafe { &*list }
}

/// One life of the module driven by `data`.
pub fn run(data: &[u8]) {
    let f = function_list();
    let mut src = Src::new(data);
    let mut st = State {
        f,
        slots: Vec::new(),
        sessions: Vec::new(),
        objects: Vec::new(),
    };
    // SAFETY: every call below passes pointers to live memory of the sizes it states (or
    // NULL), as a correct C caller does; the module must cope with every value in them.
    unsafe {
        let init = f.C_Initialize.unwrap();
        if rv("C_Initialize", init(null_mut())) != CKR_OK {
            return;
        }
        let mut steps = 0;
        while !src.is_empty() && steps < 200 {
            steps += 1;
            step(&mut st, &mut src);
        }
        let fin = f.C_Finalize.unwrap();
        assert_eq!(rv("C_Finalize", fin(null_mut())), CKR_OK);
    }
}

/// One call.
unsafe fn step(st: &mut State, src: &mut Src<'_>) {
    let f = st.f;
    let op = src.u8() % 32;
    // SAFETY: see `run`.
    unsafe {
        match op {
            0 => {
                let present = src.u8() & 1;
                let mut n: CK_ULONG = 0;
                let r = rv("C_GetSlotList", f.C_GetSlotList.unwrap()(present, null_mut(), &mut n));
                if r == CKR_OK {
                    let cap = if src.u8() % 4 == 0 { (n as usize).saturating_sub(1) } else { n as usize };
                    let mut slots = vec![0; cap];
                    let mut m = cap as CK_ULONG;
                    let r = rv(
                        "C_GetSlotList",
                        f.C_GetSlotList.unwrap()(present, slots.as_mut_ptr(), &mut m),
                    );
                    if r == CKR_OK {
                        assert!(m as usize <= cap);
                        slots.truncate(m as usize);
                        st.slots = slots;
                    }
                }
            }
            1 => {
                let s = st.slot(src);
                let mut info: CK_SLOT_INFO = std::mem::zeroed();
                rv("C_GetSlotInfo", f.C_GetSlotInfo.unwrap()(s, &mut info));
                let mut tinfo: CK_TOKEN_INFO = std::mem::zeroed();
                rv("C_GetTokenInfo", f.C_GetTokenInfo.unwrap()(s, &mut tinfo));
            }
            2 => {
                let s = st.slot(src);
                let flags = match src.u8() % 4 {
                    0 => CKF_SERIAL_SESSION,
                    1 => CKF_SERIAL_SESSION | CKF_RW_SESSION,
                    2 => 0,
                    _ => src.u64() as CK_FLAGS,
                };
                let mut h: CK_SESSION_HANDLE = 0;
                let r = rv(
                    "C_OpenSession",
                    f.C_OpenSession.unwrap()(s, flags, null_mut(), None, &mut h),
                );
                if r == CKR_OK {
                    assert_ne!(h, 0);
                    st.sessions.push(h);
                }
            }
            3 => {
                let h = st.session(src);
                rv("C_CloseSession", f.C_CloseSession.unwrap()(h));
            }
            4 => {
                let s = st.slot(src);
                rv("C_CloseAllSessions", f.C_CloseAllSessions.unwrap()(s));
            }
            5 => {
                let h = st.session(src);
                let user = src.pick(&[CKU_USER, CKU_USER, CKU_SO, CKU_CONTEXT_SPECIFIC, 7]);
                let pin = src.pick(PINS);
                let mut pin = pin.to_vec();
                rv(
                    "C_Login",
                    f.C_Login.unwrap()(h, user, pin.as_mut_ptr(), pin.len() as CK_ULONG),
                );
            }
            6 => {
                let h = st.session(src);
                rv("C_Logout", f.C_Logout.unwrap()(h));
            }
            7 => {
                let h = st.session(src);
                let mut t = Template::new(src, true);
                rv(
                    "C_FindObjectsInit",
                    f.C_FindObjectsInit.unwrap()(h, t.ptr(), t.len()),
                );
            }
            8 => {
                let h = st.session(src);
                let cap = usize::from(src.u8() % 20);
                let mut objs = vec![0; cap];
                let mut n: CK_ULONG = 0;
                let p = if cap == 0 { null_mut() } else { objs.as_mut_ptr() };
                let r = rv(
                    "C_FindObjects",
                    f.C_FindObjects.unwrap()(h, p, cap as CK_ULONG, &mut n),
                );
                if r == CKR_OK {
                    assert!(n as usize <= cap, "C_FindObjects: {n} into {cap}");
                    st.objects.extend_from_slice(&objs[..n as usize]);
                }
            }
            9 => {
                let h = st.session(src);
                rv("C_FindObjectsFinal", f.C_FindObjectsFinal.unwrap()(h));
            }
            10 | 11 => {
                let h = st.session(src);
                let o = st.object(src);
                let mut t = Template::new(src, false);
                let r = rv(
                    "C_GetAttributeValue",
                    f.C_GetAttributeValue.unwrap()(h, o, t.ptr(), t.len()),
                );
                if matches!(r, CKR_OK | CKR_BUFFER_TOO_SMALL | CKR_ATTRIBUTE_SENSITIVE | CKR_ATTRIBUTE_TYPE_INVALID) {
                    for (a, size) in t.attrs.iter().zip(&t.sizes) {
                        if let (Some(size), true) = (size, a.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
                            assert!(a.ulValueLen as usize <= *size, "attribute {:#x}: {} into {size}", a.type_, a.ulValueLen);
                        }
                    }
                }
            }
            12 => {
                let h = st.session(src);
                let o = st.object(src);
                let mut t = Template::new(src, true);
                rv(
                    "C_SetAttributeValue",
                    f.C_SetAttributeValue.unwrap()(h, o, t.ptr(), t.len()),
                );
            }
            13 | 14 => {
                let h = st.session(src);
                let mut m = mechanism(src);
                let k = st.object(src);
                rv("C_SignInit", f.C_SignInit.unwrap()(h, &mut m.m, k));
            }
            15 => {
                let h = st.session(src);
                let mut d = input_data(src);
                with_out!(src, "C_Sign", |p, pl| f.C_Sign.unwrap()(
                    h,
                    d.as_mut_ptr(),
                    d.len() as CK_ULONG,
                    p,
                    pl
                ));
            }
            16 => {
                let h = st.session(src);
                let mut d = input_data(src);
                rv(
                    "C_SignUpdate",
                    f.C_SignUpdate.unwrap()(h, d.as_mut_ptr(), d.len() as CK_ULONG),
                );
            }
            17 => {
                let h = st.session(src);
                with_out!(src, "C_SignFinal", |p, pl| f.C_SignFinal.unwrap()(h, p, pl));
            }
            18 => {
                let h = st.session(src);
                let mut m = mechanism(src);
                let k = st.object(src);
                rv("C_DecryptInit", f.C_DecryptInit.unwrap()(h, &mut m.m, k));
            }
            19 => {
                let h = st.session(src);
                let mut d = input_data(src);
                with_out!(src, "C_Decrypt", |p, pl| f.C_Decrypt.unwrap()(
                    h,
                    d.as_mut_ptr(),
                    d.len() as CK_ULONG,
                    p,
                    pl
                ));
            }
            20 => {
                let h = st.session(src);
                let mut m = mechanism(src);
                let k = st.object(src);
                rv("C_VerifyInit", f.C_VerifyInit.unwrap()(h, &mut m.m, k));
                let mut d = input_data(src);
                let mut s = input_data(src);
                rv(
                    "C_Verify",
                    f.C_Verify.unwrap()(
                        h,
                        d.as_mut_ptr(),
                        d.len() as CK_ULONG,
                        s.as_mut_ptr(),
                        s.len() as CK_ULONG,
                    ),
                );
            }
            21 => {
                let h = st.session(src);
                let mut m = mechanism(src);
                let k = st.object(src);
                rv("C_EncryptInit", f.C_EncryptInit.unwrap()(h, &mut m.m, k));
                let mut d = input_data(src);
                with_out!(src, "C_Encrypt", |p, pl| f.C_Encrypt.unwrap()(
                    h,
                    d.as_mut_ptr(),
                    d.len() as CK_ULONG,
                    p,
                    pl
                ));
            }
            22 => {
                let h = st.session(src);
                let mut m = mechanism(src);
                rv("C_DigestInit", f.C_DigestInit.unwrap()(h, &mut m.m));
                let mut d = input_data(src);
                if src.u8() & 1 == 0 {
                    with_out!(src, "C_Digest", |p, pl| f.C_Digest.unwrap()(
                        h,
                        d.as_mut_ptr(),
                        d.len() as CK_ULONG,
                        p,
                        pl
                    ));
                } else {
                    rv(
                        "C_DigestUpdate",
                        f.C_DigestUpdate.unwrap()(h, d.as_mut_ptr(), d.len() as CK_ULONG),
                    );
                    with_out!(src, "C_DigestFinal", |p, pl| f.C_DigestFinal.unwrap()(h, p, pl));
                }
            }
            23 => {
                let h = st.session(src);
                let n = usize::from(src.u16()) % 5000;
                let mut b = vec![0; n];
                let p = if n == 0 { null_mut() } else { b.as_mut_ptr() };
                rv("C_GenerateRandom", f.C_GenerateRandom.unwrap()(h, p, n as CK_ULONG));
            }
            24 => {
                let s = st.slot(src);
                let mut n: CK_ULONG = 0;
                if rv("C_GetMechanismList", f.C_GetMechanismList.unwrap()(s, null_mut(), &mut n)) == CKR_OK {
                    let cap = (n as usize).min(64);
                    let mut v = vec![0; cap];
                    let mut m = cap as CK_ULONG;
                    let p = if cap == 0 { null_mut() } else { v.as_mut_ptr() };
                    if rv("C_GetMechanismList", f.C_GetMechanismList.unwrap()(s, p, &mut m)) == CKR_OK {
                        assert!(m as usize <= cap);
                    }
                }
                let mech = src.pick(MECHS);
                let mut info: CK_MECHANISM_INFO = std::mem::zeroed();
                rv("C_GetMechanismInfo", f.C_GetMechanismInfo.unwrap()(s, mech, &mut info));
            }
            25 => {
                let h = st.session(src);
                let mut old = src.pick(PINS).to_vec();
                let mut new = src.pick(PINS).to_vec();
                rv(
                    "C_SetPIN",
                    f.C_SetPIN.unwrap()(
                        h,
                        old.as_mut_ptr(),
                        old.len() as CK_ULONG,
                        new.as_mut_ptr(),
                        new.len() as CK_ULONG,
                    ),
                );
            }
            26 => {
                let h = st.session(src);
                let mut pin = src.pick(PINS).to_vec();
                rv(
                    "C_InitPIN",
                    f.C_InitPIN.unwrap()(h, pin.as_mut_ptr(), pin.len() as CK_ULONG),
                );
            }
            27 => {
                let h = st.session(src);
                let mut info: CK_SESSION_INFO = std::mem::zeroed();
                rv("C_GetSessionInfo", f.C_GetSessionInfo.unwrap()(h, &mut info));
            }
            28 => {
                let mut info: CK_INFO = std::mem::zeroed();
                rv("C_GetInfo", f.C_GetInfo.unwrap()(&mut info));
                let mut s: CK_SLOT_ID = 0;
                let r = f.C_WaitForSlotEvent.unwrap()(CKF_DONT_BLOCK, &mut s, null_mut());
                rv("C_WaitForSlotEvent", r);
            }
            29 => {
                // Re-initialisation in the middle of a life: every handle goes stale.
                rv("C_Finalize", f.C_Finalize.unwrap()(null_mut()));
                rv("C_Initialize", f.C_Initialize.unwrap()(null_mut()));
            }
            30 => {
                let h = st.session(src);
                let mut d = input_data(src);
                rv(
                    "C_DecryptUpdate",
                    f.C_DecryptUpdate.unwrap()(h, d.as_mut_ptr(), d.len() as CK_ULONG, null_mut(), &mut 0),
                );
                let mut seed = [1u8; 8];
                rv("C_SeedRandom", f.C_SeedRandom.unwrap()(h, seed.as_mut_ptr(), 8));
            }
            _ => {
                // Length query then the call with exactly that length (what real clients do).
                let h = st.session(src);
                let mut m = mechanism(src);
                let k = st.object(src);
                if rv("C_SignInit", f.C_SignInit.unwrap()(h, &mut m.m, k)) == CKR_OK {
                    let mut d = input_data(src);
                    let mut n: CK_ULONG = 0;
                    let r = rv(
                        "C_Sign",
                        f.C_Sign.unwrap()(h, d.as_mut_ptr(), d.len() as CK_ULONG, null_mut(), &mut n),
                    );
                    if r == CKR_OK {
                        assert!(n <= 4096, "signature length {n}");
                        let mut sig = vec![0; n as usize];
                        let mut m = n;
                        let r = rv(
                            "C_Sign",
                            f.C_Sign.unwrap()(h, d.as_mut_ptr(), d.len() as CK_ULONG, sig.as_mut_ptr(), &mut m),
                        );
                        if r == CKR_OK {
                            assert_eq!(m, n, "C_Sign length query said {n}, signature is {m}");
                        }
                    }
                }
            }
        }
    }
}
