//! The static function lists and interfaces (`style.md` §5): the 2.40 list returned by
//! C_GetFunctionList, the 3.0 list behind the "PKCS 11" 3.0 interface (3.0-only functions
//! answer CKR_FUNCTION_NOT_SUPPORTED). No entry is `None`; no vendor entries
//! (cryptolib-compat §12).

use super::{crypto, general, object, session, unsupported};
use cryptoki_sys::*;
use std::cell::UnsafeCell;

/// A function list of type `$ty`: the 68 functions of 2.40, then the given extra entries.
macro_rules! function_list {
    ($ty:ident, $major:literal, $minor:literal $(, $name:ident: $f:path)* $(,)?) => {
        $ty {
            version: CK_VERSION {
                major: $major,
                minor: $minor,
            },
            C_Initialize: Some(general::C_Initialize),
            C_Finalize: Some(general::C_Finalize),
            C_GetInfo: Some(general::C_GetInfo),
            C_GetFunctionList: Some(general::C_GetFunctionList),
            C_GetSlotList: Some(general::C_GetSlotList),
            C_GetSlotInfo: Some(general::C_GetSlotInfo),
            C_GetTokenInfo: Some(general::C_GetTokenInfo),
            C_GetMechanismList: Some(general::C_GetMechanismList),
            C_GetMechanismInfo: Some(general::C_GetMechanismInfo),
            C_InitToken: Some(unsupported::C_InitToken),
            C_InitPIN: Some(session::C_InitPIN),
            C_SetPIN: Some(session::C_SetPIN),
            C_OpenSession: Some(session::C_OpenSession),
            C_CloseSession: Some(session::C_CloseSession),
            C_CloseAllSessions: Some(session::C_CloseAllSessions),
            C_GetSessionInfo: Some(session::C_GetSessionInfo),
            C_GetOperationState: Some(unsupported::C_GetOperationState),
            C_SetOperationState: Some(unsupported::C_SetOperationState),
            C_Login: Some(session::C_Login),
            C_Logout: Some(session::C_Logout),
            C_CreateObject: Some(unsupported::C_CreateObject),
            C_CopyObject: Some(unsupported::C_CopyObject),
            C_DestroyObject: Some(unsupported::C_DestroyObject),
            C_GetObjectSize: Some(unsupported::C_GetObjectSize),
            C_GetAttributeValue: Some(object::C_GetAttributeValue),
            C_SetAttributeValue: Some(object::C_SetAttributeValue),
            C_FindObjectsInit: Some(object::C_FindObjectsInit),
            C_FindObjects: Some(object::C_FindObjects),
            C_FindObjectsFinal: Some(object::C_FindObjectsFinal),
            C_EncryptInit: Some(crypto::C_EncryptInit),
            C_Encrypt: Some(crypto::C_Encrypt),
            C_EncryptUpdate: Some(unsupported::C_EncryptUpdate),
            C_EncryptFinal: Some(unsupported::C_EncryptFinal),
            C_DecryptInit: Some(crypto::C_DecryptInit),
            C_Decrypt: Some(crypto::C_Decrypt),
            C_DecryptUpdate: Some(crypto::C_DecryptUpdate),
            C_DecryptFinal: Some(crypto::C_DecryptFinal),
            C_DigestInit: Some(crypto::C_DigestInit),
            C_Digest: Some(crypto::C_Digest),
            C_DigestUpdate: Some(crypto::C_DigestUpdate),
            C_DigestKey: Some(unsupported::C_DigestKey),
            C_DigestFinal: Some(crypto::C_DigestFinal),
            C_SignInit: Some(crypto::C_SignInit),
            C_Sign: Some(crypto::C_Sign),
            C_SignUpdate: Some(crypto::C_SignUpdate),
            C_SignFinal: Some(crypto::C_SignFinal),
            C_SignRecoverInit: Some(unsupported::C_SignRecoverInit),
            C_SignRecover: Some(unsupported::C_SignRecover),
            C_VerifyInit: Some(crypto::C_VerifyInit),
            C_Verify: Some(crypto::C_Verify),
            C_VerifyUpdate: Some(crypto::C_VerifyUpdate),
            C_VerifyFinal: Some(crypto::C_VerifyFinal),
            C_VerifyRecoverInit: Some(unsupported::C_VerifyRecoverInit),
            C_VerifyRecover: Some(unsupported::C_VerifyRecover),
            C_DigestEncryptUpdate: Some(unsupported::C_DigestEncryptUpdate),
            C_DecryptDigestUpdate: Some(unsupported::C_DecryptDigestUpdate),
            C_SignEncryptUpdate: Some(unsupported::C_SignEncryptUpdate),
            C_DecryptVerifyUpdate: Some(unsupported::C_DecryptVerifyUpdate),
            C_GenerateKey: Some(unsupported::C_GenerateKey),
            C_GenerateKeyPair: Some(unsupported::C_GenerateKeyPair),
            C_WrapKey: Some(unsupported::C_WrapKey),
            C_UnwrapKey: Some(unsupported::C_UnwrapKey),
            C_DeriveKey: Some(unsupported::C_DeriveKey),
            C_SeedRandom: Some(unsupported::C_SeedRandom),
            C_GenerateRandom: Some(crypto::C_GenerateRandom),
            C_GetFunctionStatus: Some(unsupported::C_GetFunctionStatus),
            C_CancelFunction: Some(unsupported::C_CancelFunction),
            C_WaitForSlotEvent: Some(general::C_WaitForSlotEvent),
            $($name: Some($f),)*
        }
    };
}

