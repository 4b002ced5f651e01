//! Sessions and the one active operation per session (`style.md` §6). A length query or
//! CKR_BUFFER_TOO_SMALL keeps the operation; success or any other error ends it.

use super::mechanism::Hasher;
use crate::cpx::HashAlg;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// An open session.
#[derive(Debug)]
pub struct Session {
    pub handle: CK_SESSION_HANDLE,
    pub slot: CK_SLOT_ID,
    /// The token binding the session was opened on; a new card means a dead session.
    pub binding: u64,
    pub rw: bool,
    pub op: Option<Operation>,
    /// Result of the last C_Digest, for a following C_DigestFinal (compat §14, fix 1455).
    pub last_digest: Option<Vec<u8>>,
}

/// What the session is doing (no `Debug`: it holds signature inputs and plaintexts).
pub enum Operation {
    Find {
        results: Vec<CK_OBJECT_HANDLE>,
        pos: usize,
    },
    Sign(SignOp),
    Verify(VerifyOp),
    Encrypt(KeyOp),
    Decrypt(DecryptOp),
    Digest(DigestOp),
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Operation::{}", self.name())
    }
}

impl Operation {
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Find { .. } => "find",
            Operation::Sign(_) => "sign",
            Operation::Verify(_) => "verify",
            Operation::Encrypt(_) => "encrypt",
            Operation::Decrypt(_) => "decrypt",
            Operation::Digest(_) => "digest",
        }
    }
}

/// Key and mechanism of an operation.
#[derive(Debug, Clone)]
pub struct KeyOp {
    pub key: CK_OBJECT_HANDLE,
    pub mech: CK_MECHANISM_TYPE,
    /// Hash of the PSS parameters (PSS mechanisms only).
    pub pss_hash: Option<HashAlg>,
    /// Modulus length in bytes: the signature / cryptogram length.
    pub k: usize,
}

/// C_SignInit … C_SignFinal: the message is accumulated (the CPS3 signature key needs it
/// whole: the card hashes the last block).
pub struct SignOp {
    pub key: KeyOp,
    pub data: Zeroizing<Vec<u8>>,
    /// CKA_ALWAYS_AUTHENTICATE key: C_Login(CKU_CONTEXT_SPECIFIC) must come before C_Sign.
    pub always_auth: bool,
    /// The context-specific login was done for this operation.
    pub context_verified: bool,
    /// C_SignUpdate was called: a multi-part operation (C_Sign → CKR_OPERATION_ACTIVE).
    pub multi_part: bool,
}

pub struct VerifyOp {
    pub key: KeyOp,
    pub data: Vec<u8>,
    /// C_VerifyUpdate was called (C_Verify → CKR_OPERATION_ACTIVE).
    pub multi_part: bool,
}

/// C_DigestInit … C_DigestFinal.
pub struct DigestOp {
    pub hasher: Hasher,
    /// C_DigestUpdate was called (C_Digest → CKR_OPERATION_ACTIVE).
    pub multi_part: bool,
}

pub struct DecryptOp {
    pub key: KeyOp,
    /// Cryptogram accumulated by C_DecryptUpdate.
    pub data: Vec<u8>,
    /// Plaintext already computed when the caller's buffer was too small.
    pub result: Option<Zeroizing<Vec<u8>>>,
    /// C_DecryptUpdate was called (C_Decrypt → CKR_OPERATION_ACTIVE).
    pub multi_part: bool,
}

/// Output of a call following the length protocol (PKCS#11 2.40 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Length query (null buffer) or buffer too small: the length to report; the operation
    /// continues.
    Len(usize),
    /// The result; the operation is finished.
    Bytes(Vec<u8>),
}

impl Session {
    pub fn state(&self, login: super::slot::LoginState) -> CK_STATE {
        use super::slot::LoginState;
        match (self.rw, login) {
            (false, LoginState::User) => CKS_RO_USER_FUNCTIONS,
            (false, _) => CKS_RO_PUBLIC_SESSION,
            (true, LoginState::User) => CKS_RW_USER_FUNCTIONS,
            (true, LoginState::So) => CKS_RW_SO_FUNCTIONS,
            (true, LoginState::Public) => CKS_RW_PUBLIC_SESSION,
        }
    }
}
