//! File access in each generation's dialect: SELECT by absolute path, READ BINARY in
//! chunks of at most `0xE7` bytes, UPDATE BINARY.
//!
//! * CPS3 (IAS-ECC, contact and contactless): `00 A4 09 04 <3F00 …>` with FCP (P2=`0C`
//!   when no FCP is needed); the card accepts a path starting with `3F00` from any DF
//!   (cpx-cards §8.2). The current DF is tracked in the session so key operations can skip
//!   a re-selection.
//! * CPS4 (ChipDoc, logical channel 1 — the channel adds the CLA bits): `00 A4 08 00
//!   <path without 3F00>` with FCI (§10.1).

use super::layout::{self, MF};
use super::session::{path_bytes, Session};
use super::types::Generation;
use crate::apdu::command::MAX_SHORT_LE;
use crate::apdu::{CardError, Channel, Command, Fcp, StatusWord};

/// Largest file we are willing to read (READ BINARY offsets stop at `7FFF`).
pub const MAX_FILE: usize = 0x7FFF;

/// SELECT by absolute path (FIDs starting with `3F00`), with the FCP/FCI.
pub fn select(ch: &mut Channel<'_>, s: &mut Session, path: &[u16]) -> Result<Fcp, CardError> {
    let cmd = select_command(s.generation, path, true)?;
    let r = ch.transmit(&cmd);
    let data = match r.and_then(|r| r.into_data()) {
        Ok(d) => d,
        Err(e) => {
            s.forget_position();
            return Err(e);
        }
    };
    let fcp = Fcp::parse(&data)?;
    note_position(s, path, &fcp);
    Ok(fcp)
}

/// SELECT by absolute path without asking for the FCP (one APDU on every protocol).
pub fn select_no_fcp(ch: &mut Channel<'_>, s: &mut Session, path: &[u16]) -> Result<(), CardError> {
    let cmd = select_command(s.generation, path, false)?;
    match ch.transmit(&cmd).and_then(|r| r.into_data()) {
        Ok(_) => {
            // Without an FCP we only know DFs we name as such (the caller selects DFs).
            s.current_df = Some(path.to_vec());
            Ok(())
        }
        Err(e) => {
            s.forget_position();
            Err(e)
        }
    }
}

/// SELECT an EF by absolute path without asking for the FCP (one APDU on every protocol);
/// its parent becomes the current DF.
pub fn select_ef_no_fcp(
    ch: &mut Channel<'_>,
    s: &mut Session,
    path: &[u16],
) -> Result<(), CardError> {
    let cmd = select_command(s.generation, path, false)?;
    match ch.transmit(&cmd).and_then(|r| r.into_data()) {
        Ok(_) => {
            s.current_df = Some(path[..path.len() - 1].to_vec());
            Ok(())
        }
        Err(e) => {
            s.forget_position();
            Err(e)
        }
    }
}

/// READ BINARY by short file identifier (`00 B0 <80|SFI> 00 <len>`, CPS3: one APDU, no
/// SELECT). The EF becomes current, its DF is then unknown to us.
pub fn read_sfi(
    ch: &mut Channel<'_>,
    s: &mut Session,
    sfi: u8,
    len: usize,
) -> Result<Vec<u8>, CardError> {
    s.forget_position();
    let cmd = Command::new(0x00, 0xB0, 0x80 | (sfi & 0x1F), 0x00).with_le(len);
    let r = ch.transmit(&cmd)?;
    match r.sw {
        StatusWord::Ok | StatusWord::EndOfFile => Ok(r.data),
        _ => r.check().map(|_| Vec::new()),
    }
}

/// Makes `df` the current DF unless the session knows it already is (CPS3 only; ChipDoc
/// files are always addressed from the MF).
pub fn ensure_df(ch: &mut Channel<'_>, s: &mut Session, df: &[u16]) -> Result<(), CardError> {
    if s.generation == Generation::Cps4 || s.current_df.as_deref() == Some(df) {
        return Ok(());
    }
    select_no_fcp(ch, s, df)
}

fn select_command(generation: Generation, path: &[u16], fcp: bool) -> Result<Command, CardError> {
    if path.first() != Some(&MF) {
        return Err(CardError::Malformed("path does not start at 3F00"));
    }
    let cmd = match generation {
        Generation::Cps3 | Generation::Cps3Cl => {
            Command::new(0x00, 0xA4, 0x09, if fcp { 0x04 } else { 0x0C })
                .with_data(&path_bytes(path))
        }
        Generation::Cps4 => {
            let rest = &path[1..];
            if rest.is_empty() {
                // The MF itself: SELECT by file ID 3F00.
                Command::new(0x00, 0xA4, 0x00, if fcp { 0x00 } else { 0x0C })
                    .with_data(&path_bytes(path))
            } else {
                Command::new(0x00, 0xA4, 0x08, if fcp { 0x00 } else { 0x0C })
                    .with_data(&path_bytes(rest))
            }
        }
    };
    Ok(if fcp { cmd.with_le(MAX_SHORT_LE) } else { cmd })
}

