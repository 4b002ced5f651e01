//! `Module`: the whole PKCS#11 state as a plain struct (no statics, no pointers): readers,
//! slots, sessions, handle counters. Slot/token/session management and login live here;
//! objects in `objects.rs`, cryptographic operations in `crypto.rs`.

use super::card_op::Replay;
use super::error::{Error, Result};
use super::mechanism;
use super::session::Session;
use super::slot::{LoginState, Slot, SlotInfo, Token, TokenInfo};
use crate::apdu::CardError;
use crate::cpx::{CpxCard, CpxError};
use crate::transport::{ReaderInfo, ReaderWatch, Readers, TransportError, WakeUp};
use cryptoki_sys::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The PKCS#11 module over a set of readers.
pub struct Module {
    pub(super) readers: Box<dyn Readers>,
    pub(super) slots: Vec<Slot>,
    pub(super) sessions: BTreeMap<CK_SESSION_HANDLE, Session>,
    next_session: CK_ULONG,
    next_object: CK_ULONG,
    next_binding: u64,
    /// How long PIN counters read for C_GetTokenInfo are reused (NSS polls it).
    pub pin_status_ttl: Duration,
    /// How long a reader scan is reused before the next call re-lists readers and cards
    /// (0 = every call). Each scan is two PC/SC round trips and clients make hundreds of
    /// calls a second (`pkcs11-tool -O`, NSS); the C ABI sets a short window. A card
    /// operation that finds the card gone or reset forces the next scan.
    pub scan_ttl: Duration,
    pub(super) last_scan: Option<Instant>,
    /// The readers as the last scan listed them (what a blocking C_WaitForSlotEvent waits
    /// to change).
    listing: Vec<ReaderInfo>,
    /// Wakes the blocking C_WaitForSlotEvent calls in progress (C_Finalize, drop).
    waiters: Vec<(u64, WakeUp)>,
    next_waiter: u64,
    /// `CPX_PKCS11_PIN_CACHE`: keep the user PIN for the Cryptolib's silent
    /// re-verification (default) or ask for C_Login(CKU_CONTEXT_SPECIFIC) per signature.
    /// Read when a card is bound.
    pub pin_cache: bool,
    /// The persistent card cache (`cpx::cache`; set by C_Initialize, none in tests).
    pub card_cache: Option<crate::cpx::cache::CardCache>,
}

impl Module {
    /// A module over `readers`; the current reader/card state is the baseline for
    /// C_WaitForSlotEvent (no event is reported for cards already inserted).
    pub fn new(readers: Box<dyn Readers>) -> Module {
        let mut m = Module {
            readers,
            slots: Vec::new(),
            sessions: BTreeMap::new(),
            next_session: 1,
            next_object: 1,
            next_binding: 1,
            pin_status_ttl: Duration::from_millis(1000),
            scan_ttl: Duration::ZERO,
            last_scan: None,
            listing: Vec::new(),
            waiters: Vec::new(),
            next_waiter: 1,
            pin_cache: true,
            card_cache: None,
        };
        m.scan();
        for s in &mut m.slots {
            s.event_seen = s.event_state();
        }
        m
    }

    // ---- readers, slots, binding ----------------------------------------------------------

    /// A scan whatever the window: C_GetSlotList and C_WaitForSlotEvent are about readers
    /// and cards, and the first C_GetSlotList after an insertion must see it (compat §15 #3).
    fn rescan(&mut self) {
        self.last_scan = None;
        self.scan();
    }

