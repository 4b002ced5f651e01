//! Login, logout and PINs (compat §9): C_Login (user, SO, context-specific), C_Logout,
//! C_InitPIN (unblock with the PUK), C_SetPIN; the kept PIN of the PIN cache.

use super::card_op::Replay;
use super::error::{Error, Result};
use super::module::Module;
use super::session::Operation;
use super::slot::LoginState;
use crate::cpx::PinInfo;
use crate::locked::LockedSecret;
use cryptoki_sys::*;

impl Module {
    /// C_Login (CKU_USER with the PIN, CKU_SO with the PUK).
    pub fn login(&mut self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        self.login_with(h, user, Some(pin))
    }

    /// C_Login; `pin` None (a NULL pointer) = typed on the reader's PIN pad, only on a
    /// token with CKF_PROTECTED_AUTHENTICATION_PATH (else CKR_ARGUMENTS_BAD).
    /// CKU_CONTEXT_SPECIFIC re-verifies the PIN for the active signature operation.
    pub fn login_with(
        &mut self,
        h: CK_SESSION_HANDLE,
        user: CK_USER_TYPE,
        pin: Option<&[u8]>,
    ) -> Result<()> {
        let idx = self.check_session(h)?;
        if user == CKU_CONTEXT_SPECIFIC {
            return self.context_login(h, idx, pin);
        }
        if user != CKU_USER && user != CKU_SO {
            return Err(Error::UserTypeInvalid(user));
        }
        // Any other login ends OpenSC's unblock convention (see `puk_login_for_unblock`).
        self.token_mut(idx)?.puk_for_unblock = false;
        let id = self.slots[idx].id;
        let ro_exists = self.sessions.values().any(|s| s.slot == id && !s.rw);
        let token = self.token_mut(idx)?;
        let info = if user == CKU_USER {
            token.contents().user_pin.clone()
        } else {
            token.contents().so_pin.clone()
        };
        let Some(info) = info else {
            return Err(Error::UserPinNotInitialized);
        };
        match (token.login, user) {
            (LoginState::User, CKU_USER) | (LoginState::So, CKU_SO) => {
                return Err(Error::UserAlreadyLoggedIn)
            }
            (LoginState::User, _) | (LoginState::So, _) => {
                return Err(Error::UserAnotherAlreadyLoggedIn)
            }
            (LoginState::Public, _) => {}
        }
        if user == CKU_SO && ro_exists {
            return Err(Error::SessionReadOnlyExists);
        }
        if pin.is_none() && !token.protected_path() {
            return Err(Error::ArgumentsBad);
        }
        // Outside the AODF bounds: refused without touching the card (no try lost).
        if pin.is_some_and(|p| !pin_len_ok(&info, p)) {
            return Err(Error::PinIncorrect);
        }
        token.pin_status = None;
        self.card_op(idx, Replay::NotAfterSending, |t| match (user, pin) {
            (CKU_USER, Some(p)) => t.card.login(p),
            (CKU_USER, None) => t.card.login_pin_pad(),
            (_, Some(p)) => t.card.login_so(p),
            (_, None) => t.card.login_so_pin_pad(),
        })?;
        let token = self.token_mut(idx)?;
        if user == CKU_USER {
            token.login = LoginState::User;
            if token.keep_pin {
                token.pin = pin.map(LockedSecret::new);
            }
        } else {
            token.login = LoginState::So;
        }
        Ok(())
    }

    /// C_Login(CKU_CONTEXT_SPECIFIC): a fresh VERIFY for the signature operation just
    /// initialised on session `h` (PKCS#11 2.40 §5.6). Never retried on failure.
    fn context_login(
        &mut self,
        h: CK_SESSION_HANDLE,
        idx: usize,
        pin: Option<&[u8]>,
    ) -> Result<()> {
        let (s, token) = self.parts(h, idx)?;
        let Some(Operation::Sign(_)) = &s.op else {
            if s.op.is_none() && token.login == LoginState::Public {
                return self.puk_login_for_unblock(h, idx, pin);
            }
            return Err(Error::OperationNotInitialized);
        };
        if token.login != LoginState::User {
            return Err(Error::UserNotLoggedIn);
        }
        let info = token
            .contents()
            .user_pin
            .clone()
            .ok_or(Error::UserPinNotInitialized)?;
        if pin.is_none() && !token.protected_path() {
            return Err(Error::ArgumentsBad);
        }
        if pin.is_some_and(|p| !pin_len_ok(&info, p)) {
            return Err(Error::PinIncorrect);
        }
        token.pin_status = None;
        self.card_op(idx, Replay::NotAfterSending, |t| match pin {
            Some(p) => t.card.login(p),
            None => t.card.login_pin_pad(),
        })?;
        if let Some(Operation::Sign(op)) = &mut self.session_mut(h)?.op {
            op.context_verified = true;
        }
        Ok(())
    }

