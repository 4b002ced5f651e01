//! CPS4: the ChipDoc applet on logical channel 1 (cpx-cards.md §10).

use super::*;
use crate::cpx::layout::{self, chipdoc_alg};
use crate::cpx::pin::status_from;
use crate::cpx::sign::{digest_info_of, hash_input};
use crate::cpx::{cps4, files, HashAlg};
use crate::soft;

pub(super) struct ChipDoc;

impl Dialect for ChipDoc {
    /// ChipDoc selected on channel 1 (after the re-selection sequence if refused).
    fn confirm(&self, ch: &mut Channel<'_>, s: &mut Session) -> Result<(), CardError> {
        if !s.chipdoc_selected {
            cps4::select_chipdoc(ch, s)?;
        }
        Ok(())
    }

    /// SELECT without FCI + READ BINARY (§10.1).
    fn read_serial(&self, ch: &mut Channel<'_>, s: &mut Session) -> Result<Vec<u8>, CardError> {
        files::select_ef_no_fcp(ch, s, &[layout::MF, layout::FID_EF_SN])?;
        files::read_current(ch, Some(layout::EF_SN_LEN))
    }

    /// No update marker the Cryptolib or we check (cpx-cards §10): the cache entry's maximum
    /// age covers updates.
    fn update_marker(
        &self,
        _: &mut Channel<'_>,
        _: &mut Session,
        _: Option<usize>,
    ) -> Result<Option<Vec<u8>>, CardError> {
        Ok(None)
    }

    /// The maximum is fixed and no unblock counter is read: nothing to cache.
    fn pin_facts(
        &self,
        _: &mut Channel<'_>,
        _: &mut Session,
    ) -> Result<Option<PinFacts>, CardError> {
        Ok(None)
    }

    fn enter(&self, ch: &mut Channel<'_>, s: &mut Session, app: bool) -> Result<(), CardError> {
        ch.set_logical_channel(cps4::CHIPDOC_CHANNEL)?;
        if app && !s.chipdoc_selected {
            cps4::select_chipdoc(ch, s)?;
        }
        Ok(())
    }

    /// `69 85` / `68 81`: ChipDoc lost its applet or channel state (§10.7): the re-selection
    /// sequence, then the operation once more.
    fn recover(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        e: &CardError,
    ) -> Result<bool, CardError> {
        if !cps4::needs_recovery(e) {
            return Ok(false);
        }
        log::info!("ChipDoc answered {e}; re-selecting the applet and retrying once");
        cps4::reselect(ch, s)?;
        Ok(true)
    }

    /// VERIFY without data; the maximum is fixed, no unblock counter is read.
    fn pin_status(
        &self,
        ch: &mut Channel<'_>,
        _: &mut Session,
        pin_ref: u8,
        _: Option<u8>,
    ) -> Result<PinStatus, CardError> {
        let state = cps4::verify_status(ch, pin_ref)?;
        Ok(status_from(state, layout::CPS4_MAX_TRIES, None))
    }

    fn verify_answer(&self, r: Result<(), CardError>) -> Result<(), CardError> {
        cps4::blocked_at_zero(r)
    }

    /// VERIFY with the old PIN, then CHANGE REFERENCE DATA with the new one only.
    fn change_pin(
        &self,
        ch: &mut Channel<'_>,
        reference: u8,
        old: &[u8],
        new: &[u8],
    ) -> Result<(), CardError> {
        cps4::verify(ch, reference, old)?;
        cps4::change_new_only(ch, reference, new)
    }

    fn change_on_pad(&self, reference: u8, block: &[u8]) -> (bool, PadEntry) {
        let entry = PadEntry {
            cmd: Command::new(0x00, 0x24, 0x01, reference).with_data(block),
            op: PinPadOp::Modify {
                old_offset: None,
                new_offset: 0,
            },
        };
        (true, entry)
    }

