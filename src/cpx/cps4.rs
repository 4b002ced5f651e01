//! CPS4, the ChipDoc applet on logical channel 1 (cpx-cards.md §10).
//!
//! Commands are built with CLA `00` and sent on the channel's logical channel 1 (the APDU
//! channel sets the CLA bits: `01`, `11` when chained); the recovery sequence addresses
//! channels 0 and 1 explicitly.
//!
//! * selection: `01 A4 04 0C 08 <ChipDoc AID>`; if refused, the re-selection sequence
//!   (ISD on channel 1, CPS2ter applet on channel 0, ChipDoc on channel 1);
//! * `69 85` / `68 81` from a ChipDoc command: the same sequence, then the command once
//!   more (§10.7);
//! * MSE `81 B6 { 91 02 <alg> <key|80> }` (PSO CDS, PKCS#1 or PSS, the card hashes nothing
//!   and pads) and `41 B8 { 83 01 <key> }` (raw RSA through PSO DECIPHER, no padding
//!   indicator, the host pads and unpads).

use super::iso::{self, PinState};
use super::layout::{CPS2TER_APPLET_AID, ISD_AID, MF_AID};
use super::session::Session;
use crate::apdu::{CardError, Channel, Command, StatusWord};

/// The logical channel ChipDoc lives on.
pub const CHIPDOC_CHANNEL: u8 = 1;

fn select_aid(cla: u8, aid: &[u8]) -> Command {
    Command::new(cla, 0xA4, 0x04, 0x0C).with_data(aid)
}

/// The re-selection sequence (status words not checked): ISD on channel 1, CPS2ter applet
/// on channel 0, ChipDoc on channel 1 — the last one must succeed.
fn reselect_sequence(ch: &mut Channel<'_>) -> Result<(), CardError> {
    let isd = ch.transmit_as_is(&select_aid(CHIPDOC_CHANNEL, &ISD_AID))?;
    log::debug!("ChipDoc recovery: ISD select {}", isd.sw);
    let cps2ter = ch.transmit_as_is(&select_aid(0x00, &CPS2TER_APPLET_AID))?;
    log::debug!("ChipDoc recovery: CPS2ter applet select {}", cps2ter.sw);
    ch.transmit_as_is(&select_aid(CHIPDOC_CHANNEL, &MF_AID))?
        .into_data()
        .map(|_| ())
}

/// Selects ChipDoc on channel 1 (first APDU of a CPS4 session); on refusal runs the
/// re-selection sequence.
pub fn select_chipdoc(ch: &mut Channel<'_>, s: &mut Session) -> Result<(), CardError> {
    let first = ch.transmit_as_is(&select_aid(CHIPDOC_CHANNEL, &MF_AID))?;
    if first.sw != StatusWord::Ok {
        log::debug!(
            "ChipDoc select answered {}; re-selection sequence",
            first.sw
        );
        reselect_sequence(ch)?;
    }
    s.chipdoc_selected = true;
    s.current_df = None;
    Ok(())
}

/// Whether a ChipDoc error means "lost applet/channel state" (§10.7).
pub fn needs_recovery(e: &CardError) -> bool {
    matches!(
        e,
        CardError::ConditionsNotSatisfied | CardError::Status(StatusWord::ChannelNotSupported)
    )
}

/// The re-selection sequence after a lost applet state; ChipDoc is then selected.
pub fn reselect(ch: &mut Channel<'_>, s: &mut Session) -> Result<(), CardError> {
    reselect_sequence(ch)?;
    s.chipdoc_selected = true;
    Ok(())
}

/// VERIFY without data (`01 20 00 <ref>`): `63 C0` is treated as blocked, as the Cryptolib
/// does on CPS4.
pub fn verify_status(ch: &mut Channel<'_>, reference: u8) -> Result<PinState, CardError> {
    match iso::verify_status(ch, reference)? {
        PinState::TriesLeft(0) => Ok(PinState::Blocked),
        other => Ok(other),
    }
}

/// VERIFY with data: `63 C0` becomes `PinBlocked`.
pub fn verify(ch: &mut Channel<'_>, reference: u8, value: &[u8]) -> Result<(), CardError> {
    blocked_at_zero(iso::verify(ch, reference, value))
}

/// A VERIFY answer as ChipDoc means it: `63 C0` is "blocked".
pub fn blocked_at_zero(r: Result<(), CardError>) -> Result<(), CardError> {
    match r {
        Err(CardError::PinIncorrect { tries_left: 0 }) => Err(CardError::PinBlocked),
        other => other,
    }
}

/// CHANGE REFERENCE DATA with the new value only (P1=01), after VERIFY.
pub fn change_new_only(ch: &mut Channel<'_>, reference: u8, new: &[u8]) -> Result<(), CardError> {
    iso::change_reference_data(ch, 0x01, reference, new)
}

/// RESET RETRY COUNTER without data: `01 2C 03 <ref | 80>`.
pub fn reset_counter(ch: &mut Channel<'_>, reference: u8) -> Result<(), CardError> {
    iso::reset_retry_counter(ch, 0x03, reference | 0x80, None)
}

/// MSE for PSO CDS: `01 22 81 B6 04 91 02 <alg> <key | 80>`.
pub fn mse_signature(ch: &mut Channel<'_>, alg: u8, key_ref: u8) -> Result<(), CardError> {
    iso::mse_set(ch, 0x81, 0xB6, &[0x91, 0x02, alg, key_ref | 0x80])
}

/// MSE for authentication / decipher: `01 22 41 B8 03 83 01 <key>`.
pub fn mse_decipher(ch: &mut Channel<'_>, key_ref: u8) -> Result<(), CardError> {
    iso::mse_set(ch, 0x41, 0xB8, &[0x83, 0x01, key_ref])
}

/// PSO CDS with the hash: `01 2A 9E 9A <14|20> <hash> [00]`.
pub fn pso_cds(ch: &mut Channel<'_>, hash: &[u8], sig_len: usize) -> Result<Vec<u8>, CardError> {
    iso::pso_cds(ch, Some(hash), sig_len)
}

/// Raw RSA through PSO DECIPHER without padding indicator, chained at 255 bytes:
/// `11 2A 80 86 FF …`, `01 2A 80 86 01 … [00]`.
pub fn raw_rsa(ch: &mut Channel<'_>, block: &[u8], out_len: usize) -> Result<Vec<u8>, CardError> {
    iso::pso_decipher(ch, block, out_len)
}