    /// OpenSC's unblock convention (what `pkcs11-tool --unlock-pin --login-type
    /// context-specific --puk P --new-pin N` sends): C_Login(CKU_CONTEXT_SPECIFIC, PUK) with no
    /// operation and nobody logged in verifies the PUK; the next C_SetPIN(PUK, new) unblocks.
    /// The same checks as C_Login(CKU_SO): a PUK, a R/W session and no R/O session, length
    /// within the AODF bounds before anything reaches the card.
    fn puk_login_for_unblock(
        &mut self,
        h: CK_SESSION_HANDLE,
        idx: usize,
        pin: Option<&[u8]>,
    ) -> Result<()> {
        let id = self.slots[idx].id;
        let ro_exists = self.sessions.values().any(|s| s.slot == id && !s.rw);
        let (_, token) = self.parts(h, idx)?;
        let Some(info) = token.contents().so_pin.clone() else {
            return Err(Error::OperationNotInitialized);
        };
        if ro_exists {
            return Err(Error::SessionReadOnlyExists);
        }
        let Some(puk) = pin else {
            return Err(Error::ArgumentsBad);
        };
        if !pin_len_ok(&info, puk) {
            return Err(Error::PinIncorrect);
        }
        token.pin_status = None;
        self.card_op(idx, Replay::NotAfterSending, |t| t.card.login_so(puk))?;
        self.token_mut(idx)?.puk_for_unblock = true;
        Ok(())
    }

    /// C_Logout.
    pub fn logout(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        let idx = self.check_session(h)?;
        let token = self.token_mut(idx)?;
        if token.login == LoginState::Public && !token.puk_for_unblock {
            return Err(Error::UserNotLoggedIn);
        }
        let r = self.card_op(idx, Replay::Safe, |t| t.card.logout());
        if let Some(t) = self.slots[idx].token.as_mut() {
            t.forget_login();
        }
        match r {
            Err(err) if err.is_removal() => Err(err),
            Err(err) => {
                log::debug!("card logout: {err}");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// C_InitPIN: the unblock flow (C_Login(CKU_SO, PUK) then the new PIN).
    pub fn init_pin(&mut self, h: CK_SESSION_HANDLE, new: &[u8]) -> Result<()> {
        self.init_pin_with(h, Some(new))
    }

    /// C_InitPIN; `new` None = typed on the PIN pad.
    pub fn init_pin_with(&mut self, h: CK_SESSION_HANDLE, new: Option<&[u8]>) -> Result<()> {
        let idx = self.check_session(h)?;
        let (s, token) = self.parts(h, idx)?;
        if token.login != LoginState::So {
            return Err(Error::UserNotLoggedIn);
        }
        if !s.rw {
            return Err(Error::SessionReadOnly);
        }
        let info = token
            .contents()
            .user_pin
            .clone()
            .ok_or(Error::UserPinNotInitialized)?;
        match new {
            Some(new) if !pin_len_ok(&info, new) => return Err(Error::PinLenRange),
            None if !token.protected_path() => return Err(Error::ArgumentsBad),
            _ => {}
        }
        token.pin_status = None;
        self.card_op(idx, Replay::NotAfterSending, |t| match new {
            Some(new) => t.card.unblock_pin(new),
            None => t.card.unblock_pin_pin_pad(),
        })
    }

    /// C_SetPIN: changes the user PIN.
    pub fn set_pin(&mut self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<()> {
        self.set_pin_with(h, Some(old), Some(new))
    }

    /// C_SetPIN; both PINs None = typed on the PIN pad.
    pub fn set_pin_with(
        &mut self,
        h: CK_SESSION_HANDLE,
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<()> {
        let idx = self.check_session(h)?;
        let (s, token) = self.parts(h, idx)?;
        if !s.rw {
            return Err(Error::SessionReadOnly);
        }
        if token.login == LoginState::So {
            // Changing the PUK is not offered.
            return Err(Error::FunctionNotSupported);
        }
        let info = token
            .contents()
            .user_pin
            .clone()
            .ok_or(Error::UserPinNotInitialized)?;
        let (old, new) = match (old, new) {
            (Some(old), Some(new)) => (old, new),
            (None, None) if token.protected_path() => {
                token.pin_status = None;
                return self.card_op(idx, Replay::NotAfterSending, |t| {
                    t.card.change_pin_pin_pad()
                });
            }
            _ => return Err(Error::ArgumentsBad),
        };
        if !pin_len_ok(&info, new) {
            return Err(Error::PinLenRange);
        }
        if token.puk_for_unblock {
            // After C_Login(CKU_CONTEXT_SPECIFIC, PUK): `old` is the PUK, already verified.
            token.puk_for_unblock = false;
            token.pin_status = None;
            return self.card_op(idx, Replay::NotAfterSending, |t| t.card.unblock_pin(new));
        }
        if !pin_len_ok(&info, old) {
            return Err(Error::PinIncorrect);
        }
        token.pin_status = None;
        self.card_op(idx, Replay::NotAfterSending, |t| {
            t.card.change_pin(old, new)
        })?;
        let token = self.token_mut(idx)?;
        if token.login == LoginState::User && token.keep_pin {
            token.pin = Some(LockedSecret::new(new));
        }
        Ok(())
    }
}

fn pin_len_ok(info: &PinInfo, pin: &[u8]) -> bool {
    (info.min_len..=info.max_len).contains(&pin.len())
}