    /// RESET RETRY COUNTER without data, then CHANGE REFERENCE DATA with the new PIN.
    fn unblock_pin(
        &self,
        ch: &mut Channel<'_>,
        reference: u8,
        new: &[u8],
    ) -> Result<(), CardError> {
        cps4::reset_counter(ch, reference)?;
        cps4::change_new_only(ch, reference, new)
    }

    fn unblock_on_pad(
        &self,
        ch: &mut Channel<'_>,
        reference: u8,
        block: &[u8],
    ) -> Result<PadEntry, CardError> {
        cps4::reset_counter(ch, reference)?;
        Ok(self.change_on_pad(reference, block).1)
    }

    /// SELECT of ChipDoc by AID resets its security state.
    fn logout(
        &self,
        ch: &mut Channel<'_>,
        _: &mut Session,
        pin_ref: u8,
    ) -> Result<PinState, CardError> {
        let select = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(&layout::MF_AID);
        ch.transmit_ok(&select)?;
        cps4::verify_status(ch, pin_ref)
    }

    /// Everything but raw RSA with the signature key.
    fn takes(&self, role: KeyRole, form: SignForm) -> bool {
        !(role == KeyRole::Signature && form == SignForm::Raw)
    }

    fn plan_sign(&self, key: &KeyInfo, input: &SignInput, k: usize) -> Result<SignPlan, Refusal> {
        let key_ref = key.key_ref;
        let pkcs1_id = |alg| match alg {
            HashAlg::Sha1 => chipdoc_alg::PKCS1_SHA1,
            HashAlg::Sha256 => chipdoc_alg::PKCS1_SHA256,
        };
        match (key.role, input) {
            // PSO CDS: the card encodes (PKCS#1 or PSS with salt = hash length).
            (_, SignInput::Pss { alg, hash }) => {
                if hash.len() != alg.len() {
                    return Err(Refusal::InputLength);
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
                let (alg, hash) = hash_input(data)?;
                Ok(SignPlan::Cps4Cds {
                    alg_id: pkcs1_id(alg),
                    hash: hash.to_vec(),
                    key_ref,
                })
            }
            (KeyRole::Signature, SignInput::Raw { .. }) => Err(Refusal::KeyCannot),
            // The authentication key: raw RSA on a block padded here.
            (_, SignInput::Pkcs1 { data }) => {
                let block = soft::pkcs1_type1_pad(data, k).map_err(|_| Refusal::InputLength)?;
                Ok(SignPlan::Cps4Raw { block, key_ref })
            }
            (_, SignInput::Pkcs1Message { alg, message }) => {
                let block = soft::pkcs1_type1_pad(&digest_info_of(*alg, message)?, k)
                    .map_err(|_| Refusal::InputLength)?;
                Ok(SignPlan::Cps4Raw { block, key_ref })
            }
            (_, SignInput::Raw { block }) => {
                if block.len() > k {
                    return Err(Refusal::InputLength);
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

    fn sign(
        &self,
        ch: &mut Channel<'_>,
        _: &mut Session,
        plan: &SignPlan,
        k: usize,
    ) -> Result<Vec<u8>, CardError> {
        match plan {
            SignPlan::Cps4Cds {
                alg_id,
                hash,
                key_ref,
            } => {
                cps4::mse_signature(ch, *alg_id, *key_ref)?;
                cps4::pso_cds(ch, hash, k)
            }
            SignPlan::Cps4Raw { block, key_ref } => {
                cps4::mse_decipher(ch, *key_ref)?;
                cps4::raw_rsa(ch, block, k)
            }
            _ => Err(foreign_plan()),
        }
    }

    /// Raw RSA through PSO DECIPHER: the PKCS#1 block comes back whole.
    fn decrypt(
        &self,
        ch: &mut Channel<'_>,
        _: &mut Session,
        key_ref: u8,
        cryptogram: &[u8],
        k: usize,
    ) -> Result<Deciphered, CardError> {
        cps4::mse_decipher(ch, key_ref)?;
        cps4::raw_rsa(ch, cryptogram, k).map(Deciphered::Block)
    }
}
