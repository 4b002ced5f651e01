//! CPS3 and its contactless side: IAS-ECC on the basic channel (cpx-cards.md §6–§8).

use super::*;
use crate::cpx::bind::fatal;
use crate::cpx::cps3::{self, template};
use crate::cpx::files::{self, Content};
use crate::cpx::iso;
use crate::cpx::layout::{self, MF};
use crate::cpx::pin::status_from;
use crate::cpx::session::PinCache;
use crate::cpx::sign::{digest_info_of, hash_input};
use crate::cpx::HashAlg;

pub(super) struct Ias;

impl Dialect for Ias {
    fn confirm(&self, _: &mut Channel<'_>, _: &mut Session) -> Result<(), CardError> {
        Ok(())
    }

    /// READ BINARY by SFI (what OpenSC sends, cpx-cards §8.3), falling back to SELECT + READ.
    fn read_serial(&self, ch: &mut Channel<'_>, s: &mut Session) -> Result<Vec<u8>, CardError> {
        match files::read_sfi(ch, s, layout::SFI_EF_SN, layout::EF_SN_LEN) {
            Ok(v) if !v.is_empty() => Ok(v),
            Err(e) if fatal(&e) => Err(e),
            _ => files::read_file(ch, s, &[MF, layout::FID_EF_SN]).map(|(v, _)| v),
        }
    }

