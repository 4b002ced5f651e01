//! Cryptographic functions (PKCS#11 2.40 §5.8–5.15, cryptolib-compat §7–8): sign and
//! decrypt on the card; verify, encrypt and digest in software; random from the card.
//! Outputs follow the length protocol (`out::put`): a length query or a too-small buffer
//! keeps the operation.

use super::out;
use super::with_module;
use crate::p11::{mechanism, Error, InitOp, Mechanism, Module, Result};
use cryptoki_sys::*;

/// The mechanism of a *Init, read only once the state checks passed
/// ([`Module::init_check`]: session, key handle, mechanism type); its parameter only for a
/// mechanism that takes one, within bounds (`out::mechanism`).
///
/// # Safety
/// A non-NULL `p` points to a `CK_MECHANISM` whose parameter is as it says.
unsafe fn checked_mechanism(
    m: &mut Module,
    h: CK_SESSION_HANDLE,
    op: InitOp,
    key: CK_OBJECT_HANDLE,
    p: CK_MECHANISM_PTR,
) -> Result<Mechanism> {
    let mut header = None;
    m.init_check(h, op, key, || {
        // SAFETY: a non-NULL p points to a CK_MECHANISM (caller's contract).
        header = unsafe { out::mechanism_header(p) };
        header.map(|x| x.mechanism)
    })?;
    let header = header.ok_or(Error::ArgumentsBad)?;
    // SAFETY: caller's contract; read only for PSS mechanisms, within MAX_MECHANISM_PARAM.
    unsafe { out::mechanism(&header, mechanism::is_pss(header.mechanism)) }
}

/// An argument error of a call that runs an operation ends it, as any other failure does
/// (PKCS#11 2.40 §5.2; CKR_BUFFER_TOO_SMALL and length queries are not errors here).
fn ended_on_error<T>(m: &mut Module, h: CK_SESSION_HANDLE, r: Result<T>) -> Result<T> {
    if r.is_err() {
        m.end_operation(h);
    }
    r
}

