//! L2: the CPx card application: what is where on each generation and how to drive it.
//! Returns domain types (`types`), never CK_*.
//!
//! CONTRACT (the PKCS#11 layer builds on exactly this API).
//!
//! * `layout`  — AIDs, FIDs, references, ATR patterns, labels (data tables)
//! * `serial`  — EF.SN and the token serial number
//! * `pkcs15`  — lenient PKCS#15 parsing
//! * `files`   — SELECT / READ BINARY / UPDATE BINARY per dialect
//! * `bind`    — recognition and the one-time read of the token contents
//! * `cps3`    — IAS-ECC: PIN state, MSE forms, partial-hash PSO HASH, PSO CDS, INTERNAL
//!   AUTHENTICATE, PSO DECIPHER
//! * `cps4`    — ChipDoc on channel 1, PSS, raw RSA through PSO DECIPHER, `69 85` recovery
//! * `cps2ter` — the CLA `A0` volet (CPS3 situations, CPS_SIT_FACT)
//! * `session` — engine state between transactions
//!
//! Every public method is one card transaction. Errors are [`CardError`]s; inputs the card
//! layer refuses without touching the card use the variant a card would have answered
//! with, so the PKCS#11 layer maps both alike:
//! * a PIN/PUK whose length is outside the AODF bounds → `WrongLength` (no APDU sent);
//! * data too long for the key or operation → `WrongLength` (CKR_DATA_LEN_RANGE);
//! * a mechanism the key cannot do (PSS on CPS3, raw RSA on a signature key, decrypt with
//!   a signature key) → `ConditionsNotSatisfied` (CKR_KEY_TYPE_INCONSISTENT);
//! * an input of the wrong form (CKM_RSA_PKCS on a signature key with something that is
//!   neither a bare hash nor a SHA-1/SHA-256 DigestInfo, a cryptogram of the wrong size,
//!   bad padding) → `Status(IncorrectData)` (CKR_DATA_INVALID);
//! * an unknown CKA_ID or label → `Malformed`.
//!
//! [`CpxCard::check_sign`] and [`CpxCard::check_decrypt`] give the same verdicts without
//! any card I/O (for C_SignInit / C_Sign argument checks).

mod bind;
pub mod cache;
pub mod cps2ter;
pub mod cps3;
pub mod cps4;
pub mod files;
pub mod layout;
pub mod pkcs15;
pub mod serial;
mod session;
pub mod types;

#[cfg(all(test, feature = "sim"))]
mod tests;
#[cfg(all(test, feature = "sim"))]
mod tests_hostile;

pub use types::*;

use crate::apdu::{with_transaction, CardError, Channel, Command, Protocol, StatusWord};
use crate::soft;
use crate::transport::{PinPadOp, ReaderFeatures, ResetSeen, Transport, TransportError};
use cps3::{template, PinState};
use layout::{chipdoc_alg, MF};
use session::Session;

/// A bound card: the transport plus everything read at bind time.
pub struct CpxCard {
    transport: Box<dyn Transport>,
    contents: TokenContents,
    session: Session,
    /// What the reader can do (PIN pad), asked once at bind.
    features: ReaderFeatures,
}

/// What the card is asked to do for a signature (decided without card I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
enum SignPlan {
    /// CPS3 signature key: PSO HASH with the host's partial hash, then PSO CDS.
    Cps3PartialHash {
        alg: HashAlg,
        partial: cps3::PartialHash,
        key_ref: u8,
    },
    /// CPS3 signature key: PSO CDS with the hash.
    Cps3HashOnly {
        alg: HashAlg,
        hash: Vec<u8>,
        key_ref: u8,
    },
    /// CPS3 authentication / technical key: INTERNAL AUTHENTICATE, the card pads.
    Cps3InternalAuth { data: Vec<u8>, key_ref: u8 },
    /// CPS4: PSO CDS with the hash, the card encodes (PKCS#1 or PSS).
    Cps4Cds {
        alg_id: u8,
        hash: Vec<u8>,
        key_ref: u8,
    },
    /// CPS4 authentication key: raw RSA on a full block through PSO DECIPHER.
    Cps4Raw { block: Vec<u8>, key_ref: u8 },
}

