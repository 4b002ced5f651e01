//! PIN and PUK: counters, VERIFY, change, unblock, PIN-pad entry, logout (cpx-cards §8.5–§8.8,
//! §10.4–§10.7).

use super::*;

impl CpxCard {
    /// Reads the user PIN counters from the card (VERIFY without data; on CPS3 the DOCP of
    /// the PIN and the PUK the first time, and the PUK's again while the PIN is blocked).
    /// `unblock_left` from the PIN's DOCP `9D`, else the PUK's. The contactless token has
    /// no PIN: `Missing(UserPin)`.
    pub fn pin_status(&mut self) -> Result<PinStatus, CpxError> {
        let pin_ref = self.user_pin()?.info.reference;
        let puk_ref = self.session.so_pin.as_ref().map(|p| p.info.reference);
        let d = self.dialect();
        self.run(|ch, s| d.pin_status(ch, s, pin_ref, puk_ref))
    }

    /// VERIFY the user PIN (padded as the AODF says). Wrong → `PinIncorrect { tries_left }`,
    /// blocked → `PinBlocked`. Never retries on its own. A length outside the AODF bounds
    /// → `Refused(PinLength)` without touching the card.
    pub fn login(&mut self, pin: &[u8]) -> Result<(), CpxError> {
        let rec = self.user_pin()?;
        self.verify_with(&rec, pin)
    }

    /// VERIFY with the PIN kept from an earlier C_Login (the PIN cache's silent
    /// re-verification): first the card must prove it is still the bound one (EF.SN, in the
    /// same transaction), so a PIN typed for one card never reaches another, however the
    /// other card got into the reader.
    pub fn replay_login(&mut self, pin: &[u8]) -> Result<(), CpxError> {
        self.session.check_identity = true;
        self.login(pin)
    }

    /// VERIFY the PUK (C_Login(CKU_SO)).
    pub fn login_so(&mut self, puk: &[u8]) -> Result<(), CpxError> {
        let rec = self.so_pin()?;
        self.verify_with(&rec, puk)
    }

    fn verify_with(&mut self, rec: &session::PinRecord, pin: &[u8]) -> Result<(), CpxError> {
        if !rec.length_ok(pin) {
            return Err(Refusal::PinLength.into());
        }
        let value = rec.encode(pin).ok_or(Refusal::PinLength)?;
        let reference = rec.info.reference;
        // ChipDoc: a VERIFY refused with 69 85 was not evaluated; the recovery sends it once
        // more after re-selecting the applet (cpx-cards §10.7).
        let d = self.dialect();
        self.run(|ch, _| d.verify_answer(iso::verify(ch, reference, &value)))
    }

    /// VERIFY of the user PIN typed on the reader's PIN pad (C_Login with a NULL PIN).
    /// Same errors as `login`, plus `PinEntryCancelled` / `PinEntryInvalid`.
    pub fn login_pin_pad(&mut self) -> Result<(), CpxError> {
        let rec = self.user_pin()?;
        self.verify_on_pad(&rec)
    }

    /// VERIFY of the PUK typed on the PIN pad (C_Login(CKU_SO) with a NULL PIN).
    pub fn login_so_pin_pad(&mut self) -> Result<(), CpxError> {
        let rec = self.so_pin()?;
        self.verify_on_pad(&rec)
    }

    fn verify_on_pad(&mut self, rec: &session::PinRecord) -> Result<(), CpxError> {
        let (block, min, max) = pad_block(rec);
        let reference = rec.info.reference;
        let cmd = Command::new(0x00, 0x20, 0x00, reference).with_data(&block);
        let op = PinPadOp::Verify { offset: 0 };
        let d = self.dialect();
        self.run(|ch, _| {
            d.verify_answer(ch.pin_pad(&cmd, op, min, max, block_len(&block))?.check())
        })
    }

    /// PIN change with both PINs typed on the PIN pad (C_SetPIN with NULL PINs). CPS3:
    /// CHANGE REFERENCE DATA old ‖ new in one command; CPS4: VERIFY, then the new PIN.
    pub fn change_pin_pin_pad(&mut self) -> Result<(), CpxError> {
        let rec = self.user_pin()?;
        let (block, min, max) = pad_block(&rec);
        let n = block_len(&block);
        let (verify_first, entry) = self.dialect().change_on_pad(rec.info.reference, &block);
        if verify_first {
            self.verify_on_pad(&rec)?;
        }
        self.run(|ch, _| ch.pin_pad(&entry.cmd, entry.op, min, max, n)?.check())
    }