/// Declares `C_<Op>Init(session, mechanism, key)`.
macro_rules! init_entry {
    ($(#[$m:meta])* $name:ident => $method:ident, $op:expr) => {
        entry!(
            $(#[$m])*
            fn $name(h_session: CK_SESSION_HANDLE, p_mechanism: CK_MECHANISM_PTR, h_key: CK_OBJECT_HANDLE) {
                with_module(|m| {
                    // SAFETY: p_mechanism points to a CK_MECHANISM with its parameter (spec).
                    let mech = unsafe { checked_mechanism(m, h_session, $op, h_key, p_mechanism) }?;
                    m.$method(h_session, &mech, h_key)
                })
            }
        );
    };
}

/// Declares a single-part call `C_<Op>(session, in, in_len, out, out_len)`.
macro_rules! single_entry {
    ($(#[$m:meta])* $name:ident => $method:ident) => {
        entry!(
            $(#[$m])*
            fn $name(
                h_session: CK_SESSION_HANDLE,
                p_data: CK_BYTE_PTR,
                ul_data_len: CK_ULONG,
                p_out: CK_BYTE_PTR,
                pul_out_len: CK_ULONG_PTR,
            ) {
                let output = with_module(|m| {
                    m.session_check(h_session)?;
                    // SAFETY: p_data points to ul_data_len bytes (spec), bounded.
                    let data = unsafe { out::in_data(p_data, ul_data_len) };
                    // SAFETY: pul_out_len points to a CK_ULONG (spec length protocol).
                    let cap = unsafe { out::out_capacity(p_out, pul_out_len) };
                    let (data, cap) = ended_on_error(m, h_session, data.and_then(|d| Ok((d, cap?))))?;
                    m.$method(h_session, data, cap)
                })?;
                // SAFETY: p_out has *pul_out_len writable bytes when non-NULL (spec).
                unsafe { out::put(output, p_out, pul_out_len) }
            }
        );
    };
}

/// Declares a final call `C_<Op>Final(session, out, out_len)`.
macro_rules! final_entry {
    ($(#[$m:meta])* $name:ident => $method:ident) => {
        entry!(
            $(#[$m])*
            fn $name(h_session: CK_SESSION_HANDLE, p_out: CK_BYTE_PTR, pul_out_len: CK_ULONG_PTR) {
                let output = with_module(|m| {
                    m.session_check(h_session)?;
                    // SAFETY: pul_out_len points to a CK_ULONG (spec length protocol).
                    let cap = unsafe { out::out_capacity(p_out, pul_out_len) };
                    let cap = ended_on_error(m, h_session, cap)?;
                    m.$method(h_session, cap)
                })?;
                // SAFETY: p_out has *pul_out_len writable bytes when non-NULL (spec).
                unsafe { out::put(output, p_out, pul_out_len) }
            }
        );
    };
}

/// Declares an update call `C_<Op>Update(session, part, part_len)`.
macro_rules! update_entry {
    ($(#[$m:meta])* $name:ident => $method:ident) => {
        entry!(
            $(#[$m])*
            fn $name(h_session: CK_SESSION_HANDLE, p_part: CK_BYTE_PTR, ul_part_len: CK_ULONG) {
                with_module(|m| {
                    m.session_check(h_session)?;
                    // SAFETY: p_part points to ul_part_len bytes (spec), bounded.
                    let part = unsafe { out::in_slice(p_part, ul_part_len) };
                    let part = ended_on_error(m, h_session, part)?;
                    m.$method(h_session, part)
                })
            }
        );
    };
}

init_entry!(
    /// C_SignInit (PKCS#11 2.40 §5.12): bad key → CKR_KEY_HANDLE_INVALID, wrong key →
    /// CKR_KEY_TYPE_INCONSISTENT, not logged in → CKR_USER_NOT_LOGGED_IN (contactless:
    /// no login needed), PSS parameters checked (cryptolib-compat §14).
    C_SignInit => sign_init, InitOp::Sign
);
single_entry!(
    /// C_Sign (PKCS#11 2.40 §5.12): signature length from the key, never by signing
    /// twice; NULL data → CKR_ARGUMENTS_BAD.
    C_Sign => sign
);
update_entry!(
    /// C_SignUpdate (PKCS#11 2.40 §5.12).
    C_SignUpdate => sign_update
);
final_entry!(
    /// C_SignFinal (PKCS#11 2.40 §5.12).
    C_SignFinal => sign_final
);

init_entry!(
    /// C_VerifyInit (PKCS#11 2.40 §5.13): software, with the certificate's public key.
    C_VerifyInit => verify_init, InitOp::Verify
);

entry!(
    /// C_Verify (PKCS#11 2.40 §5.13): a wrong signature length is
    /// CKR_SIGNATURE_LEN_RANGE and ends the operation (cryptolib-compat §14).
    fn C_Verify(
        h_session: CK_SESSION_HANDLE,
        p_data: CK_BYTE_PTR,
        ul_data_len: CK_ULONG,
        p_signature: CK_BYTE_PTR,
        ul_signature_len: CK_ULONG,
    ) {
        with_module(|m| {
            m.session_check(h_session)?;
            // SAFETY: each pointer points to its length in bytes (spec §5.13), bounded.
            let data = unsafe { out::in_data(p_data, ul_data_len) };
            // SAFETY: as above.
            let sig = unsafe { out::in_data(p_signature, ul_signature_len) };
            let (data, sig) = ended_on_error(m, h_session, data.and_then(|d| Ok((d, sig?))))?;
            m.verify(h_session, data, sig)
        })
    }
);
update_entry!(
    /// C_VerifyUpdate (PKCS#11 2.40 §5.13).
    C_VerifyUpdate => verify_update
);

entry!(
    /// C_VerifyFinal (PKCS#11 2.40 §5.13).
    fn C_VerifyFinal(
        h_session: CK_SESSION_HANDLE,
        p_signature: CK_BYTE_PTR,
        ul_signature_len: CK_ULONG,
    ) {
        with_module(|m| {
            m.session_check(h_session)?;
            // SAFETY: p_signature points to ul_signature_len bytes (spec §5.13), bounded.
            let sig = unsafe { out::in_data(p_signature, ul_signature_len) };
            let sig = ended_on_error(m, h_session, sig)?;
            m.verify_final(h_session, sig)
        })
    }
);

init_entry!(
    /// C_EncryptInit (PKCS#11 2.40 §5.8): CKM_RSA_PKCS with the authentication public
    /// key, in software (cryptolib-compat §7.2).
    C_EncryptInit => encrypt_init, InitOp::Encrypt
);
single_entry!(
    /// C_Encrypt (PKCS#11 2.40 §5.8): single part; NULL data → CKR_ARGUMENTS_BAD.
    C_Encrypt => encrypt
);

init_entry!(
    /// C_DecryptInit (PKCS#11 2.40 §5.9): unknown key → CKR_OBJECT_HANDLE_INVALID as
    /// ANS's tests expect (cryptolib-compat §14).
    C_DecryptInit => decrypt_init, InitOp::Decrypt
);
single_entry!(
    /// C_Decrypt (PKCS#11 2.40 §5.9): PKCS#1 v1.5 on the card; a size query answers the
    /// modulus length.
    C_Decrypt => decrypt
);

entry!(
    /// C_DecryptUpdate (PKCS#11 2.40 §5.9): collects the cryptogram, outputs nothing; the
    /// plaintext comes with C_DecryptFinal.
    fn C_DecryptUpdate(
        h_session: CK_SESSION_HANDLE,
        p_encrypted_part: CK_BYTE_PTR,
        ul_encrypted_part_len: CK_ULONG,
        p_part: CK_BYTE_PTR,
        pul_part_len: CK_ULONG_PTR,
    ) {
        let output = with_module(|m| {
            m.session_check(h_session)?;
            // SAFETY: p_encrypted_part points to ul_encrypted_part_len bytes (spec §5.9).
            let data = unsafe { out::in_slice(p_encrypted_part, ul_encrypted_part_len) };
            let data = if pul_part_len.is_null() {
                Err(Error::ArgumentsBad)
            } else {
                data
            };
            let data = ended_on_error(m, h_session, data)?;
            m.decrypt_update(h_session, data)
        })?;
        // SAFETY: pul_part_len points to a CK_ULONG, p_part to *pul_part_len bytes.
        unsafe { out::put(output, p_part, pul_part_len) }
    }
);
final_entry!(
    /// C_DecryptFinal (PKCS#11 2.40 §5.9).
    C_DecryptFinal => decrypt_final
);

entry!(
    /// C_DigestInit (PKCS#11 2.40 §5.10): CKM_SHA_1, CKM_SHA256 in software.
    fn C_DigestInit(h_session: CK_SESSION_HANDLE, p_mechanism: CK_MECHANISM_PTR) {
        with_module(|m| {
            // SAFETY: p_mechanism points to a CK_MECHANISM (spec §5.10).
            let mech = unsafe { checked_mechanism(m, h_session, InitOp::Digest, 0, p_mechanism) }?;
            m.digest_init(h_session, &mech)
        })
    }
);
single_entry!(
    /// C_Digest (PKCS#11 2.40 §5.10).
    C_Digest => digest
);
update_entry!(
    /// C_DigestUpdate (PKCS#11 2.40 §5.10).
    C_DigestUpdate => digest_update
);
final_entry!(
    /// C_DigestFinal (PKCS#11 2.40 §5.10): also right after C_Digest (fix 1455,
    /// cryptolib-compat §14).
    C_DigestFinal => digest_final
);

entry!(
    /// C_GenerateRandom (PKCS#11 2.40 §5.15): GET CHALLENGE on the card.
    fn C_GenerateRandom(
        h_session: CK_SESSION_HANDLE,
        p_random: CK_BYTE_PTR,
        ul_random_len: CK_ULONG,
    ) {
        let bytes = with_module(|m| {
            m.session_check(h_session)?;
            if (p_random.is_null() && ul_random_len > 0) || ul_random_len > out::MAX_RANDOM {
                return Err(Error::ArgumentsBad);
            }
            m.random(h_session, ul_random_len as usize)
        })?;
        let mut n = ul_random_len;
        // SAFETY: p_random has ul_random_len writable bytes (spec §5.15); bytes has
        // exactly that length.
        unsafe { out::out_bytes(&bytes, p_random, &mut n) }
    }
);