/// After a SELECT with FCP: a DF becomes the current DF, an EF makes its parent current.
fn note_position(s: &mut Session, path: &[u16], fcp: &Fcp) {
    let is_df = fcp.is_df() || path == [MF];
    s.current_df = if is_df {
        Some(path.to_vec())
    } else {
        Some(path[..path.len() - 1].to_vec())
    };
}

/// READ BINARY of the current EF: `size` bytes if known (from the FCP), else until the
/// card says the file ended. Chunks of at most `0xE7` bytes.
pub fn read_current(ch: &mut Channel<'_>, size: Option<usize>) -> Result<Vec<u8>, CardError> {
    let limit = size.unwrap_or(MAX_FILE).min(MAX_FILE);
    let mut out = Vec::with_capacity(size.unwrap_or(256).min(MAX_FILE));
    while out.len() < limit {
        let want = (limit - out.len()).min(layout::MAX_READ_CHUNK);
        let offset = out.len();
        let cmd = Command::new(0x00, 0xB0, (offset >> 8) as u8 & 0x7F, offset as u8).with_le(want);
        let r = ch.transmit(&cmd)?;
        match r.sw {
            StatusWord::Ok | StatusWord::EndOfFile => {}
            // Reading at the very end of a file of unknown size.
            StatusWord::WrongP1P2 | StatusWord::IncorrectP1P2 if size.is_none() && offset > 0 => {
                break
            }
            _ => {
                r.check()?;
            }
        }
        let got = r.data.len().min(want);
        out.extend_from_slice(&r.data[..got]);
        if got < want || r.sw == StatusWord::EndOfFile {
            break;
        }
    }
    Ok(out)
}

/// SELECT (with FCP) and read a whole EF; returns the content and the FCP size.
pub fn read_file(
    ch: &mut Channel<'_>,
    s: &mut Session,
    path: &[u16],
) -> Result<(Vec<u8>, Option<usize>), CardError> {
    let fcp = select(ch, s, path)?;
    if fcp.is_df() {
        return Err(CardError::Malformed("expected an EF, selected a DF"));
    }
    if fcp.size.is_some_and(|n| n > MAX_FILE) {
        return Err(CardError::Malformed("file larger than 32 KiB"));
    }
    let data = read_current(ch, fcp.size)?;
    Ok((data, fcp.size))
}

/// SELECT (no FCP) and UPDATE BINARY `data` from offset 0, in chunks of at most `0xE7`.
pub fn update_file(
    ch: &mut Channel<'_>,
    s: &mut Session,
    path: &[u16],
    data: &[u8],
) -> Result<(), CardError> {
    if data.len() > MAX_FILE {
        return Err(CardError::Malformed("file larger than 32 KiB"));
    }
    let cmd = select_command(s.generation, path, false)?;
    if let Err(e) = ch.transmit(&cmd).and_then(|r| r.into_data()) {
        s.forget_position();
        return Err(e);
    }
    s.current_df = Some(path[..path.len() - 1].to_vec());
    for (i, chunk) in data.chunks(layout::MAX_READ_CHUNK).enumerate() {
        let offset = i * layout::MAX_READ_CHUNK;
        let cmd =
            Command::new(0x00, 0xD6, (offset >> 8) as u8 & 0x7F, offset as u8).with_data(chunk);
        ch.transmit_ok(&cmd)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::Protocol;

    #[test]
    fn select_forms() {
        let p = [0x3F00, 0x0001, 0x7001];
        let c = select_command(Generation::Cps3, &p, true).unwrap();
        assert_eq!(
            c.encode(Protocol::T0).unwrap(),
            vec![0x00, 0xA4, 0x09, 0x04, 0x06, 0x3F, 0x00, 0x00, 0x01, 0x70, 0x01]
        );
        let c = select_command(Generation::Cps3, &[0x3F00], false).unwrap();
        assert_eq!(
            c.encode(Protocol::T0).unwrap(),
            vec![0x00, 0xA4, 0x09, 0x0C, 0x02, 0x3F, 0x00]
        );
        // ChipDoc: path from the MF without 3F00, FCI (P2=00), Le under T=1.
        let c = select_command(Generation::Cps4, &[0x3F00, 0xD003], true).unwrap();
        assert_eq!(
            c.encode(Protocol::T1).unwrap(),
            vec![0x00, 0xA4, 0x08, 0x00, 0x02, 0xD0, 0x03, 0x00]
        );
        assert!(select_command(Generation::Cps3, &[0x0001], true).is_err());
    }
}