/// Modulus length in bytes of a key.
fn key_len(key: &KeyInfo) -> usize {
    if key.modulus.is_empty() {
        key.bits.div_ceil(8)
    } else {
        soft::modulus_len(&key.modulus)
    }
}

fn incorrect_data() -> CardError {
    CardError::Status(StatusWord::IncorrectData)
}

/// Chooses the signing path (cryptolib-compat §7.2, cpx-cards §8.9–§8.11, §10.2).
fn plan_sign(
    generation: Generation,
    key: &KeyInfo,
    input: &SignInput,
) -> Result<SignPlan, CardError> {
    if !key.can_sign {
        return Err(CardError::ConditionsNotSatisfied);
    }
    let k = key_len(key);
    let key_ref = key.key_ref;
    // Software hash → DigestInfo, for keys that take CKM_RSA_PKCS over a DigestInfo.
    let digest_info = |alg: HashAlg, message: &[u8]| {
        soft::digest_info(alg, &soft::digest(alg, message)).map_err(|_| incorrect_data())
    };
    match (generation, key.role) {
        (Generation::Cps3 | Generation::Cps3Cl, KeyRole::Signature) => match input {
            SignInput::Pkcs1Message { alg, message } if !message.is_empty() => {
                Ok(SignPlan::Cps3PartialHash {
                    alg: *alg,
                    partial: cps3::partial_hash(*alg, message),
                    key_ref,
                })
            }
            // No client sends an empty PSO HASH: hash in software, sign the hash.
            SignInput::Pkcs1Message { alg, message } => Ok(SignPlan::Cps3HashOnly {
                alg: *alg,
                hash: soft::digest(*alg, message),
                key_ref,
            }),
            SignInput::Pkcs1 { data } => {
                let (alg, hash) = soft::hash_or_digest_info(data).ok_or_else(incorrect_data)?;
                Ok(SignPlan::Cps3HashOnly {
                    alg,
                    hash: hash.to_vec(),
                    key_ref,
                })
            }
            SignInput::Pss { .. } | SignInput::Raw { .. } => Err(CardError::ConditionsNotSatisfied),
        },
        (Generation::Cps3 | Generation::Cps3Cl, _) => {
            let data = match input {
                SignInput::Pkcs1 { data } => data.clone(),
                SignInput::Pkcs1Message { alg, message } => digest_info(*alg, message)?,
                SignInput::Pss { .. } | SignInput::Raw { .. } => {
                    return Err(CardError::ConditionsNotSatisfied)
                }
            };
            let max = k * layout::INTERNAL_AUTH_MAX_PERCENT / 100;
            if data.is_empty() || data.len() > max {
                return Err(CardError::WrongLength);
            }
            Ok(SignPlan::Cps3InternalAuth { data, key_ref })
        }
        (Generation::Cps4, role) => {
            let pkcs1_id = |alg| match alg {
                HashAlg::Sha1 => chipdoc_alg::PKCS1_SHA1,
                HashAlg::Sha256 => chipdoc_alg::PKCS1_SHA256,
            };
            match (role, input) {
                (_, SignInput::Pss { alg, hash }) => {
                    if hash.len() != alg.len() {
                        return Err(CardError::WrongLength);
                    }
                    let alg_id = match alg {
                        HashAlg::Sha1 => chipdoc_alg::PSS_SHA1,
                        HashAlg::Sha256 => chipdoc_alg::PSS_SHA256,
                    };
                    Ok(SignPlan::Cps4Cds {
                        alg_id,
                        hash: hash.clone(),
                        key_ref,
                    })
                }
                (KeyRole::Signature, SignInput::Pkcs1Message { alg, message }) => {
                    Ok(SignPlan::Cps4Cds {
                        alg_id: pkcs1_id(*alg),
                        hash: soft::digest(*alg, message),
                        key_ref,
                    })
                }
                (KeyRole::Signature, SignInput::Pkcs1 { data }) => {
                    let (alg, hash) = soft::hash_or_digest_info(data).ok_or_else(incorrect_data)?;
                    Ok(SignPlan::Cps4Cds {
                        alg_id: pkcs1_id(alg),
                        hash: hash.to_vec(),
                        key_ref,
                    })
                }
                (KeyRole::Signature, SignInput::Raw { .. }) => {
                    Err(CardError::ConditionsNotSatisfied)
                }
                (_, SignInput::Pkcs1 { data }) => {
                    let block =
                        soft::pkcs1_type1_pad(data, k).map_err(|_| CardError::WrongLength)?;
                    Ok(SignPlan::Cps4Raw { block, key_ref })
                }
                (_, SignInput::Pkcs1Message { alg, message }) => {
                    let block = soft::pkcs1_type1_pad(&digest_info(*alg, message)?, k)
                        .map_err(|_| CardError::WrongLength)?;
                    Ok(SignPlan::Cps4Raw { block, key_ref })
                }
                (_, SignInput::Raw { block }) => {
                    if block.len() > k {
                        return Err(CardError::WrongLength);
                    }
                    let mut full = vec![0u8; k - block.len()];
                    full.extend_from_slice(block);
                    Ok(SignPlan::Cps4Raw {
                        block: full,
                        key_ref,
                    })
                }
            }
        }
    }
}

