//! The CPS2ter-compatible data volet of CPS3 (CLA `A0`, cpx-cards.md §11): the situation
//! files `3F00/4010…401F` and the invoicing situation `3F00/7F01/4000`, exposed by the
//! Cryptolib as `CPS2TER_ACTIVITY_xx_PS` and `CPS_SIT_FACT`. Readable after the user PIN
//! was verified on the IAS side.
//!
//! SELECT by file ID one level at a time from `3F00` (`A0 A4 00 00 02 <FID>`); the FCI
//! comes after `9F xx` through GET RESPONSE (the APDU channel fetches it); READ BINARY
//! `A0 B0 <off> <Le>` with exact lengths.

use super::layout::MAX_READ_CHUNK;
use crate::apdu::{CardError, Channel, Command, Fcp, StatusWord};

const CLA: u8 = 0xA0;

/// Volet status words with a meaning for callers (§11).
fn map_error(e: CardError) -> CardError {
    match e {
        CardError::Status(StatusWord::Other(0x9404)) => CardError::FileNotFound,
        CardError::Status(StatusWord::Other(0x9804 | 0x9802 | 0x9808)) => {
            CardError::SecurityNotSatisfied
        }
        CardError::Status(StatusWord::Other(0x9840)) => CardError::PinBlocked,
        other => other,
    }
}

/// Reads a whole volet file by absolute path (FIDs from `3F00`).
pub fn read_file(ch: &mut Channel<'_>, path: &[u16]) -> Result<Vec<u8>, CardError> {
    read(ch, path).map_err(map_error)
}

fn read(ch: &mut Channel<'_>, path: &[u16]) -> Result<Vec<u8>, CardError> {
    let mut fci = Vec::new();
    for fid in path {
        let cmd = Command::new(CLA, 0xA4, 0x00, 0x00).with_data(&fid.to_be_bytes());
        fci = ch.transmit_ok(&cmd)?;
    }
    let fcp = Fcp::parse_cps2ter(&fci)?;
    if fcp.is_df() {
        return Err(CardError::Malformed("volet: expected an EF"));
    }
    let size = fcp
        .size
        .ok_or(CardError::Malformed("volet: FCI without size"))?;
    let mut out = Vec::with_capacity(size);
    while out.len() < size {
        let n = (size - out.len()).min(MAX_READ_CHUNK);
        let off = out.len();
        let cmd = Command::new(CLA, 0xB0, (off >> 8) as u8, off as u8).with_le(n);
        let data = ch.transmit_ok(&cmd)?;
        if data.is_empty() {
            break;
        }
        out.extend_from_slice(&data[..data.len().min(n)]);
    }
    Ok(out)
}