    /// Unblock after `login_so` / `login_so_pin_pad`, the new PIN typed on the PIN pad
    /// (C_InitPIN with a NULL PIN).
    pub fn unblock_pin_pin_pad(&mut self) -> Result<(), CpxError> {
        let rec = self.user_pin()?;
        let (block, min, max) = pad_block(&rec);
        let n = block_len(&block);
        let reference = rec.info.reference;
        let d = self.dialect();
        let result = self.run(|ch, _| {
            let entry = d.unblock_on_pad(ch, reference, &block)?;
            ch.pin_pad(&entry.cmd, entry.op, min, max, n)?.check()
        });
        self.session.pins = session::PinCache::default();
        result
    }

    /// Resets the card's security status (re-select the MF AID / ChipDoc) and forgets the
    /// values of private data objects. If the card still reports the PIN verified, a
    /// warning is logged (only a card reset would clear it; the transport cannot reset).
    pub fn logout(&mut self) -> Result<(), CpxError> {
        for d in &mut self.contents.data_objects {
            if d.private {
                d.value = None;
            }
        }
        let Some(pin_ref) = self.session.user_pin.as_ref().map(|p| p.info.reference) else {
            return Ok(());
        };
        let d = self.dialect();
        self.run(|ch, s| {
            if d.logout(ch, s, pin_ref)? == PinState::Verified {
                log::warn!("the card still reports the PIN verified after logout");
            }
            Ok(())
        })
    }

    /// CHANGE REFERENCE DATA (CPS3: old ‖ new; CPS4: VERIFY old then new only). Lengths
    /// outside the AODF bounds → `Refused(PinLength)` without touching the card.
    pub fn change_pin(&mut self, old: &[u8], new: &[u8]) -> Result<(), CpxError> {
        let rec = self.user_pin()?;
        if !rec.length_ok(old) || !rec.length_ok(new) {
            return Err(Refusal::PinLength.into());
        }
        let old_v = rec.encode(old).ok_or(Refusal::PinLength)?;
        let new_v = rec.encode(new).ok_or(Refusal::PinLength)?;
        let reference = rec.info.reference;
        let d = self.dialect();
        self.run(|ch, _| d.change_pin(ch, reference, &old_v, &new_v))
    }

    /// Unblock after `login_so`: CPS3 RESET RETRY COUNTER with the new PIN; CPS4 RESET
    /// RETRY COUNTER without data, then CHANGE REFERENCE DATA (new only).
    pub fn unblock_pin(&mut self, new: &[u8]) -> Result<(), CpxError> {
        let rec = self.user_pin()?;
        if !rec.length_ok(new) {
            return Err(Refusal::PinLength.into());
        }
        let new_v = rec.encode(new).ok_or(Refusal::PinLength)?;
        let reference = rec.info.reference;
        let d = self.dialect();
        let result = self.run(|ch, _| d.unblock_pin(ch, reference, &new_v));
        // The unblock counters changed (or may have): read them again next time.
        self.session.pins = session::PinCache::default();
        result
    }
}

/// The PIN block a PIN pad fills in: the stored length (at least the maximum PIN length) of
/// pad bytes; and the PIN length bounds.
fn pad_block(rec: &session::PinRecord) -> (Vec<u8>, u8, u8) {
    let len = rec.info.stored_len.max(rec.info.max_len).min(64);
    let pad = rec.info.pad_char.unwrap_or(layout::DEFAULT_PAD);
    let min = u8::try_from(rec.info.min_len).unwrap_or(u8::MAX);
    let max = u8::try_from(rec.info.max_len.min(len)).unwrap_or(u8::MAX);
    (vec![pad; len], min, max)
}

fn block_len(block: &[u8]) -> u8 {
    u8::try_from(block.len()).unwrap_or(u8::MAX)
}

/// The counters as PKCS#11 shows them, from the PIN state and what the dialect read.
pub(super) fn status_from(state: PinState, max: u8, unblock_left: Option<u16>) -> PinStatus {
    let (tries_left, verified) = match state {
        PinState::Verified => (max, true),
        PinState::TriesLeft(n) => (n, false),
        PinState::Blocked => (0, false),
    };
    PinStatus {
        tries_left,
        max_tries: max,
        unblock_left,
        verified,
    }
}
