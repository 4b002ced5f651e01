//! The simulator's control hook, in `sim` builds only (a release library has neither the
//! simulator nor this symbol: `scripts/check-release.sh` compares its exports with
//! `include/exports.txt`). Through it a test that loaded the cdylib acts on the simulated
//! cards the module holds — faults at the N-th APDU, removal, insertion, reset, PIN tries
//! left — as `cpx-vcard` does through real pcscd. The commands are
//! `transport::virtual::control`'s.

use super::out;
use crate::p11::Error;
use crate::transport::r#virtual::{control, ControlError, SharedCard};
use cryptoki_sys::*;

/// The simulated cards of `CPX_SIM_CARDS`, by reader index.
pub(crate) type SimCards = Vec<SharedCard>;

entry!(
    /// `CK_RV CPX_SimControl(const char *command, CK_ULONG *result)` (not PKCS#11): runs one
    /// command on the simulated cards of the initialised module and writes its answer to
    /// `result` (may be NULL). A bad command → CKR_ARGUMENTS_BAD, a reader index out of range
    /// → CKR_SLOT_ID_INVALID, not initialised → CKR_CRYPTOKI_NOT_INITIALIZED.
    fn CPX_SimControl(command: *const std::ffi::c_char, result: *mut CK_ULONG) {
        // SAFETY: a non-NULL command is a NUL-terminated string (this function's contract).
        let command =
            unsafe { out::c_string(command as *const CK_UTF8CHAR) }.ok_or(Error::ArgumentsBad)?;
        let command = String::from_utf8(command).map_err(|_| Error::ArgumentsBad)?;
        let answer = {
            let g = super::lock();
            match g.as_ref() {
                Some(global) if global.pid == std::process::id() => control(&global.sim, &command),
                _ => return Err(Error::NotInitialized),
            }
        };
        let answer = answer.map_err(|e| match e {
            ControlError::Syntax(what) => {
                log::warn!("CPX_SimControl: {what:?} not understood");
                Error::ArgumentsBad
            }
            ControlError::NoReader(i) => Error::SlotIdInvalid(i as CK_SLOT_ID),
        })?;
        if result.is_null() {
            return Ok(());
        }
        // SAFETY: a non-NULL result points to a writable CK_ULONG (this function's contract).
        unsafe { out::write(result, answer as CK_ULONG) }
    }
);
