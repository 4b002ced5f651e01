//! The built cdylib (a `sim` build) driven through its C ABI, with the simulator's control
//! hook `CPX_SimControl` (src/abi/sim_control.rs) found with dlsym: what the fault and swap
//! matrices (`tests/flow_fault_matrix.rs`) share. A library without the hook fails the test.
#![allow(dead_code)]

use crate::common::*;
use cryptoki::error::Rv;
use cryptoki_sys::*;
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;
use std::ffi::{c_char, c_void, CString};
use std::ptr::null_mut;
use std::sync::Mutex;
use std::time::Duration;
use x509_cert::der::{Decode, Encode};

/// Longest a case may take (each takes milliseconds): beyond it, the module hangs.
pub const CASE_LIMIT: Duration = Duration::from_secs(20);
pub const PIN: &[u8] = b"1234";
pub const AUT: &str = "CPS_PRIV_AUT";
pub const SIG: &str = "CPS_PRIV_SIG";
pub const AUT_CERT: &str = "Certificat d'Authentification CPS";

pub type Control = unsafe extern "C" fn(*const c_char, *mut CK_ULONG) -> CK_RV;

/// The loaded library: its C_* functions and the simulator's control hook.
pub struct Lib {
    pub p: Pkcs11,
    control: Control,
}

/// The module is one per process: the tests of this file take turns.
pub static SERIAL: Mutex<()> = Mutex::new(());

impl Lib {
    pub fn load() -> Lib {
        crate::common::use_scratch_cache();
        let path = library();
        // SAFETY: loading our own PKCS#11 module (no initialisers with preconditions).
        let p = unsafe { Pkcs11::new(&path) }.expect("load module");
        let c_path = CString::new(path.to_str().expect("UTF-8 path")).unwrap();
        // SAFETY: dlopen of the library just loaded (RTLD_NOLOAD: its handle, no second copy)
        // and dlsym of a NUL-terminated name.
        let sym = unsafe {
            let h = libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
            assert!(!h.is_null(), "dlopen {path:?}");
            libc::dlsym(h, c"CPX_SimControl".as_ptr())
        };
        assert!(
            !sym.is_null(),
            "{path:?} has no CPX_SimControl: not a `sim` build of the module"
        );
        // SAFETY: CPX_SimControl has this signature (src/abi/sim_control.rs).
        let control = unsafe { std::mem::transmute::<*mut c_void, Control>(sym) };
        Lib { p, control }
    }

    /// One control command on reader 0; its answer.
    pub fn control(&self, command: &str) -> u64 {
        let c = CString::new(command).unwrap();
        let mut answer: CK_ULONG = 0;
        // SAFETY: a NUL-terminated command and a writable answer.
        let rv = unsafe { (self.control)(c.as_ptr(), &mut answer) };
        assert_eq!(rv, CKR_OK, "CPX_SimControl({command:?}): {}", name(rv));
        answer as u64
    }