    /// Re-lists readers (unless the last scan is younger than `scan_ttl`): new readers get
    /// the next slot ID (stable per reader name for the process life); a card gone or
    /// changed (other ATR) loses its binding and sessions.
    pub(super) fn scan(&mut self) {
        let fresh = self.last_scan.is_some_and(|t| t.elapsed() < self.scan_ttl);
        if fresh && !self.readers.listing_is_cheap() {
            return;
        }
        self.last_scan = Some(Instant::now());
        let list = match self.readers.list() {
            Ok(l) => l,
            Err(e) => {
                log::debug!("listing readers failed: {e}");
                Vec::new()
            }
        };
        self.listing.clone_from(&list);
        for s in &mut self.slots {
            s.attached = false;
        }
        for r in list {
            let idx = match self.slots.iter().position(|s| s.reader == r.name) {
                Some(i) => i,
                None => {
                    let id = self.slots.len() as CK_SLOT_ID;
                    self.slots.push(Slot::new(id, r.name.clone()));
                    self.slots.len() - 1
                }
            };
            let s = &mut self.slots[idx];
            s.attached = true;
            s.card_present = r.card_present;
            s.atr = if r.card_present { r.atr } else { Vec::new() };
            s.events = r.events;
        }
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            if !s.attached {
                s.card_present = false;
                s.atr.clear();
            }
            if s.unrecognized
                .as_ref()
                .is_some_and(|(a, ev)| !s.card_present || *a != s.atr || *ev != s.events)
            {
                s.unrecognized = None;
            }
            // Another card session: gone, another ATR, or pulled and put back (or swapped for
            // a card with the same ATR) between two scans, however quickly.
            let changed = s
                .token
                .as_ref()
                .is_some_and(|t| !s.card_present || t.atr != s.atr || t.events != s.events);
            if changed {
                self.unbind(i);
            }
        }
    }

    /// Drops the binding of slot `idx` and every session on it.
    pub(super) fn unbind(&mut self, idx: usize) {
        let slot = &mut self.slots[idx];
        if slot.token.take().is_some() {
            log::info!("slot {}: token removed", slot.id);
        }
        let id = slot.id;
        self.sessions.retain(|_, s| s.slot != id);
    }

    pub(super) fn slot_index(&self, id: CK_SLOT_ID) -> Result<usize> {
        if (id as usize) < self.slots.len() {
            Ok(id as usize)
        } else {
            Err(Error::SlotIdInvalid(id))
        }
    }

    /// Binds the card of slot `idx` if needed (reads it once: `CpxCard::bind`).
    pub(super) fn ensure_token(&mut self, idx: usize) -> Result<()> {
        let slot = &mut self.slots[idx];
        if slot.token.is_some() {
            return Ok(());
        }
        if !slot.card_present {
            return Err(Error::TokenNotPresent);
        }
        if slot.unrecognized == Some((slot.atr.clone(), slot.events)) {
            return Err(Error::TokenNotRecognized);
        }
        let transport = self.readers.connect(&slot.reader).map_err(|e| match e {
            TransportError::NoCard | TransportError::Removed | TransportError::NoReader => {
                Error::TokenNotPresent
            }
            e => Error::Card(e.into()),
        })?;
        let pin_cache = self.pin_cache;
        match CpxCard::bind_cached(transport, self.card_cache.as_ref()) {
            Ok(card) => {
                let binding = self.next_binding;
                self.next_binding += 1;
                let next = &mut self.next_object;
                let mut token = Token::new(binding, slot.atr.clone(), slot.events, card, || {
                    let h = *next;
                    *next += 1;
                    h
                });
                // Nothing to keep on a PIN pad: the PIN never reaches us (compat §4).
                token.keep_pin = pin_cache && !token.protected_path();
                log::info!(
                    "slot {}: bound token {:?} ({} objects)",
                    slot.id,
                    token.contents().label,
                    token.objects.len()
                );
                slot.token = Some(token);
                Ok(())
            }
            // Override: a card error while binding means "not one of ours" (style.md §4).
            Err(CpxError::Card(e @ (CardError::Transport(_) | CardError::ResetDuringCommand))) => {
                Err(Error::Card(e))
            }
            Err(e) => {
                log::warn!("slot {}: card not recognized: {e}", slot.id);
                slot.unrecognized = Some((slot.atr.clone(), slot.events));
                Err(Error::TokenNotRecognized)
            }
        }
    }

    /// The bound token of slot `idx`.
    pub(super) fn token_mut(&mut self, idx: usize) -> Result<&mut Token> {
        self.slots[idx].token.as_mut().ok_or(Error::TokenNotPresent)
    }

    /// Checks that session `h` exists and that its card is still the one it was opened on
    /// (compat §10: removal → CKR_SESSION_HANDLE_INVALID). Returns the slot index.
    pub(super) fn check_session(&mut self, h: CK_SESSION_HANDLE) -> Result<usize> {
        self.scan();
        let s = self
            .sessions
            .get(&h)
            .ok_or(Error::SessionHandleInvalid(h))?;
        let idx = s.slot as usize;
        match &self.slots.get(idx).and_then(|s| s.token.as_ref()) {
            Some(t) if t.binding == s.binding => Ok(idx),
            _ => {
                self.sessions.remove(&h);
                Err(Error::SessionHandleInvalid(h))
            }
        }
    }

    /// Session `h` and the token it runs on.
    pub(super) fn parts(
        &mut self,
        h: CK_SESSION_HANDLE,
        idx: usize,
    ) -> Result<(&mut Session, &mut Token)> {
        let s = self
            .sessions
            .get_mut(&h)
            .ok_or(Error::SessionHandleInvalid(h))?;
        let t = self.slots[idx]
            .token
            .as_mut()
            .ok_or(Error::SessionHandleInvalid(h))?;
        Ok((s, t))
    }

    pub(super) fn session_mut(&mut self, h: CK_SESSION_HANDLE) -> Result<&mut Session> {
        self.sessions
            .get_mut(&h)
            .ok_or(Error::SessionHandleInvalid(h))
    }

    // ---- slots and tokens -----------------------------------------------------------------

    /// C_GetSlotList: every reader seen since C_Initialize (a reader unplugged keeps its slot,
    /// with no token: NSS assumes slots never go away), or those holding a card.
    pub fn slot_list(&mut self, token_present: bool) -> Vec<CK_SLOT_ID> {
        self.rescan();
        self.slots
            .iter()
            .filter(|s| !token_present || s.card_present)
            .map(|s| s.id)
            .collect()
    }

    /// C_GetSlotInfo.
    pub fn slot_info(&mut self, id: CK_SLOT_ID) -> Result<SlotInfo> {
        self.scan();
        let idx = self.slot_index(id)?;
        Ok(self.slots[idx].info())
    }

    /// C_GetTokenInfo: counters re-read from the card unless read less than
    /// `pin_status_ttl` ago (compat §5).
    pub fn token_info(&mut self, id: CK_SLOT_ID) -> Result<TokenInfo> {
        self.scan();
        let idx = self.slot_index(id)?;
        self.ensure_token(idx)?;
        let ttl = self.pin_status_ttl;
        let token = self.token_mut(idx)?;
        let mut status = None;
        if token.contents().user_pin.is_some() {
            match token.pin_status {
                Some((at, s)) if at.elapsed() < ttl => status = Some(s),
                _ => match self.card_op(idx, Replay::Safe, |t| t.card.pin_status()) {
                    Ok(s) => {
                        self.token_mut(idx)?.pin_status = Some((Instant::now(), s));
                        status = Some(s);
                    }
                    Err(err) if err.is_removal() => return Err(Error::TokenNotPresent),
                    Err(err) => log::warn!("slot {id}: reading PIN counters failed: {err}"),
                },
            }
        }
        let (n, rw) = self.session_counts(id);
        Ok(self.token_mut(idx)?.info(status, n, rw))
    }

    fn session_counts(&self, id: CK_SLOT_ID) -> (usize, usize) {
        let on_slot = self.sessions.values().filter(|s| s.slot == id);
        let n = on_slot.clone().count();
        (n, on_slot.filter(|s| s.rw).count())
    }

    /// C_GetMechanismList.
    pub fn mechanism_list(&mut self, id: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        self.scan();
        let idx = self.slot_index(id)?;
        self.ensure_token(idx)?;
        let g = self.token_mut(idx)?.contents().generation;
        Ok(mechanism::mechanisms(g).to_vec())
    }

    /// C_GetMechanismInfo.
    pub fn mechanism_info(
        &mut self,
        id: CK_SLOT_ID,
        ty: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO> {
        self.scan();
        let idx = self.slot_index(id)?;
        self.ensure_token(idx)?;
        let g = self.token_mut(idx)?.contents().generation;
        mechanism::info(g, ty)
    }

    /// For a blocking C_WaitForSlotEvent: something to wait on outside the module's lock
    /// (until the readers differ from the listing returned with it), woken by C_Finalize.
    /// Returns the watch's number for [`Module::end_watch`].
    pub fn slot_watch(&mut self) -> Result<(u64, Box<dyn ReaderWatch>)> {
        let (watch, wake) = self
            .readers
            .watch()
            .map_err(|e| Error::Card(CardError::Transport(e)))?;
        let id = self.next_waiter;
        self.next_waiter += 1;
        self.waiters.push((id, wake));
        Ok((id, watch))
    }

    /// The readers as the last scan listed them.
    pub fn listing(&self) -> &[ReaderInfo] {
        &self.listing
    }

    /// The wait `id` is over.
    pub fn end_watch(&mut self, id: u64) {
        self.waiters.retain(|(w, _)| *w != id);
    }

    /// Wakes every blocking C_WaitForSlotEvent (they answer CKR_CRYPTOKI_NOT_INITIALIZED).
    pub fn wake_waiters(&mut self) {
        for (_, w) in self.waiters.drain(..) {
            w.wake();
        }
    }

    /// C_WaitForSlotEvent with CKF_DONT_BLOCK: the first slot whose card changed since the
    /// last report, else CKR_NO_EVENT.
    pub fn poll_slot_event(&mut self) -> Result<CK_SLOT_ID> {
        self.rescan();
        for s in &mut self.slots {
            let now = s.event_state();
            if now != s.event_seen {
                s.event_seen = now;
                return Ok(s.id);
            }
        }
        Err(Error::NoEvent)
    }

    // ---- sessions -------------------------------------------------------------------------

    /// C_OpenSession.
    pub fn open_session(&mut self, id: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        self.scan();
        let idx = self.slot_index(id)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        self.ensure_token(idx)?;
        let rw = flags & CKF_RW_SESSION != 0;
        let token = self.token_mut(idx)?;
        if !rw && token.login == LoginState::So {
            return Err(Error::SessionReadWriteSoExists);
        }
        let binding = token.binding;
        let h = self.next_session;
        self.next_session += 1;
        self.sessions.insert(
            h,
            Session {
                handle: h,
                slot: id,
                binding,
                rw,
                op: None,
                last_digest: None,
            },
        );
        Ok(h)
    }

    /// C_CloseSession: closing the last session of a token logs it out.
    pub fn close_session(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        let idx = self.check_session(h)?;
        self.sessions.remove(&h);
        self.logout_if_unused(idx);
        Ok(())
    }

    /// C_CloseAllSessions.
    pub fn close_all_sessions(&mut self, id: CK_SLOT_ID) -> Result<()> {
        self.scan();
        let idx = self.slot_index(id)?;
        self.sessions.retain(|_, s| s.slot != id);
        self.logout_if_unused(idx);
        Ok(())
    }

    fn logout_if_unused(&mut self, idx: usize) {
        let id = self.slots[idx].id;
        if self.sessions.values().any(|s| s.slot == id) {
            return;
        }
        let logged_in = self.slots[idx]
            .token
            .as_ref()
            .is_some_and(|t| t.login != LoginState::Public);
        if logged_in {
            if let Err(e) = self.card_op(idx, Replay::Safe, |t| t.card.logout()) {
                log::debug!("logout after the last session: {e}");
            }
        }
        if let Some(t) = self.slots[idx].token.as_mut() {
            t.forget_login();
        }
    }

    /// C_GetSessionInfo.
    /// While logged in, the card is asked (an empty transaction, no APDU) whether it was
    /// reset or removed, so that the state reported is the card's.
    pub fn session_info(&mut self, h: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO> {
        let mut idx = self.check_session(h)?;
        if self.token_mut(idx)?.login != LoginState::Public {
            if let Err(e) = self.card_op(idx, Replay::Safe, |t| t.card.check_events()) {
                log::debug!("session {h}: {e}");
            }
            idx = self.check_session(h)?;
        }
        let (s, t) = self.parts(h, idx)?;
        let mut flags = CKF_SERIAL_SESSION;
        if s.rw {
            flags |= CKF_RW_SESSION;
        }
        Ok(CK_SESSION_INFO {
            slotID: s.slot,
            state: s.state(t.login),
            flags,
            ulDeviceError: 0,
        })
    }

    /// C_GenerateRandom: GET CHALLENGE on the card.
    pub fn random(&mut self, h: CK_SESSION_HANDLE, len: usize) -> Result<Vec<u8>> {
        let idx = self.check_session(h)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let out = self.card_op(idx, Replay::Safe, |t| t.card.random(len))?;
        if out.len() != len {
            return Err(Error::DeviceError("short random answer"));
        }
        Ok(out)
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        self.wake_waiters();
    }
}