    /// EF_ACTUA (card-update dates, cpx-cards §4.6): SELECT without FCP, then the expected
    /// length in one READ BINARY, or (cold) a read until its `EC` template is in.
    fn update_marker(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        expected_len: Option<usize>,
    ) -> Result<Option<Vec<u8>>, CardError> {
        let path = [MF, layout::FID_EF_ACTUA];
        let r = match expected_len {
            Some(n) if n > 0 => {
                files::select_ef_no_fcp(ch, s, &path).and_then(|_| files::read_current(ch, Some(n)))
            }
            _ => files::read_file_lean(ch, s, &path, Content::Tlv),
        };
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if fatal(&e) => Err(e),
            Err(e) => {
                log::debug!("EF_ACTUA not readable: {e}");
                Ok(None)
            }
        }
    }

    /// The PIN's maximum tries and the PUK's unblock uses (DOCP), when the PIN has no usage
    /// counter of its own.
    fn pin_facts(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
    ) -> Result<Option<PinFacts>, CardError> {
        let (Some(pin), Some(puk)) = (s.user_pin.clone(), s.so_pin.clone()) else {
            return Ok(None);
        };
        let docp =
            |ch: &mut Channel<'_>, s: &mut Session, r: u8| match cps3::read_chv_docp(ch, s, r) {
                Ok(d) => Ok(Some(d)),
                Err(e) if fatal(&e) => Err(e),
                Err(e) => {
                    log::debug!("DOCP of CHV {r} not readable: {e}");
                    Ok(None)
                }
            };
        let Some(p) = docp(ch, s, pin.info.reference)? else {
            return Ok(None);
        };
        let (Some(max_tries), None) = (p.max_tries, p.usage_left) else {
            return Ok(None);
        };
        let puk_usage_left = docp(ch, s, puk.info.reference)?.and_then(|d| d.usage_left);
        s.pins = PinCache {
            max_tries: Some(max_tries),
            pin_usage_left: None,
            puk_usage_left: Some(puk_usage_left),
        };
        Ok(Some(PinFacts {
            max_tries,
            puk_usage_left,
        }))
    }

    fn enter(&self, _: &mut Channel<'_>, _: &mut Session, _: bool) -> Result<(), CardError> {
        Ok(())
    }

    fn recover(
        &self,
        _: &mut Channel<'_>,
        _: &mut Session,
        _: &CardError,
    ) -> Result<bool, CardError> {
        Ok(false)
    }

    /// VERIFY without data; the DOCP of the PIN (maximum tries, unblock uses) the first time,
    /// and the PUK's while the PIN has no usage counter of its own or is blocked.
    fn pin_status(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        pin_ref: u8,
        puk_ref: Option<u8>,
    ) -> Result<PinStatus, CardError> {
        let state = iso::verify_status(ch, pin_ref)?;
        if s.pins.max_tries.is_none() {
            match cps3::read_chv_docp(ch, s, pin_ref) {
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
    }

    fn verify_answer(&self, r: Result<(), CardError>) -> Result<(), CardError> {
        r
    }

    /// CHANGE REFERENCE DATA with old ‖ new in one command.
    fn change_pin(
        &self,
        ch: &mut Channel<'_>,
        reference: u8,
        old: &[u8],
        new: &[u8],
    ) -> Result<(), CardError> {
        let mut both = zeroize::Zeroizing::new(Vec::with_capacity(old.len() + new.len()));
        both.extend_from_slice(old);
        both.extend_from_slice(new);
        iso::change_reference_data(ch, 0x00, reference, &both)
    }

    fn change_on_pad(&self, reference: u8, block: &[u8]) -> (bool, PadEntry) {
        let mut both = block.to_vec();
        both.extend_from_slice(block);
        let entry = PadEntry {
            cmd: Command::new(0x00, 0x24, 0x00, reference).with_data(&both),
            op: PinPadOp::Modify {
                old_offset: Some(0),
                new_offset: u8::try_from(block.len()).unwrap_or(u8::MAX),
            },
        };
        (false, entry)
    }

    /// RESET RETRY COUNTER with the new PIN (P1 `02`).
    fn unblock_pin(
        &self,
        ch: &mut Channel<'_>,
        reference: u8,
        new: &[u8],
    ) -> Result<(), CardError> {
        iso::reset_retry_counter(ch, 0x02, reference, Some(new))
    }

    fn unblock_on_pad(
        &self,
        _: &mut Channel<'_>,
        reference: u8,
        block: &[u8],
    ) -> Result<PadEntry, CardError> {
        Ok(PadEntry {
            cmd: Command::new(0x00, 0x2C, 0x02, reference).with_data(block),
            op: PinPadOp::Modify {
                old_offset: None,
                new_offset: 0,
            },
        })
    }

    /// SELECT of the MF by AID resets the security state; the MF is then current.
    fn logout(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        pin_ref: u8,
    ) -> Result<PinState, CardError> {
        let select = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(&layout::MF_AID);
        ch.transmit_ok(&select)?;
        s.current_df = Some(vec![MF]);
        iso::verify_status(ch, pin_ref)
    }

    /// No PSS, no raw RSA (cryptolib-compat §7.2).
    fn takes(&self, _: KeyRole, form: SignForm) -> bool {
        !matches!(form, SignForm::Pss(_) | SignForm::Raw)
    }

    fn plan_sign(&self, key: &KeyInfo, input: &SignInput, k: usize) -> Result<SignPlan, Refusal> {
        let key_ref = key.key_ref;
        if key.role == KeyRole::Signature {
            // The signature key: PSO CDS, after a PSO HASH of the message's last block.
            return match input {
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
                    hash: crate::soft::digest(*alg, message),
                    key_ref,
                }),
                SignInput::Pkcs1 { data } => {
                    let (alg, hash) = hash_input(data)?;
                    Ok(SignPlan::Cps3HashOnly {
                        alg,
                        hash: hash.to_vec(),
                        key_ref,
                    })
                }
                SignInput::Pss { .. } | SignInput::Raw { .. } => Err(Refusal::KeyCannot),
            };
        }
        // The authentication and technical keys: INTERNAL AUTHENTICATE, the card pads, at
        // most 40 % of the modulus.
        let data = match input {
            SignInput::Pkcs1 { data } => data.clone(),
            SignInput::Pkcs1Message { alg, message } => digest_info_of(*alg, message)?,
            SignInput::Pss { .. } | SignInput::Raw { .. } => return Err(Refusal::KeyCannot),
        };
        let max = k * layout::INTERNAL_AUTH_MAX_PERCENT / 100;
        if data.is_empty() || data.len() > max {
            return Err(Refusal::InputLength);
        }
        Ok(SignPlan::Cps3InternalAuth { data, key_ref })
    }

    fn sign(
        &self,
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
                iso::internal_authenticate(ch, data, k)
            }
            _ => Err(foreign_plan()),
        }
    }

    /// MSE CT + PSO DECIPHER with the padding indicator: the card unpads.
    fn decrypt(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        key_ref: u8,
        cryptogram: &[u8],
        _: usize,
    ) -> Result<Deciphered, CardError> {
        let alg = s.alg.decipher;
        cps3::mse_key(ch, s, template::CT, alg, key_ref)?;
        cps3::pso_decipher(ch, cryptogram).map(Deciphered::Plain)
    }
}