    /// C_Finalize if initialised, then C_Initialize over `persona` with this PIN cache
    /// setting, and the persistent card cache on (a bind checks what it knows of the card)
    /// or off (a bind reads the whole card).
    pub fn fresh(&self, persona: &str, pin_cache: bool, card_cache: bool) -> CK_SLOT_ID {
        let on_off = |on| if on { "on" } else { "off" };
        std::env::set_var("CPX_SIM_CARDS", persona);
        std::env::set_var("CPX_PKCS11_PIN_CACHE", on_off(pin_cache));
        std::env::set_var("CPX_PKCS11_CACHE", on_off(card_cache));
        if std::env::var_os("CPX_PKCS11_LOG").is_none() {
            std::env::set_var("CPX_PKCS11_LOG", "off");
        }
        // SAFETY: plain C_* calls with valid arguments (here and in the methods below).
        unsafe {
            let _ = self.p.C_Finalize(null_mut());
            assert_eq!(self.p.C_Initialize(null_mut()), CKR_OK);
            let mut slots = [0 as CK_SLOT_ID; 4];
            let mut n = slots.len() as CK_ULONG;
            let rv = self.p.C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut n);
            assert_eq!((rv, n), (CKR_OK, 1), "one virtual reader");
            slots[0]
        }
    }

    pub fn open(&self, slot: CK_SLOT_ID) -> Result<CK_SESSION_HANDLE, CK_RV> {
        let mut h = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        // SAFETY: as above.
        let rv = unsafe { self.p.C_OpenSession(slot, flags, null_mut(), None, &mut h) };
        ok(rv).map(|_| h)
    }

    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<CK_TOKEN_INFO, CK_RV> {
        let mut info = CK_TOKEN_INFO::default();
        // SAFETY: as above.
        ok(unsafe { self.p.C_GetTokenInfo(slot, &mut info) }).map(|_| info)
    }

    pub fn state(&self, h: CK_SESSION_HANDLE) -> Result<CK_STATE, CK_RV> {
        let mut info = CK_SESSION_INFO::default();
        // SAFETY: as above.
        ok(unsafe { self.p.C_GetSessionInfo(h, &mut info) }).map(|_| info.state)
    }

    pub fn login(&self, h: CK_SESSION_HANDLE) -> CK_RV {
        // SAFETY: as above; the PIN is only read.
        unsafe {
            self.p
                .C_Login(h, CKU_USER, PIN.as_ptr() as *mut _, PIN.len() as CK_ULONG)
        }
    }

    pub fn set_pin(&self, h: CK_SESSION_HANDLE) -> CK_RV {
        let p = PIN.as_ptr() as *mut CK_UTF8CHAR;
        let n = PIN.len() as CK_ULONG;
        // SAFETY: as above; the PINs are only read.
        unsafe { self.p.C_SetPIN(h, p, n, p, n) }
    }

    /// The single object of this class and label.
    pub fn find(
        &self,
        h: CK_SESSION_HANDLE,
        class: CK_OBJECT_CLASS,
        label: &str,
    ) -> CK_OBJECT_HANDLE {
        let mut class = class;
        let mut template = [
            CK_ATTRIBUTE {
                type_: CKA_CLASS,
                pValue: &mut class as *mut _ as *mut c_void,
                ulValueLen: std::mem::size_of::<CK_OBJECT_CLASS>() as CK_ULONG,
            },
            CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: label.as_ptr() as *mut c_void,
                ulValueLen: label.len() as CK_ULONG,
            },
        ];
        let mut found = [0 as CK_OBJECT_HANDLE; 4];
        let mut n: CK_ULONG = 0;
        // SAFETY: as above; the template outlives the search.
        unsafe {
            assert_eq!(
                self.p.C_FindObjectsInit(h, template.as_mut_ptr(), 2),
                CKR_OK
            );
            assert_eq!(
                self.p.C_FindObjects(h, found.as_mut_ptr(), 4, &mut n),
                CKR_OK
            );
            assert_eq!(self.p.C_FindObjectsFinal(h), CKR_OK);
        }
        assert_eq!(n, 1, "{label}");
        found[0]
    }

    /// The authentication certificate's public key, read from the token.
    pub fn public_key(&self, h: CK_SESSION_HANDLE) -> RsaPublicKey {
        let der = self.aut_certificate(h);
        let cert = x509_cert::Certificate::from_der(&der).expect("certificate");
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap();
        RsaPublicKey::from_public_key_der(&spki).expect("RSA key")
    }

    /// The authentication certificate's CKA_VALUE.
    pub fn aut_certificate(&self, h: CK_SESSION_HANDLE) -> Vec<u8> {
        let cert = self.find(h, CKO_CERTIFICATE, AUT_CERT);
        self.value(h, cert).expect("CKA_VALUE")
    }

    /// An object's CKA_VALUE: a length query, then a buffer of that length.
    pub fn value(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Result<Vec<u8>, CK_RV> {
        let mut a = CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: null_mut(),
            ulValueLen: 0,
        };
        // SAFETY: as above; the buffer holds the length the first call answered.
        unsafe {
            ok(self.p.C_GetAttributeValue(h, o, &mut a, 1))?;
            let mut v = vec![0u8; a.ulValueLen as usize];
            a.pValue = v.as_mut_ptr() as *mut c_void;
            ok(self.p.C_GetAttributeValue(h, o, &mut a, 1))?;
            v.truncate(a.ulValueLen as usize);
            Ok(v)
        }
    }

    /// C_SignInit + C_Sign (CKM_SHA256_RSA_PKCS) over `data`: each call's CK_RV, up to the
    /// first failure, and the signature.
    pub fn sign(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        calls: &mut Calls,
    ) -> Option<Vec<u8>> {
        let mut mech = CK_MECHANISM {
            mechanism: CKM_SHA256_RSA_PKCS,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        let mut sig = vec![0u8; 512];
        let mut n = sig.len() as CK_ULONG;
        // SAFETY: as above; the data is only read, the buffer holds 512 bytes.
        unsafe {
            calls.call("C_SignInit", self.p.C_SignInit(h, &mut mech, key))?;
            let rv = self.p.C_Sign(
                h,
                data.as_ptr() as *mut _,
                data.len() as CK_ULONG,
                sig.as_mut_ptr(),
                &mut n,
            );
            calls.call("C_Sign", rv)?;
        }
        sig.truncate(n as usize);
        Some(sig)
    }

    /// C_DecryptInit + C_Decrypt (CKM_RSA_PKCS) of `cryptogram`.
    pub fn decrypt(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        cryptogram: &[u8],
        calls: &mut Calls,
    ) -> Option<Vec<u8>> {
        let mut mech = CK_MECHANISM {
            mechanism: CKM_RSA_PKCS,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        let mut plain = vec![0u8; 512];
        let mut n = plain.len() as CK_ULONG;
        // SAFETY: as above.
        unsafe {
            calls.call("C_DecryptInit", self.p.C_DecryptInit(h, &mut mech, key))?;
            let rv = self.p.C_Decrypt(
                h,
                cryptogram.as_ptr() as *mut _,
                cryptogram.len() as CK_ULONG,
                plain.as_mut_ptr(),
                &mut n,
            );
            calls.call("C_Decrypt", rv)?;
        }
        plain.truncate(n as usize);
        Some(plain)
    }
}

pub fn ok(rv: CK_RV) -> Result<(), CK_RV> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(rv)
    }
}

pub fn name(rv: CK_RV) -> String {
    format!("{:?}", Rv::from(rv))
}

/// The faulted calls of one case and their CK_RVs, up to the first failure.
#[derive(Default, Debug)]
pub struct Calls(pub Vec<(&'static str, CK_RV)>);

impl Calls {
    /// Records a call; `None` (stop here) when it failed.
    pub fn call(&mut self, f: &'static str, rv: CK_RV) -> Option<()> {
        self.0.push((f, rv));
        (rv == CKR_OK).then_some(())
    }

    /// The failing call and its CK_RV, or the last call and CKR_OK.
    pub fn outcome(&self) -> (&'static str, CK_RV) {
        *self.0.last().expect("at least one call")
    }
}
