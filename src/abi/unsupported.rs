//! Every function the Cryptolib does not implement → CKR_FUNCTION_NOT_SUPPORTED
//! (cryptolib-compat §8), after the initialisation check. The PKCS#11 3.0 additions are
//! reachable only through the 3.0 function list (not exported as symbols).

use super::with_module;
use crate::p11::Error;
use cryptoki_sys::*;
use std::ffi::c_void;

macro_rules! unsupported {
    (fn $name:ident($($arg:ident : $ty:ty),* $(,)?);) => {
        entry!(
            /// Not supported (cryptolib-compat §8).
            fn $name($($arg: $ty),*) {
                with_module(|_| Err(Error::FunctionNotSupported))
            }
        );
    };
    (hidden fn $name:ident($($arg:ident : $ty:ty),* $(,)?);) => {
        entry!(
            hidden
            /// Not supported (PKCS#11 3.0 addition).
            fn $name($($arg: $ty),*) {
                with_module(|_| Err(Error::FunctionNotSupported))
            }
        );
    };
}

unsupported!(
    fn C_InitToken(_s: CK_SLOT_ID, _p: *mut CK_UTF8CHAR, _n: CK_ULONG, _l: *mut CK_UTF8CHAR);
);
unsupported!(
    fn C_GetOperationState(_h: CK_SESSION_HANDLE, _p: *mut CK_BYTE, _n: *mut CK_ULONG);
);
unsupported!(
    fn C_SetOperationState(
        _h: CK_SESSION_HANDLE,
        _p: *mut CK_BYTE,
        _n: CK_ULONG,
        _e: CK_OBJECT_HANDLE,
        _a: CK_OBJECT_HANDLE,
    );
);
unsupported!(
    fn C_CreateObject(
        _h: CK_SESSION_HANDLE,
        _t: *mut CK_ATTRIBUTE,
        _n: CK_ULONG,
        _o: *mut CK_OBJECT_HANDLE,
    );
);
unsupported!(
    fn C_CopyObject(
        _h: CK_SESSION_HANDLE,
        _o: CK_OBJECT_HANDLE,
        _t: *mut CK_ATTRIBUTE,
        _n: CK_ULONG,
        _p: *mut CK_OBJECT_HANDLE,
    );
);
unsupported!(
    fn C_DestroyObject(_h: CK_SESSION_HANDLE, _o: CK_OBJECT_HANDLE);
);
unsupported!(
    fn C_GetObjectSize(_h: CK_SESSION_HANDLE, _o: CK_OBJECT_HANDLE, _n: *mut CK_ULONG);
);
unsupported!(
    fn C_EncryptUpdate(
        _h: CK_SESSION_HANDLE,
        _p: *mut CK_BYTE,
        _n: CK_ULONG,
        _o: *mut CK_BYTE,
        _l: *mut CK_ULONG,
    );
);
unsupported!(
    fn C_EncryptFinal(_h: CK_SESSION_HANDLE, _o: *mut CK_BYTE, _l: *mut CK_ULONG);
);
unsupported!(
    fn C_DigestKey(_h: CK_SESSION_HANDLE, _k: CK_OBJECT_HANDLE);
);
unsupported!(
    fn C_SignRecoverInit(_h: CK_SESSION_HANDLE, _m: *mut CK_MECHANISM, _k: CK_OBJECT_HANDLE);
);
unsupported!(
    fn C_SignRecover(
        _h: CK_SESSION_HANDLE,
        _p: *mut CK_BYTE,
        _n: CK_ULONG,
        _o: *mut CK_BYTE,
        _l: *mut CK_ULONG,
    );
);
unsupported!(
    fn C_VerifyRecoverInit(_h: CK_SESSION_HANDLE, _m: *mut CK_MECHANISM, _k: CK_OBJECT_HANDLE);
);
unsupported!(
    fn C_VerifyRecover(
        _h: CK_SESSION_HANDLE,
        _p: *mut CK_BYTE,
        _n: CK_ULONG,
        _o: *mut CK_BYTE,
        _l: *mut CK_ULONG,
    );
);
unsupported!(
    fn C_DigestEncryptUpdate(
        _h: CK_SESSION_HANDLE,
        _p: *mut CK_BYTE,
        _n: CK_ULONG,
        _o: *mut CK_BYTE,
        _l: *mut CK_ULONG,
    );
);
unsupported!(
    fn C_DecryptDigestUpdate(
        _h: CK_SESSION_HANDLE,
        _p: *mut CK_BYTE,
        _n: CK_ULONG,
        _o: *mut CK_BYTE,
        _l: *mut CK_ULONG,
    );
);
unsupported!(
    fn C_SignEncryptUpdate(
        _h: CK_SESSION_HANDLE,
        _p: *mut CK_BYTE,
        _n: CK_ULONG,
        _o: *mut CK_BYTE,
        _l: *mut CK_ULONG,
    );
);
unsupported!(
    fn C_DecryptVerifyUpdate(
        _h: CK_SESSION_HANDLE,
        _p: *mut CK_BYTE,
        _n: CK_ULONG,
        _o: *mut CK_BYTE,
        _l: *mut CK_ULONG,
    );
);
unsupported!(
    fn C_GenerateKey(
        _h: CK_SESSION_HANDLE,
        _m: *mut CK_MECHANISM,
        _t: *mut CK_ATTRIBUTE,
        _n: CK_ULONG,
        _k: *mut CK_OBJECT_HANDLE,
    );
);
unsupported!(
    fn C_GenerateKeyPair(
        _h: CK_SESSION_HANDLE,
        _m: *mut CK_MECHANISM,
        _pt: *mut CK_ATTRIBUTE,
        _pn: CK_ULONG,
        _st: *mut CK_ATTRIBUTE,
        _sn: CK_ULONG,
        _pk: *mut CK_OBJECT_HANDLE,
        _sk: *mut CK_OBJECT_HANDLE,
    );
);
unsupported!(
    fn C_WrapKey(
        _h: CK_SESSION_HANDLE,
        _m: *mut CK_MECHANISM,
        _w: CK_OBJECT_HANDLE,
        _k: CK_OBJECT_HANDLE,
        _o: *mut CK_BYTE,
        _l: *mut CK_ULONG,
    );
);
unsupported!(
    fn C_UnwrapKey(
        _h: CK_SESSION_HANDLE,
        _m: *mut CK_MECHANISM,
        _u: CK_OBJECT_HANDLE,
        _p: *mut CK_BYTE,
        _n: CK_ULONG,
        _t: *mut CK_ATTRIBUTE,
        _tn: CK_ULONG,
        _k: *mut CK_OBJECT_HANDLE,
    );
);
unsupported!(
    fn C_DeriveKey(
        _h: CK_SESSION_HANDLE,
        _m: *mut CK_MECHANISM,
        _b: CK_OBJECT_HANDLE,
        _t: *mut CK_ATTRIBUTE,
        _n: CK_ULONG,
        _k: *mut CK_OBJECT_HANDLE,
    );
);
entry!(
    /// C_SeedRandom (PKCS#11 2.40 §5.15): the card's generator takes no seed →
    /// CKR_RANDOM_SEED_NOT_SUPPORTED, after the session check (issue 7).
    fn C_SeedRandom(h: CK_SESSION_HANDLE, _p: *mut CK_BYTE, _n: CK_ULONG) {
        with_module(|m| {
            m.session_check(h)?;
            Err(Error::RandomSeedNotSupported)
        })
    }
);
entry!(
    /// C_GetFunctionStatus (PKCS#11 2.40 §5.16, legacy): CKR_FUNCTION_NOT_PARALLEL after the
    /// session check.
    fn C_GetFunctionStatus(h: CK_SESSION_HANDLE) {
        with_module(|m| {
            m.session_check(h)?;
            Err(Error::FunctionNotParallel)
        })
    }
);
entry!(
    /// C_CancelFunction (PKCS#11 2.40 §5.16, legacy): CKR_FUNCTION_NOT_PARALLEL after the
    /// session check.
    fn C_CancelFunction(h: CK_SESSION_HANDLE) {
        with_module(|m| {
            m.session_check(h)?;
            Err(Error::FunctionNotParallel)
        })
    }
);