/// Checks a decryption input (cpx-cards §8.12, §10.2).
fn check_decrypt_input(key: &KeyInfo, cryptogram: &[u8]) -> Result<(), CardError> {
    if !key.can_decrypt || key.role == KeyRole::Signature {
        return Err(CardError::ConditionsNotSatisfied);
    }
    if cryptogram.len() != key_len(key) {
        return Err(CardError::WrongLength);
    }
    Ok(())
}

/// A card answer of at most `k` bytes, left-padded to exactly `k`.
fn fixed_len(mut out: Vec<u8>, k: usize) -> Result<Vec<u8>, CardError> {
    if out.len() > k {
        return Err(CardError::Malformed("card answer longer than the modulus"));
    }
    if out.len() < k {
        let mut padded = vec![0u8; k - out.len()];
        padded.append(&mut out);
        return Ok(padded);
    }
    Ok(out)
}

impl CpxCard {
    /// Recognises the card (ATR mask + EF.SN issuer prefix; CPS4 confirmed on channel 1)
    /// and reads everything once: EF.SN, TokenInfo, AODF, PrKDF, CDF + certificates, DODF +
    /// public data-object values. Not a CPx card → `CardError::UnsupportedCard`.
    pub fn bind(transport: Box<dyn Transport>) -> Result<CpxCard, CardError> {
        CpxCard::bind_cached(transport, None)
    }

    /// [`CpxCard::bind`] through the persistent card cache (`cache.rs`).
    pub fn bind_cached(
        mut transport: Box<dyn Transport>,
        cache: Option<&cache::CardCache>,
    ) -> Result<CpxCard, CardError> {
        let atr = transport.atr().to_vec();
        let features = transport.features();
        let Some(pattern) = layout::match_atr(&atr) else {
            if is_legacy_cps2ter(transport.as_mut()) {
                return Err(CardError::LegacyCps2ter { atr });
            }
            return Err(CardError::UnsupportedCard { atr });
        };
        let protocol = transport.protocol();
        log::debug!("binding a {} ({protocol:?})", pattern.name);
        let generation = pattern.generation;
        let mut card = CpxCard {
            transport,
            contents: TokenContents {
                generation,
                atr: atr.clone(),
                pan: String::new(),
                serial: String::new(),
                label: String::new(),
                manufacturer: String::new(),
                model: layout::model(generation).to_string(),
                certs: Vec::new(),
                keys: Vec::new(),
                data_objects: Vec::new(),
                user_pin: None,
                so_pin: None,
            },
            session: Session::new(generation, protocol),
            features,
        };
        let contents = card.transaction(false, |ch, s| bind::read_contents(ch, s, &atr, cache))?;
        // A reset seen while binding is part of getting to know the card, not news.
        card.session.reset_pending = false;
        card.contents = contents;
        Ok(card)
    }

    pub fn contents(&self) -> &TokenContents {
        &self.contents
    }

    /// The reader's features (PIN pad or not), as reported at bind.
    pub fn reader_features(&self) -> ReaderFeatures {
        self.features
    }

    /// APDUs exchanged with the card since bind began (chained pieces and GET RESPONSEs
    /// count one each). For tests and benchmarks.
    pub fn apdu_count(&self) -> usize {
        self.session.apdus
    }

    /// The protocol commands are encoded for (the transport's).
    pub fn protocol(&self) -> Protocol {
        self.session.protocol
    }