/// The PKCS#11 2.40 function list.
pub(crate) static FUNCTION_LIST: CK_FUNCTION_LIST = function_list!(CK_FUNCTION_LIST, 2, 40);

/// The PKCS#11 3.0 function list: the 2.40 functions, then the 3.0 ones.
pub(crate) static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = function_list!(
    CK_FUNCTION_LIST_3_0,
    3,
    0,
    C_GetInterfaceList: general::C_GetInterfaceList,
    C_GetInterface: general::C_GetInterface,
    C_LoginUser: unsupported::C_LoginUser,
    C_SessionCancel: unsupported::C_SessionCancel,
    C_MessageEncryptInit: unsupported::C_MessageEncryptInit,
    C_EncryptMessage: unsupported::C_EncryptMessage,
    C_EncryptMessageBegin: unsupported::C_EncryptMessageBegin,
    C_EncryptMessageNext: unsupported::C_EncryptMessageNext,
    C_MessageEncryptFinal: unsupported::C_MessageEncryptFinal,
    C_MessageDecryptInit: unsupported::C_MessageDecryptInit,
    C_DecryptMessage: unsupported::C_DecryptMessage,
    C_DecryptMessageBegin: unsupported::C_DecryptMessageBegin,
    C_DecryptMessageNext: unsupported::C_DecryptMessageNext,
    C_MessageDecryptFinal: unsupported::C_MessageDecryptFinal,
    C_MessageSignInit: unsupported::C_MessageSignInit,
    C_SignMessage: unsupported::C_SignMessage,
    C_SignMessageBegin: unsupported::C_SignMessageBegin,
    C_SignMessageNext: unsupported::C_SignMessageNext,
    C_MessageSignFinal: unsupported::C_MessageSignFinal,
    C_MessageVerifyInit: unsupported::C_MessageVerifyInit,
    C_VerifyMessage: unsupported::C_VerifyMessage,
    C_VerifyMessageBegin: unsupported::C_VerifyMessageBegin,
    C_VerifyMessageNext: unsupported::C_VerifyMessageNext,
    C_MessageVerifyFinal: unsupported::C_MessageVerifyFinal,
);

/// The interfaces, in writable memory like a C module's global array: some callers write into
/// the `CK_INTERFACE` they are handed (OpenSC's pkcs11-spy replaces `pFunctionList` with its
/// own list), which would fault on a read-only static.
pub(crate) struct Interfaces(UnsafeCell<[CK_INTERFACE; 2]>);

// SAFETY: the module itself never writes through the cell; the pointers inside refer to
// immutable statics (a NUL-terminated name and the function lists above). A caller writing
// into a structure it was handed does so exactly as with a C module's global.
unsafe impl Sync for Interfaces {}

impl Interfaces {
    /// The interfaces as they are now (a copy, for listing and matching).
    pub(crate) fn snapshot(&self) -> [CK_INTERFACE; 2] {
        // SAFETY: plain data; the module never holds a reference into the cell.
        unsafe { *self.0.get() }
    }

    /// The address of interface `i` (< 2), to hand to C_GetInterface callers.
    pub(crate) fn ptr(&self, i: usize) -> *mut CK_INTERFACE {
        (self.0.get() as *mut CK_INTERFACE).wrapping_add(i)
    }
}

const INTERFACE_NAME: &[u8] = b"PKCS 11\0";

/// "PKCS 11" 3.0 first (the default), then "PKCS 11" 2.40.
pub(crate) static INTERFACES: Interfaces = Interfaces(UnsafeCell::new([
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: &FUNCTION_LIST_3_0 as *const CK_FUNCTION_LIST_3_0 as *mut std::ffi::c_void,
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut std::ffi::c_void,
        flags: 0,
    },
]));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn lists_are_complete() {
        assert_eq!(
            (FUNCTION_LIST.version.major, FUNCTION_LIST.version.minor),
            (2, 40)
        );
        // Every field after `version` is an Option<fn>; a None would be a null pointer.
        let words = |p: *const u8, n: usize| -> Vec<usize> {
            (0..n)
                // SAFETY: `p` points into a static function list, `n` words are within it.
                .map(|i| unsafe { (p as *const usize).add(i).read() })
                .collect()
        };
        let n2 = (std::mem::size_of::<CK_FUNCTION_LIST>() - 8) / 8;
        let w = words(
            // SAFETY: offset 8 (after the version) stays inside the static struct.
            unsafe { (&FUNCTION_LIST as *const CK_FUNCTION_LIST as *const u8).add(8) },
            n2,
        );
        assert_eq!(n2, 68);
        assert!(w.iter().all(|&x| x != 0));
        let n3 = (std::mem::size_of::<CK_FUNCTION_LIST_3_0>() - 8) / 8;
        let w = words(
            // SAFETY: offset 8 (after the version) stays inside the static struct.
            unsafe { (&FUNCTION_LIST_3_0 as *const CK_FUNCTION_LIST_3_0 as *const u8).add(8) },
            n3,
        );
        assert_eq!(n3, 92);
        assert!(w.iter().all(|&x| x != 0));
    }
}
