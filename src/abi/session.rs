//! Session management, login and PINs (PKCS#11 2.40 §5.6, cryptolib-compat §9–10).

use super::out;
use super::with_module;
use crate::p11::Error;
use cryptoki_sys::*;

/// A PIN argument: NULL = "use the PIN pad" (`None`), else the bytes (`out::in_pin`).
///
/// # Safety
/// A non-NULL `p` points to `n` readable bytes.
unsafe fn optional_pin<'a>(p: CK_UTF8CHAR_PTR, n: CK_ULONG) -> Result<Option<&'a [u8]>, Error> {
    // SAFETY: the caller's contract.
    Ok(unsafe { out::in_pin(p, n) })
}

entry!(
    /// C_OpenSession (PKCS#11 2.40 §5.6): CKF_SERIAL_SESSION required; R/W accepted.
    fn C_OpenSession(
        slot_id: CK_SLOT_ID,
        flags: CK_FLAGS,
        _p_application: CK_VOID_PTR,
        _notify: CK_NOTIFY,
        ph_session: CK_SESSION_HANDLE_PTR,
    ) {
        let h = with_module(|m| {
            // The slot before the arguments (issue 7 order).
            m.slot_info(slot_id)?;
            if ph_session.is_null() {
                return Err(Error::ArgumentsBad);
            }
            m.open_session(slot_id, flags)
        })?;
        // SAFETY: ph_session is non-NULL and points to a CK_SESSION_HANDLE (spec §5.6).
        unsafe { out::write(ph_session, h) }
    }
);

entry!(
    /// C_CloseSession (PKCS#11 2.40 §5.6): the last session of a token logs it out.
    fn C_CloseSession(h_session: CK_SESSION_HANDLE) {
        with_module(|m| m.close_session(h_session))
    }
);

entry!(
    /// C_CloseAllSessions (PKCS#11 2.40 §5.6).
    fn C_CloseAllSessions(slot_id: CK_SLOT_ID) {
        with_module(|m| m.close_all_sessions(slot_id))
    }
);

entry!(
    /// C_GetSessionInfo (PKCS#11 2.40 §5.6).
    fn C_GetSessionInfo(h_session: CK_SESSION_HANDLE, p_info: CK_SESSION_INFO_PTR) {
        let info = with_module(|m| m.session_info(h_session))?;
        // SAFETY: p_info points to a CK_SESSION_INFO (spec §5.6).
        unsafe { out::write(p_info, info) }
    }
);

entry!(
    /// C_Login (PKCS#11 2.40 §5.6, cryptolib-compat §9): a PIN outside the AODF bounds
    /// is CKR_PIN_INCORRECT without touching the card; a wrong PIN is never retried. A NULL
    /// PIN means "typed on the reader's PIN pad" (CKF_PROTECTED_AUTHENTICATION_PATH only,
    /// else CKR_ARGUMENTS_BAD). CKU_CONTEXT_SPECIFIC: per-signature PIN.
    fn C_Login(
        h_session: CK_SESSION_HANDLE,
        user_type: CK_USER_TYPE,
        p_pin: CK_UTF8CHAR_PTR,
        ul_pin_len: CK_ULONG,
    ) {
        // SAFETY: p_pin points to ul_pin_len bytes (spec §5.6).
        let pin = unsafe { optional_pin(p_pin, ul_pin_len) }?;
        with_module(|m| m.login_with(h_session, user_type, pin))
    }
);

entry!(
    /// C_Logout (PKCS#11 2.40 §5.6): nobody logged in → CKR_USER_NOT_LOGGED_IN.
    fn C_Logout(h_session: CK_SESSION_HANDLE) {
        with_module(|m| m.logout(h_session))
    }
);

entry!(
    /// C_InitPIN (PKCS#11 2.40 §5.6): the unblock flow after C_Login(CKU_SO, PUK)
    /// (cryptolib-compat §9). A NULL PIN: the new PIN is typed on the PIN pad.
    fn C_InitPIN(h_session: CK_SESSION_HANDLE, p_pin: CK_UTF8CHAR_PTR, ul_pin_len: CK_ULONG) {
        // SAFETY: p_pin points to ul_pin_len bytes (spec §5.6).
        let pin = unsafe { optional_pin(p_pin, ul_pin_len) }?;
        with_module(|m| m.init_pin_with(h_session, pin))
    }
);

entry!(
    /// C_SetPIN (PKCS#11 2.40 §5.6): changes the user PIN (R/W session). Both PINs NULL:
    /// typed on the PIN pad.
    fn C_SetPIN(
        h_session: CK_SESSION_HANDLE,
        p_old_pin: CK_UTF8CHAR_PTR,
        ul_old_len: CK_ULONG,
        p_new_pin: CK_UTF8CHAR_PTR,
        ul_new_len: CK_ULONG,
    ) {
        // SAFETY: each pointer points to its length in bytes (spec §5.6).
        let old = unsafe { optional_pin(p_old_pin, ul_old_len) }?;
        // SAFETY: as above.
        let new = unsafe { optional_pin(p_new_pin, ul_new_len) }?;
        with_module(|m| m.set_pin_with(h_session, old, new))
    }
);