// PKCS#11 3.0 additions.
unsupported!(hidden fn C_LoginUser(_h: CK_SESSION_HANDLE, _u: CK_USER_TYPE, _p: *mut CK_UTF8CHAR, _n: CK_ULONG, _un: *mut CK_UTF8CHAR, _ul: CK_ULONG););
unsupported!(hidden fn C_SessionCancel(_h: CK_SESSION_HANDLE, _f: CK_FLAGS););
unsupported!(hidden fn C_MessageEncryptInit(_h: CK_SESSION_HANDLE, _m: *mut CK_MECHANISM, _k: CK_OBJECT_HANDLE););
unsupported!(hidden fn C_EncryptMessage(
    _h: CK_SESSION_HANDLE,
    _p: *mut c_void,
    _pn: CK_ULONG,
    _a: *mut CK_BYTE,
    _an: CK_ULONG,
    _d: *mut CK_BYTE,
    _dn: CK_ULONG,
    _o: *mut CK_BYTE,
    _on: *mut CK_ULONG,
););
unsupported!(hidden fn C_EncryptMessageBegin(_h: CK_SESSION_HANDLE, _p: *mut c_void, _pn: CK_ULONG, _a: *mut CK_BYTE, _an: CK_ULONG););
unsupported!(hidden fn C_EncryptMessageNext(
    _h: CK_SESSION_HANDLE,
    _p: *mut c_void,
    _pn: CK_ULONG,
    _d: *mut CK_BYTE,
    _dn: CK_ULONG,
    _o: *mut CK_BYTE,
    _on: *mut CK_ULONG,
    _f: CK_FLAGS,
););
unsupported!(hidden fn C_MessageEncryptFinal(_h: CK_SESSION_HANDLE););
unsupported!(hidden fn C_MessageDecryptInit(_h: CK_SESSION_HANDLE, _m: *mut CK_MECHANISM, _k: CK_OBJECT_HANDLE););
unsupported!(hidden fn C_DecryptMessage(
    _h: CK_SESSION_HANDLE,
    _p: *mut c_void,
    _pn: CK_ULONG,
    _a: *mut CK_BYTE,
    _an: CK_ULONG,
    _d: *mut CK_BYTE,
    _dn: CK_ULONG,
    _o: *mut CK_BYTE,
    _on: *mut CK_ULONG,
););
unsupported!(hidden fn C_DecryptMessageBegin(_h: CK_SESSION_HANDLE, _p: *mut c_void, _pn: CK_ULONG, _a: *mut CK_BYTE, _an: CK_ULONG););
unsupported!(hidden fn C_DecryptMessageNext(
    _h: CK_SESSION_HANDLE,
    _p: *mut c_void,
    _pn: CK_ULONG,
    _d: *mut CK_BYTE,
    _dn: CK_ULONG,
    _o: *mut CK_BYTE,
    _on: *mut CK_ULONG,
    _f: CK_FLAGS,
););
unsupported!(hidden fn C_MessageDecryptFinal(_h: CK_SESSION_HANDLE););
unsupported!(hidden fn C_MessageSignInit(_h: CK_SESSION_HANDLE, _m: *mut CK_MECHANISM, _k: CK_OBJECT_HANDLE););
unsupported!(hidden fn C_SignMessage(_h: CK_SESSION_HANDLE, _p: *mut c_void, _pn: CK_ULONG, _d: *mut CK_BYTE, _dn: CK_ULONG, _s: *mut CK_BYTE, _sn: *mut CK_ULONG););
unsupported!(hidden fn C_SignMessageBegin(_h: CK_SESSION_HANDLE, _p: *mut c_void, _pn: CK_ULONG););
unsupported!(hidden fn C_SignMessageNext(_h: CK_SESSION_HANDLE, _p: *mut c_void, _pn: CK_ULONG, _d: *mut CK_BYTE, _dn: CK_ULONG, _s: *mut CK_BYTE, _sn: *mut CK_ULONG););
unsupported!(hidden fn C_MessageSignFinal(_h: CK_SESSION_HANDLE););
unsupported!(hidden fn C_MessageVerifyInit(_h: CK_SESSION_HANDLE, _m: *mut CK_MECHANISM, _k: CK_OBJECT_HANDLE););
unsupported!(hidden fn C_VerifyMessage(_h: CK_SESSION_HANDLE, _p: *mut c_void, _pn: CK_ULONG, _d: *mut CK_BYTE, _dn: CK_ULONG, _s: *mut CK_BYTE, _sn: CK_ULONG););
unsupported!(hidden fn C_VerifyMessageBegin(_h: CK_SESSION_HANDLE, _p: *mut c_void, _pn: CK_ULONG););
unsupported!(hidden fn C_VerifyMessageNext(_h: CK_SESSION_HANDLE, _p: *mut c_void, _pn: CK_ULONG, _d: *mut CK_BYTE, _dn: CK_ULONG, _s: *mut CK_BYTE, _sn: CK_ULONG););
unsupported!(hidden fn C_MessageVerifyFinal(_h: CK_SESSION_HANDLE););
