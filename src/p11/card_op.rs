//! The one path of every card operation (`Module::card_op`): what the module does when the
//! card was reset, is gone, or asks for the PIN again (style.md §6, architecture.md "Where
//! card events travel").

use super::error::{Error, Result};
use super::module::Module;
use super::slot::{LoginState, Token};
use crate::apdu::CardError;
use crate::cpx::CpxError;
use crate::transport::TransportError;

/// Whether a card operation may run again after the card was reset under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads, signatures, decryptions, status queries: running them twice is harmless.
    Safe,
    /// PIN verifications, changes and unblocks: run again only when nothing reached the card.
    NotAfterSending,
}

impl Module {
    /// Runs a card operation on the token of slot `idx`: the one place where every outcome
    /// of talking to a card is handled (style.md §6).
    /// * The card was reset since our last transaction (the operation did not run): the
    ///   token's PIN state is gone — the kept PIN is replayed once (PIN cache on), else the
    ///   token is logged out — and the operation runs again.
    /// * The card was reset during the operation: the same, and the operation runs again
    ///   only if it is [`Replay::Safe`] (never a PIN verification or change whose effect is
    ///   unknown).
    /// * "Security status not satisfied" while logged in with a kept PIN: the PIN is
    ///   replayed once and the operation runs again (compat §9). A wrong PIN is never
    ///   replayed: a failed re-verification logs the token out.
    /// * The card, the reader or the PC/SC service is gone: the token is unbound (its
    ///   sessions and objects with it) and the next call re-lists the readers.
    pub(super) fn card_op<T>(
        &mut self,
        idx: usize,
        replay: Replay,
        mut f: impl FnMut(&mut Token) -> std::result::Result<T, CpxError>,
    ) -> Result<T> {
        let mut replayed_pin = false;
        for attempt in 0..3 {
            let again = attempt < 2;
            let token = self.token_mut(idx)?;
            let e = match f(token) {
                Ok(v) => return Ok(v),
                // Refusals and missing things are the caller's; only card answers are handled.
                Err(CpxError::Card(e)) => e,
                Err(e) => return Err(e.into()),
            };
            match e {
                CardError::Transport(TransportError::Reset) if again => self.after_reset(idx)?,
                CardError::ResetDuringCommand if again && replay == Replay::Safe => {
                    self.after_reset(idx)?
                }
                CardError::ResetDuringCommand => {
                    self.after_reset(idx)?;
                    return Err(Error::Card(e));
                }
                CardError::SecurityNotSatisfied
                    if !replayed_pin && token.login == LoginState::User && token.pin.is_some() =>
                {
                    replayed_pin = true;
                    log::info!("the card asks for the PIN again: replaying the kept PIN");
                    if !self.replay_pin(idx)? {
                        return Err(Error::Card(CardError::SecurityNotSatisfied));
                    }
                }
                e => return Err(self.card_failure(idx, e)),
            }
        }
        Err(Error::Card(CardError::ResetDuringCommand))
    }

    /// The card of slot `idx` lost its security state (reset): replay the kept PIN once, or
    /// log the token out.
    fn after_reset(&mut self, idx: usize) -> Result<()> {
        let token = self.token_mut(idx)?;
        token.pin_status = None;
        token.puk_for_unblock = false;
        if token.login == LoginState::User && token.pin.is_some() {
            log::info!("slot {idx}: card reset; replaying the kept PIN");
            self.replay_pin(idx)?;
        } else if token.login != LoginState::Public {
            log::info!("slot {idx}: card reset; the token is logged out");
            token.forget_login();
        }
        Ok(())
    }

    /// VERIFY with the kept PIN, once the card proved it is the bound one (EF.SN); false (and
    /// the token logged out) if the card refused it. Never replayed after a failure; a card
    /// gone — or another card in its place — is the caller's error.
    fn replay_pin(&mut self, idx: usize) -> Result<bool> {
        let token = self.token_mut(idx)?;
        let Some(pin) = token.pin.clone() else {
            token.forget_login();
            return Ok(false);
        };
        let mut r = token.card.replay_login(&pin);
        if r == Err(CpxError::Card(CardError::Transport(TransportError::Reset))) {
            // Reset again before the VERIFY was sent: nothing reached the card.
            r = token.card.replay_login(&pin);
        }
        match r {
            Ok(()) => Ok(true),
            Err(e) => {
                log::warn!("silent PIN re-verification failed: {e}");
                token.forget_login();
                match e {
                    CpxError::Card(e @ CardError::Transport(_)) => Err(self.card_failure(idx, e)),
                    _ => Ok(false),
                }
            }
        }
    }

    /// Turns a card error into a module error; a card, reader or service gone unbinds the
    /// token and forces the next scan.
    fn card_failure(&mut self, idx: usize, e: CardError) -> Error {
        let err = Error::Card(e);
        if err.is_removal() || err.is_reset() {
            self.last_scan = None;
        }
        if err.is_removal() {
            self.unbind(idx);
        } else if err.is_reset() {
            if let Some(t) = self.slots[idx].token.as_mut() {
                t.forget_login();
            }
        }
        err
    }
}
