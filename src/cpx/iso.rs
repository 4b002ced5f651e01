//! The ISO 7816-4 commands both generations share (cpx-cards.md §8, §10): VERIFY (with and
//! without data), CHANGE REFERENCE DATA, RESET RETRY COUNTER, MSE:SET, PSO COMPUTE DIGITAL
//! SIGNATURE, PSO DECIPHER, INTERNAL AUTHENTICATE. Built with CLA `00`: the APDU channel sets
//! the logical-channel bits (CPS4 runs on channel 1). What each generation sends in them,
//! and what their answers mean there, is the dialects' (`dialect/`).

use crate::apdu::{check_sw, CardError, Channel, Command, StatusWord};

/// What VERIFY without data says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    Verified,
    TriesLeft(u8),
    Blocked,
}

/// VERIFY without data, `00 20 00 <ref>` (case 1): costs no try.
pub fn verify_status(ch: &mut Channel<'_>, reference: u8) -> Result<PinState, CardError> {
    let r = ch.transmit(&Command::new(0x00, 0x20, 0x00, reference))?;
    match r.sw {
        StatusWord::Ok => Ok(PinState::Verified),
        StatusWord::TriesLeft(n) => Ok(PinState::TriesLeft(n)),
        StatusWord::Blocked => Ok(PinState::Blocked),
        other => Err(check_sw(other).err().unwrap_or(CardError::Status(other))),
    }
}

/// VERIFY with data: `00 20 00 <ref> Lc <value>`.
pub fn verify(ch: &mut Channel<'_>, reference: u8, value: &[u8]) -> Result<(), CardError> {
    let cmd = Command::new(0x00, 0x20, 0x00, reference).with_data(value);
    ch.transmit_ok(&cmd).map(|_| ())
}

/// CHANGE REFERENCE DATA `00 24 <p1> <ref> Lc <data>`: P1 `00` old ‖ new, `01` new only.
pub fn change_reference_data(
    ch: &mut Channel<'_>,
    p1: u8,
    reference: u8,
    data: &[u8],
) -> Result<(), CardError> {
    let cmd = Command::new(0x00, 0x24, p1, reference).with_data(data);
    ch.transmit_ok(&cmd).map(|_| ())
}

/// RESET RETRY COUNTER `00 2C <p1> <p2> [Lc <data>]`: P1 `02` with the new value, `03`
/// without data.
pub fn reset_retry_counter(
    ch: &mut Channel<'_>,
    p1: u8,
    p2: u8,
    data: Option<&[u8]>,
) -> Result<(), CardError> {
    let mut cmd = Command::new(0x00, 0x2C, p1, p2);
    if let Some(d) = data {
        cmd = cmd.with_data(d);
    }
    ch.transmit_ok(&cmd).map(|_| ())
}

/// MSE:SET `00 22 <p1> <template> Lc <control reference data>`.
pub fn mse_set(ch: &mut Channel<'_>, p1: u8, template: u8, data: &[u8]) -> Result<(), CardError> {
    let cmd = Command::new(0x00, 0x22, p1, template).with_data(data);
    ch.transmit_ok(&cmd).map(|_| ())
}

/// PSO COMPUTE DIGITAL SIGNATURE `00 2A 9E 9A [Lc <data>] <Le>`.
pub fn pso_cds(
    ch: &mut Channel<'_>,
    data: Option<&[u8]>,
    sig_len: usize,
) -> Result<Vec<u8>, CardError> {
    let mut cmd = Command::new(0x00, 0x2A, 0x9E, 0x9A).with_le(sig_len.clamp(1, 256));
    if let Some(d) = data {
        cmd = cmd.with_data(d);
    }
    ch.transmit_ok(&cmd)
}

/// PSO DECIPHER `00 2A 80 86 Lc <data> <Le>` (chained by the channel when long).
pub fn pso_decipher(ch: &mut Channel<'_>, data: &[u8], le: usize) -> Result<Vec<u8>, CardError> {
    let cmd = Command::new(0x00, 0x2A, 0x80, 0x86)
        .with_data(data)
        .with_le(le.clamp(1, 256));
    ch.transmit_ok(&cmd)
}

/// INTERNAL AUTHENTICATE `00 88 00 00 Lc <data> <Le>`.
pub fn internal_authenticate(
    ch: &mut Channel<'_>,
    data: &[u8],
    sig_len: usize,
) -> Result<Vec<u8>, CardError> {
    let cmd = Command::new(0x00, 0x88, 0x00, 0x00)
        .with_data(data)
        .with_le(sig_len.clamp(1, 256));
    ch.transmit_ok(&cmd)
}