    /// True once after the card was found reset by someone else (its PIN state is gone:
    /// the PKCS#11 layer marks the token logged out). Cleared by the call.
    pub fn take_reset(&mut self) -> bool {
        std::mem::take(&mut self.session.reset_pending)
    }

    /// One card transaction: CPS4 commands go to logical channel 1 and, if `chipdoc` is
    /// set, ChipDoc is (re)selected first when needed. Records resets, removal, APDUs.
    fn transaction<R>(
        &mut self,
        chipdoc: bool,
        f: impl FnOnce(&mut Channel<'_>, &mut Session) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        let protocol = self.session.protocol;
        let session = &mut self.session;
        let result = with_transaction(self.transport.as_mut(), protocol, |ch| {
            if ch.reset_seen() == ResetSeen::Yes {
                log::info!("card was reset by another application");
                session.on_reset();
            }
            let r = (|| {
                if session.generation == Generation::Cps4 {
                    ch.set_logical_channel(cps4::CHIPDOC_CHANNEL)?;
                    if chipdoc && !session.chipdoc_selected {
                        cps4::select_chipdoc(ch, session)?;
                    }
                }
                f(ch, session)
            })();
            session.apdus += ch.trace().apdus;
            r
        });
        match &result {
            Err(CardError::Transport(TransportError::Reset)) => self.session.on_reset(),
            Err(CardError::Transport(TransportError::Removed | TransportError::NoCard)) => {
                self.session.removed = true;
                self.session.forget_position();
            }
            // A card that answered an error did not move; a failed SELECT already made
            // the position unknown (files.rs). Only a broken exchange leaves it in doubt.
            Err(CardError::Transport(_)) => self.session.forget_position(),
            _ => {}
        }
        result
    }

    /// [`CpxCard::transaction`] with ChipDoc selected (all operations after bind).
    fn run<R>(
        &mut self,
        f: impl FnOnce(&mut Channel<'_>, &mut Session) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        self.transaction(true, f)
    }

    fn key(&self, key_id: &[u8]) -> Result<&KeyInfo, CardError> {
        self.contents
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or(CardError::Malformed("no key with this CKA_ID"))
    }

    /// The user PIN's record (`Malformed` on a token without one: the contactless token).
    fn user_pin(&self) -> Result<session::PinRecord, CardError> {
        self.session
            .user_pin
            .clone()
            .ok_or(CardError::Malformed("token has no user PIN"))
    }

    /// The PUK's record.
    fn so_pin(&self) -> Result<session::PinRecord, CardError> {
        self.session
            .so_pin
            .clone()
            .ok_or(CardError::Malformed("token has no PUK"))
    }

    /// Reads the user PIN counters from the card (VERIFY without data; on CPS3 the DOCP of
    /// the PIN and the PUK the first time, and the PUK's again while the PIN is blocked).
    /// `unblock_left` from the PIN's DOCP `9D`, else the PUK's. The contactless token has
    /// no PIN: `Malformed`.
    pub fn pin_status(&mut self) -> Result<PinStatus, CardError> {
        let pin = self.user_pin()?;
        let reference = pin.info.reference;
        let puk_ref = self.session.so_pin.as_ref().map(|p| p.info.reference);
        self.run(|ch, s| {
            if s.generation == Generation::Cps4 {
                let state = cps4::with_recovery(ch, s, |ch, _| cps4::verify_status(ch, reference))?;
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
    /// → `WrongLength` without touching the card.
    pub fn login(&mut self, pin: &[u8]) -> Result<(), CardError> {
        let rec = self.user_pin()?;
        self.verify_with(&rec, pin)
    }

    /// VERIFY the PUK (C_Login(CKU_SO)).
    pub fn login_so(&mut self, puk: &[u8]) -> Result<(), CardError> {
        let rec = self.so_pin()?;
        self.verify_with(&rec, puk)
    }

    fn verify_with(&mut self, rec: &session::PinRecord, pin: &[u8]) -> Result<(), CardError> {
        if !rec.length_ok(pin) {
            return Err(CardError::WrongLength);
        }
        let value = rec.encode(pin).ok_or(CardError::WrongLength)?;
        let reference = rec.info.reference;
        self.run(|ch, s| match s.generation {
            // ChipDoc: a VERIFY refused with 69 85 was not evaluated; the recovery sends it
            // once more after re-selecting the applet (cpx-cards §10.7).
            Generation::Cps4 => {
                cps4::with_recovery(ch, s, |ch, _| cps4::verify(ch, reference, &value))
            }
            _ => cps3::verify(ch, reference, &value),
        })
    }

    /// VERIFY of the user PIN typed on the reader's PIN pad (C_Login with a NULL PIN).
    /// Same errors as `login`, plus `PinEntryCancelled` / `PinEntryInvalid`.
    pub fn login_pin_pad(&mut self) -> Result<(), CardError> {
        let rec = self.user_pin()?;
        self.verify_on_pad(&rec)
    }

    /// VERIFY of the PUK typed on the PIN pad (C_Login(CKU_SO) with a NULL PIN).
    pub fn login_so_pin_pad(&mut self) -> Result<(), CardError> {
        let rec = self.so_pin()?;
        self.verify_on_pad(&rec)
    }

    fn verify_on_pad(&mut self, rec: &session::PinRecord) -> Result<(), CardError> {
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
    pub fn change_pin_pin_pad(&mut self) -> Result<(), CardError> {
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
    pub fn unblock_pin_pin_pad(&mut self) -> Result<(), CardError> {
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
    pub fn logout(&mut self) -> Result<(), CardError> {
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
    /// outside the AODF bounds → `WrongLength` without touching the card.
    pub fn change_pin(&mut self, old: &[u8], new: &[u8]) -> Result<(), CardError> {
        let rec = self.user_pin()?;
        if !rec.length_ok(old) || !rec.length_ok(new) {
            return Err(CardError::WrongLength);
        }
        let old_v = rec.encode(old).ok_or(CardError::WrongLength)?;
        let new_v = rec.encode(new).ok_or(CardError::WrongLength)?;
        let reference = rec.info.reference;
        self.run(|ch, s| match s.generation {
            Generation::Cps4 => cps4::with_recovery(ch, s, |ch, _| {
                cps4::verify(ch, reference, &old_v)?;
                cps4::change_new_only(ch, reference, &new_v)
            }),
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
    pub fn unblock_pin(&mut self, new: &[u8]) -> Result<(), CardError> {
        let rec = self.user_pin()?;
        if !rec.length_ok(new) {
            return Err(CardError::WrongLength);
        }
        let new_v = rec.encode(new).ok_or(CardError::WrongLength)?;
        let reference = rec.info.reference;
        let result = self.run(|ch, s| match s.generation {
            Generation::Cps4 => cps4::with_recovery(ch, s, |ch, _| {
                cps4::reset_counter(ch, reference)?;
                cps4::change_new_only(ch, reference, &new_v)
            }),
            _ => cps3::reset_retry_counter(ch, reference, &new_v),
        });
        // The unblock counters changed (or may have): read them again next time.
        self.session.pins = session::PinCache::default();
        result
    }

    /// Whether `sign(key_id, input)` would be refused without touching the card, and why
    /// (same errors as `sign`).
    pub fn check_sign(&self, key_id: &[u8], input: &SignInput) -> Result<(), CardError> {
        let key = self.key(key_id)?;
        plan_sign(self.session.generation, key, input).map(|_| ())
    }

    /// Whether `decrypt(key_id, cryptogram)` would be refused without touching the card.
    pub fn check_decrypt(&self, key_id: &[u8], cryptogram: &[u8]) -> Result<(), CardError> {
        check_decrypt_input(self.key(key_id)?, cryptogram)
    }

    /// Signs with the key whose CKA_ID is `key_id`; returns modulus-length bytes.
    pub fn sign(&mut self, key_id: &[u8], input: &SignInput) -> Result<Vec<u8>, CardError> {
        let key = self.key(key_id)?.clone();
        let plan = plan_sign(self.session.generation, &key, input)?;
        let k = key_len(&key);
        let sig = self.run(|ch, s| execute_sign(ch, s, &plan, k))?;
        fixed_len(sig, k)
    }

    /// PKCS#1 v1.5 decryption with the authentication key; returns the plaintext.
    pub fn decrypt(&mut self, key_id: &[u8], cryptogram: &[u8]) -> Result<Vec<u8>, CardError> {
        let key = self.key(key_id)?.clone();
        check_decrypt_input(&key, cryptogram)?;
        let k = key_len(&key);
        self.run(|ch, s| match s.generation {
            Generation::Cps4 => {
                let block = cps4::with_recovery(ch, s, |ch, _| {
                    cps4::mse_decipher(ch, key.key_ref)?;
                    cps4::raw_rsa(ch, cryptogram, k)
                })?;
                let block = zeroize::Zeroizing::new(fixed_len(block, k)?);
                let plain = soft::pkcs1_type2_unpad(&block).map_err(|_| incorrect_data())?;
                Ok(plain.to_vec())
            }
            _ => {
                let alg = s.alg.decipher;
                cps3::mse_key(ch, s, template::CT, alg, key.key_ref)?;
                cps3::pso_decipher(ch, cryptogram)
            }
        })
    }

    /// Where the data object labelled `label` stands in the contents.
    fn data_object_index(&self, label: &str) -> Result<usize, CardError> {
        self.contents
            .data_objects
            .iter()
            .position(|d| d.label == label)
            .ok_or(CardError::Malformed("no data object with this label"))
    }

    /// Where the data object labelled `label` lives on the card.
    fn data_object_source(&self, label: &str) -> Result<session::ObjectSource, CardError> {
        self.session
            .object(label)
            .cloned()
            .ok_or(CardError::Malformed("no data object with this label"))
    }

    /// Reads a data object's value from the card (private ones need the PIN verified) and
    /// keeps it in the contents. A value already in the contents is returned without I/O.
    pub fn read_data_object(&mut self, label: &str) -> Result<Vec<u8>, CardError> {
        let index = self.data_object_index(label)?;
        if let Some(v) = &self.contents.data_objects[index].value {
            return Ok(v.clone());
        }
        let source = self.data_object_source(label)?;
        let value = self.run(|ch, s| {
            if source.volet {
                cps2ter::read_file(ch, &source.path)
            } else {
                let (v, size) = files::read_file(ch, s, &source.path)?;
                if let Some(o) = s.objects.iter_mut().find(|o| o.label == source.label) {
                    o.size = size;
                }
                Ok(v)
            }
        })?;
        self.contents.data_objects[index].value = Some(value.clone());
        Ok(value)
    }

    /// Writes a modifiable data object (CPS_DATA): zero-padded to the file size. A value
    /// longer than the file → `WrongLength`; a non-modifiable object →
    /// `ConditionsNotSatisfied`.
    pub fn write_data_object(&mut self, label: &str, value: &[u8]) -> Result<(), CardError> {
        let index = self.data_object_index(label)?;
        if !self.contents.data_objects[index].modifiable {
            return Err(CardError::ConditionsNotSatisfied);
        }
        let source = self.data_object_source(label)?;
        if source.volet {
            return Err(CardError::ConditionsNotSatisfied);
        }
        let written = self.run(|ch, s| {
            let size = match source.size {
                Some(n) => n,
                None => files::select(ch, s, &source.path)?
                    .size
                    .ok_or(CardError::Malformed("data object file without a size"))?,
            };
            if value.len() > size {
                return Err(CardError::WrongLength);
            }
            // The size comes from the card's FCP (up to 4 GiB): never pad beyond a file.
            if size > files::MAX_FILE {
                return Err(CardError::Malformed("data object file larger than 32 KiB"));
            }
            let mut padded = value.to_vec();
            padded.resize(size, 0);
            files::update_file(ch, s, &source.path, &padded)?;
            if let Some(o) = s.objects.iter_mut().find(|o| o.label == source.label) {
                o.size = Some(size);
            }
            Ok(padded)
        })?;
        self.contents.data_objects[index].value = Some(written);
        Ok(())
    }

    /// GET CHALLENGE, 8 bytes at a time.
    pub fn random(&mut self, len: usize) -> Result<Vec<u8>, CardError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        self.run(|ch, _| {
            let mut out = Vec::with_capacity(len + 8);
            while out.len() < len {
                let chunk = ch.transmit_ok(&Command::new(0x00, 0x84, 0x00, 0x00).with_le(8))?;
                if chunk.is_empty() {
                    return Err(CardError::Malformed("GET CHALLENGE returned nothing"));
                }
                out.extend_from_slice(&chunk);
            }
            out.truncate(len);
            Ok(out)
        })
    }

    /// Whether the card is still there (and is the same card); false after removal. After
    /// a reset the card's EF.SN is compared with the bound PAN (a few APDUs); otherwise
    /// this only opens and closes a transaction.
    pub fn is_present(&mut self) -> bool {
        if self.session.removed {
            return false;
        }
        let pan = self.contents.pan.clone();
        let atr = self.contents.atr.clone();
        // A reset answered instead of the first APDU (the card was powered again): one
        // more try, now on a powered card.
        for _ in 0..2 {
            let result = self.run(|ch, s| {
                if !s.check_identity {
                    return Ok(true);
                }
                let (sn, _) = files::read_file(ch, s, &[MF, layout::FID_EF_SN])?;
                let same = serial::parse_ef_sn(&sn, &atr).is_ok_and(|sn| sn.pan == pan);
                s.check_identity = !same;
                Ok(same)
            });
            match result {
                Ok(same) => {
                    if !same {
                        log::info!("another card is in the reader");
                        self.session.removed = true;
                    }
                    return same;
                }
                Err(CardError::Transport(TransportError::Reset)) => continue,
                Err(CardError::Transport(_)) => {
                    self.session.removed = true;
                    return false;
                }
                // The card answers, but not as expected: still there.
                Err(_) => return true,
            }
        }
        true
    }
}

/// Whether a card whose ATR is not a CPx one is a legacy CPS2ter card: it answers a CLA `A0`
/// SELECT of the MF with `9F xx` and a CPS2ter FCI (`85 …`, cpx-cards §11). Only asked of
/// cards the ATR did not recognise (a CPS3 is never identified by this probe, compat §15 #5).
fn is_legacy_cps2ter(transport: &mut dyn Transport) -> bool {
    let protocol = transport.protocol();
    let select_mf = Command::new(0xA0, 0xA4, 0x00, 0x00).with_data(&[0x3F, 0x00]);
    with_transaction(transport, protocol, |ch| ch.transmit_as_is(&select_mf))
        .is_ok_and(|r| r.sw == StatusWord::Ok && r.data.first() == Some(&0x85))
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

/// Runs a signing plan on the card.
fn execute_sign(
    ch: &mut Channel<'_>,
    s: &mut Session,
    plan: &SignPlan,
    k: usize,
) -> Result<Vec<u8>, CardError> {
    let hash_refs = |alg: HashAlg, s: &Session| match alg {
        HashAlg::Sha1 => (s.alg.hash_sha1, s.alg.sign_sha1),
        HashAlg::Sha256 => (s.alg.hash_sha256, s.alg.sign_sha256),
    };
    match plan {
        SignPlan::Cps3PartialHash {
            alg,
            partial,
            key_ref,
        } => {
            let (ht, dst) = hash_refs(*alg, s);
            // The key DF first: a SELECT between PSO HASH and PSO CDS could drop the hash.
            let df = s.app_df.clone();
            files::ensure_df(ch, s, &df)?;
            cps3::mse_set(ch, template::HT, ht, None)?;
            cps3::pso_hash(ch, partial)?;
            cps3::mse_key(ch, s, template::DST, dst, *key_ref)?;
            cps3::pso_cds(ch, None, k)
        }
        SignPlan::Cps3HashOnly { alg, hash, key_ref } => {
            let (_, dst) = hash_refs(*alg, s);
            cps3::mse_key(ch, s, template::DST, dst, *key_ref)?;
            cps3::pso_cds(ch, Some(hash), k)
        }
        SignPlan::Cps3InternalAuth { data, key_ref } => {
            let alg = s.alg.sign_raw;
            cps3::mse_key(ch, s, template::AT, alg, *key_ref)?;
            cps3::internal_authenticate(ch, data, k)
        }
        SignPlan::Cps4Cds {
            alg_id,
            hash,
            key_ref,
        } => cps4::with_recovery(ch, s, |ch, _| {
            cps4::mse_signature(ch, *alg_id, *key_ref)?;
            cps4::pso_cds(ch, hash, k)
        }),
        SignPlan::Cps4Raw { block, key_ref } => cps4::with_recovery(ch, s, |ch, _| {
            cps4::mse_decipher(ch, *key_ref)?;
            cps4::raw_rsa(ch, block, k)
        }),
    }
}
