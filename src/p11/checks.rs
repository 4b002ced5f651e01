//! State checks the C ABI runs before it reads a caller's template or buffer (issue 7: the
//! order initialised → session → object handle → mechanism → arguments), and the repair
//! after a panic caught at the ABI.

use super::error::{Error, Result};
use super::module::Module;
use cryptoki_sys::*;

impl Module {
    /// Session `h` exists (and its card is still there).
    pub fn session_check(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.check_session(h).map(|_| ())
    }

    /// C_FindObjectsInit can start: the session exists and runs no operation.
    pub fn find_init_check(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.check_session(h)?;
        match self.session_mut(h)?.op {
            Some(_) => Err(Error::OperationActive),
            None => Ok(()),
        }
    }

    /// Object `obj` is visible in session `h` (else CKR_OBJECT_HANDLE_INVALID).
    pub fn object_check(&mut self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) -> Result<()> {
        let idx = self.check_session(h)?;
        let token = self.token_mut(idx)?;
        match token.object(obj) {
            Some(o) if token.visible(&o) => Ok(()),
            _ => Err(Error::ObjectHandleInvalid(obj)),
        }
    }

    /// Ends the operation of session `h` (a call refused its arguments: PKCS#11 2.40 §5.2,
    /// any failure but CKR_BUFFER_TOO_SMALL ends the operation).
    pub fn end_operation(&mut self, h: CK_SESSION_HANDLE) {
        if let Ok(s) = self.session_mut(h) {
            s.op = None;
        }
    }

    /// After a panic inside a call (caught at the C ABI, which answered CKR_GENERAL_ERROR):
    /// the operation that call was running may be half-done, and which session it was is not
    /// known here, so every session's operation ends (the next call on it answers
    /// CKR_OPERATION_NOT_INITIALIZED). Sessions, logins and card bindings are kept.
    pub fn recover_after_panic(&mut self) {
        for s in self.sessions.values_mut() {
            s.op = None;
            s.last_digest = None;
        }
    }
}
