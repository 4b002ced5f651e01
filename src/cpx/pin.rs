//! PIN and PUK: counters, VERIFY, change, unblock, PIN-pad entry, logout (cpx-cards §8.5–§8.8,
//! §10.4–§10.7).

use super::*;

impl CpxCard {
    /// Reads the user PIN counters from the card (VERIFY without data; on CPS3 the DOCP of
    /// the PIN and the PUK the first time, and the PUK's again while the PIN is blocked).
    /// `unblock_left` from the PIN's DOCP `9D`, else the PUK's. The contactless token has
    /// no PIN: `Missing(UserPin)`.
    pub fn pin_status(&mut self) -> Result<PinStatus, CpxError> {
        let pin = self.user_pin()?;
        let reference = pin.info.reference;
        let puk_ref = self.session.so_pin.as_ref().map(|p| p.info.reference);
        self.run(|ch, s| {
            if s.generation == Generation::Cps4 {
                let state = cps4::verify_status(ch, reference)?;
                return Ok(status_from(state, layout::CPS4_MAX_TRIES, None));
            }
            let state = cps3::verify_status(ch, reference)?;
            if s.pins.max_tries.is_none() {
                match cps3::read_chv_docp(ch, s, reference) {
                    Ok(d) => {
                        s.pins.max_tries = Some(d.max_tries.unwrap_or(3));
                        s.pins.pin_usage_left = d.usage_left;
                    }
                    Err(e @ CardError::Transport(_)) => return Err(e),
                    Err(e) => {
                        log::debug!("PIN DOCP not readable ({e}); assuming 3 tries");
                        s.pins.max_tries = Some(3);
                    }
                }
            }
            let puk_needed = s.pins.pin_usage_left.is_none()
                && (s.pins.puk_usage_left.is_none() || state == PinState::Blocked);
            if let (true, Some(r)) = (puk_needed, puk_ref) {
                let left = match cps3::read_chv_docp(ch, s, r) {
                    Ok(d) => d.usage_left,
                    Err(e @ CardError::Transport(_)) => return Err(e),
                    Err(e) => {
                        log::debug!("PUK DOCP not readable ({e})");
                        None
                    }
                };
                s.pins.puk_usage_left = Some(left);
            }
            let max = s.pins.max_tries.unwrap_or(3);
            let unblock_left = s.pins.pin_usage_left.or(s.pins.puk_usage_left.flatten());
            let mut status = status_from(state, max, unblock_left);
            if s.pins.pin_usage_left == Some(0) {
                // Cryptolib fix 1175: a PIN that can no longer be unblocked reports 0.
                status.tries_left = 0;
            }
            Ok(status)
        })
    }

    /// VERIFY the user PIN (padded as the AODF says). Wrong → `PinIncorrect { tries_left }`,
    /// blocked → `PinBlocked`. Never retries on its own. A length outside the AODF bounds
    /// → `Refused(PinLength)` without touching the card.
    pub fn login(&mut self, pin: &[u8]) -> Result<(), CpxError> {
        let rec = self.user_pin()?;
        self.verify_with(&rec, pin)
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
        self.run(|ch, s| match s.generation {
            // ChipDoc: a VERIFY refused with 69 85 was not evaluated; the recovery sends it
            // once more after re-selecting the applet (cpx-cards §10.7).
            Generation::Cps4 => cps4::verify(ch, reference, &value),
            _ => cps3::verify(ch, reference, &value),
        })
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
        self.run(|ch, s| {
            let r = ch
                .pin_pad(
                    &cmd,
                    PinPadOp::Verify { offset: 0 },
                    min,
                    max,
                    block_len(&block),
                )?
                .check();
            match (s.generation, r) {
                (Generation::Cps4, Err(CardError::PinIncorrect { tries_left: 0 })) => {
                    Err(CardError::PinBlocked)
                }
                (_, r) => r,
            }
        })
    }

    /// PIN change with both PINs typed on the PIN pad (C_SetPIN with NULL PINs). CPS3:
    /// CHANGE REFERENCE DATA old ‖ new in one command; CPS4: VERIFY, then the new PIN.
    pub fn change_pin_pin_pad(&mut self) -> Result<(), CpxError> {
        let rec = self.user_pin()?;
        let (block, min, max) = pad_block(&rec);
        let n = block_len(&block);
        let reference = rec.info.reference;
        if self.session.generation == Generation::Cps4 {
            self.verify_on_pad(&rec)?;
            let cmd = Command::new(0x00, 0x24, 0x01, reference).with_data(&block);
            let op = PinPadOp::Modify {
                old_offset: None,
                new_offset: 0,
            };
            return self.run(|ch, _| ch.pin_pad(&cmd, op, min, max, n)?.check());
        }
        let mut both = block.clone();
        both.extend_from_slice(&block);
        let cmd = Command::new(0x00, 0x24, 0x00, reference).with_data(&both);
        let op = PinPadOp::Modify {
            old_offset: Some(0),
            new_offset: n,
        };
        self.run(|ch, _| ch.pin_pad(&cmd, op, min, max, n)?.check())
    }

    /// Unblock after `login_so` / `login_so_pin_pad`, the new PIN typed on the PIN pad
    /// (C_InitPIN with a NULL PIN).
    pub fn unblock_pin_pin_pad(&mut self) -> Result<(), CpxError> {
        let rec = self.user_pin()?;
        let (block, min, max) = pad_block(&rec);
        let n = block_len(&block);
        let reference = rec.info.reference;
        let op = PinPadOp::Modify {
            old_offset: None,
            new_offset: 0,
        };
        let result = self.run(|ch, s| match s.generation {
            Generation::Cps4 => {
                cps4::reset_counter(ch, reference)?;
                let cmd = Command::new(0x00, 0x24, 0x01, reference).with_data(&block);
                ch.pin_pad(&cmd, op, min, max, n)?.check()
            }
            _ => {
                let cmd = Command::new(0x00, 0x2C, 0x02, reference).with_data(&block);
                ch.pin_pad(&cmd, op, min, max, n)?.check()
            }
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
        self.run(|ch, s| {
            let select = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(&layout::MF_AID);
            ch.transmit_ok(&select)?;
            let state = match s.generation {
                Generation::Cps4 => cps4::verify_status(ch, pin_ref)?,
                _ => {
                    s.current_df = Some(vec![MF]);
                    cps3::verify_status(ch, pin_ref)?
                }
            };
            if state == PinState::Verified {
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
        self.run(|ch, s| match s.generation {
            Generation::Cps4 => {
                cps4::verify(ch, reference, &old_v)?;
                cps4::change_new_only(ch, reference, &new_v)
            }
            _ => {
                let mut both = Secret::new(Vec::with_capacity(old_v.len() + new_v.len()));
                both.extend_from_slice(&old_v);
                both.extend_from_slice(&new_v);
                cps3::change_reference_data(ch, reference, &both)
            }
        })
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
        let result = self.run(|ch, s| match s.generation {
            Generation::Cps4 => {
                cps4::reset_counter(ch, reference)?;
                cps4::change_new_only(ch, reference, &new_v)
            }
            _ => cps3::reset_retry_counter(ch, reference, &new_v),
        });
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

fn status_from(state: PinState, max: u8, unblock_left: Option<u16>) -> PinStatus {
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
