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
use crate::apdu::tlv;
use crate::apdu::{CardError, Channel, Command, Fcp, StatusWord, Tag};

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

/// What a file's content says about where it ends, so a read without the file size can
/// stop as soon as the needed bytes are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Nothing: read until the card says the file ended.
    Opaque,
    /// One BER-TLV (a certificate's DER SEQUENCE, TokenInfo, EF_ACTUA's `EC` template): its
    /// header gives the length, so the last READ asks for exactly what is left and bytes
    /// after it (file padding) are not read.
    Tlv,
    /// A PKCS#15 directory file (ODF, AODF, PrKDF, CDF, DODF): TLVs, then `00`/`FF` padding up
    /// to the file end. A read that shows padding after the last complete TLV stops there
    /// (OpenSC stops parsing at the first `00`/`FF` too, cpx-cards §4.4).
    Directory,
}

/// READ BINARY of the current EF: `size` bytes if known (from the FCP, or the length a
/// cache entry saw), else until the card says the file ended. Chunks of at most `0xE7`.
pub fn read_current(ch: &mut Channel<'_>, size: Option<usize>) -> Result<Vec<u8>, CardError> {
    read_loop(ch, size, Content::Opaque)
}

/// READ BINARY of the current EF, size unknown: until the card says the file ended
/// ([`read_loop`]) or `content` shows that the needed bytes are in.
pub fn read_current_to_end(ch: &mut Channel<'_>, content: Content) -> Result<Vec<u8>, CardError> {
    read_loop(ch, None, content)
}

/// The read loop. Chunks of at most `0xE7` bytes (cpx-cards §5.5 #15). When the size is not
/// known, every end-of-file answer of §8.3 / §9 ends the file:
///
/// * data + `90 00` shorter than asked (a T=1 card may also truncate to Le);
/// * data + `62 82` ("end of file before Le bytes");
/// * `6C xx`, then the exact read (the channel re-sends once with Le = xx; T=0, the
///   simulated CPS3's answer [assume §14 #11]) — which is shorter than asked;
/// * `6B 00` (or `6A 86`) for an offset at or past the end — a file whose size is a multiple
///   of `0xE7`.
///
/// A card that never ends a file is cut at [`MAX_FILE`] bytes (the largest READ BINARY
/// offset) with an error: at most `MAX_FILE / 0xE7 + 1` READs and `MAX_FILE` bytes held.
fn read_loop(
    ch: &mut Channel<'_>,
    size: Option<usize>,
    content: Content,
) -> Result<Vec<u8>, CardError> {
    if size.is_some_and(|n| n > MAX_FILE) {
        return Err(CardError::Malformed("file larger than 32 KiB"));
    }
    // Where the bytes we need end, when known (the size, or the TLV's own length).
    let mut end = size;
    let mut out = Vec::with_capacity(size.unwrap_or(layout::MAX_READ_CHUNK));
    let mut ended = false;
    loop {
        let limit = end.unwrap_or(MAX_FILE);
        if out.len() >= limit {
            break;
        }
        let offset = out.len();
        let want = (limit - offset).min(layout::MAX_READ_CHUNK);
        let cmd = Command::new(0x00, 0xB0, (offset >> 8) as u8 & 0x7F, offset as u8).with_le(want);
        let r = ch.transmit(&cmd)?;
        match r.sw {
            StatusWord::Ok | StatusWord::EndOfFile => {}
            // Reading at the very end of a file of unknown size.
            StatusWord::WrongP1P2 | StatusWord::IncorrectP1P2 if size.is_none() && offset > 0 => {
                ended = true;
                break;
            }
            _ => {
                r.check()?;
            }
        }
        let got = r.data.len().min(want);
        out.extend_from_slice(&r.data[..got]);
        let file_ended = got < want || r.sw == StatusWord::EndOfFile;
        if size.is_none() {
            match content {
                Content::Opaque => {}
                Content::Tlv => {
                    if end.is_none() {
                        // A length beyond MAX_FILE is read up to the cap (then refused).
                        end = tlv_total(&out).map(|n| n.min(MAX_FILE));
                    }
                }
                Content::Directory => {
                    if let Some(n) = directory_end(&out) {
                        out.truncate(n);
                        ended = true;
                        break;
                    }
                }
            }
        }
        if file_ended {
            ended = true;
            break;
        }
    }
    if let Some(n) = end {
        out.truncate(n);
    }
    if !ended && out.len() >= MAX_FILE {
        return Err(CardError::Malformed("file larger than 32 KiB"));
    }
    Ok(out)
}

/// The whole length (header + value) of the BER-TLV at the start of `b`, once its header is
/// in; `None` when the header is incomplete or not a definite-length TLV.
fn tlv_total(b: &[u8]) -> Option<usize> {
    let (_, tag_len) = Tag::parse(b).ok()?;
    let (len, len_len) = tlv::parse_length(b.get(tag_len..)?).ok()?;
    (tag_len + len_len).checked_add(len)
}

/// Where the content of a directory file ends: the offset after its last complete TLV when
/// every byte read after it is padding (`00`/`FF`, at least one). Padding between TLVs is
/// skipped (ISO 7816-4 allows it; the parser does the same). `None`: read on.
fn directory_end(b: &[u8]) -> Option<usize> {
    let is_pad = |x: &u8| *x == 0x00 || *x == 0xFF;
    let mut at = 0;
    while at < b.len() {
        let pad = b[at..].iter().take_while(|x| is_pad(x)).count();
        if pad > 0 {
            if at + pad == b.len() {
                return Some(at);
            }
            at += pad;
            continue;
        }
        match tlv_total(&b[at..]) {
            Some(n) if n <= b.len() - at => at += n,
            // An incomplete TLV (or bytes that are no TLV: the parser decides later).
            _ => return None,
        }
    }
    None
}

/// SELECT (with FCP) and read a whole EF; returns the content and the FCP size. For what
/// needs the size or the descriptor (a file to be written).
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

/// SELECT without FCP (one APDU and no response data on every protocol, where the FCP costs
/// ~30 bytes and, under T=0, a GET RESPONSE) and read until the card says the file ended or
/// `content` shows the needed bytes are in. The bind's path (issue 9).
pub fn read_file_lean(
    ch: &mut Channel<'_>,
    s: &mut Session,
    path: &[u16],
    content: Content,
) -> Result<Vec<u8>, CardError> {
    select_ef_no_fcp(ch, s, path)?;
    read_current_to_end(ch, content).inspect_err(|_| {
        // Not an EF after all (69 86), or a broken answer: where we stand is unknown.
        s.forget_position();
    })
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

    // ---- the read loop without a known size (issue 9) ----------------------------------

    use crate::transport::{CardIo, TransportError};

    /// How a test card answers a READ BINARY that reaches the end of its file.
    #[derive(Clone, Copy, Debug)]
    enum Eof {
        /// The bytes left + `90 00` (shorter than asked).
        Short,
        /// The bytes left + `62 82` when fewer than asked, else `90 00`.
        Warning,
        /// `6C xx` when Le is more than the card can give (T=0, the simulated CPS3).
        WrongLe,
    }

    /// A card with one transparent EF, current; every command is recorded.
    struct FileCard {
        file: Vec<u8>,
        eof: Eof,
        sent: Vec<Vec<u8>>,
    }

    impl FileCard {
        fn new(file: Vec<u8>, eof: Eof) -> FileCard {
            FileCard {
                file,
                eof,
                sent: Vec::new(),
            }
        }
        fn reads(&self) -> usize {
            self.sent.iter().filter(|c| c[1] == 0xB0).count()
        }
        fn answer(&self, c: &[u8]) -> Vec<u8> {
            match c {
                [_, 0xA4, ..] => vec![0x90, 0x00],
                [_, 0xB0, p1, p2, le] => {
                    let offset = usize::from(p1 & 0x7F) << 8 | usize::from(*p2);
                    let le = if *le == 0 { 256 } else { usize::from(*le) };
                    if offset >= self.file.len() {
                        return vec![0x6B, 0x00];
                    }
                    let avail = (self.file.len() - offset).min(layout::MAX_READ_CHUNK);
                    let n = le.min(avail);
                    let mut r = self.file[offset..offset + n].to_vec();
                    match self.eof {
                        Eof::WrongLe if le > avail => return vec![0x6C, avail as u8],
                        Eof::Warning if le > self.file.len() - offset => r.extend([0x62, 0x82]),
                        _ => r.extend([0x90, 0x00]),
                    }
                    r
                }
                _ => vec![0x6D, 0x00],
            }
        }
    }

    impl CardIo for FileCard {
        fn transmit(&mut self, c: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.sent.push(c.to_vec());
            Ok(self.answer(c))
        }
    }

    /// A hostile card: answers every command with `answer(command)`.
    struct Hostile<F: FnMut(&[u8]) -> Vec<u8>> {
        answer: F,
        sent: usize,
    }

    impl<F: FnMut(&[u8]) -> Vec<u8>> CardIo for Hostile<F> {
        fn transmit(&mut self, c: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.sent += 1;
            assert!(self.sent < 1000, "the read loop does not stop");
            Ok((self.answer)(c))
        }
    }

    fn read(card: &mut dyn CardIo, content: Content) -> Result<Vec<u8>, CardError> {
        read_current_to_end(&mut Channel::new(card, Protocol::T0), content)
    }

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8 + 1).collect()
    }

    /// A DER SEQUENCE of `n` bytes in all (n ≥ 4 + 256).
    fn der(n: usize) -> Vec<u8> {
        let body = n - 4;
        let mut v = vec![0x30, 0x82, (body >> 8) as u8, body as u8];
        v.extend(bytes(body));
        v
    }

    #[test]
    fn every_end_of_file_answer_ends_the_read() {
        let e7 = layout::MAX_READ_CHUNK;
        for eof in [Eof::Short, Eof::Warning, Eof::WrongLe] {
            // (file size, READs: chunks, + a 6C round trip, + a 6B 00 at a chunk boundary)
            for (size, reads) in [
                (1, 1),
                (0x20, 1),
                (e7 - 1, 1),
                (e7, 2),
                (e7 + 1, 2),
                (2 * e7, 3),
                (956, 5),
                (MAX_FILE - 1, MAX_FILE / e7 + 1),
            ] {
                let file = bytes(size);
                let mut card = FileCard::new(file.clone(), eof);
                let got = read(&mut card, Content::Opaque).unwrap();
                assert_eq!(got, file, "{eof:?} {size}");
                let six_c = matches!(eof, Eof::WrongLe) && size % e7 != 0;
                assert_eq!(card.reads(), reads + usize::from(six_c), "{eof:?} {size}");
                assert!(card.sent.iter().all(|c| c[4] as usize <= e7 && c[4] != 0));
            }
        }
    }

    #[test]
    fn an_empty_file_is_empty() {
        // 6B 00 at offset 0 is an error (no such offset in any file), 62 82 without data
        // is an empty file.
        let mut card = FileCard::new(Vec::new(), Eof::Short);
        assert!(read(&mut card, Content::Opaque).is_err());
        let mut card = Hostile {
            answer: |_: &[u8]| vec![0x62, 0x82],
            sent: 0,
        };
        assert_eq!(read(&mut card, Content::Opaque).unwrap(), Vec::<u8>::new());
        assert_eq!(card.sent, 1);
    }

    #[test]
    fn a_certificate_is_read_to_its_der_length_only() {
        // 956 bytes of DER then 300 bytes of padding: the last READ asks exactly what the
        // DER header says is left (no 6C round trip under T=0), nothing after it is read.
        let cert = der(956);
        let mut file = cert.clone();
        file.extend([0u8; 300]);
        for eof in [Eof::Short, Eof::Warning, Eof::WrongLe] {
            let mut card = FileCard::new(file.clone(), eof);
            assert_eq!(read(&mut card, Content::Tlv).unwrap(), cert);
            assert_eq!(card.reads(), 5, "{eof:?}");
            assert_eq!(card.sent.last().unwrap()[4] as usize, 956 - 4 * 0xE7);
        }
        // A short TLV inside the first chunk: one READ (+ the 6C round trip), trimmed.
        let mut file = vec![0xEC, 0x03, 1, 2, 3];
        file.extend([0xFF; 10]);
        let mut card = FileCard::new(file, Eof::WrongLe);
        assert_eq!(
            read(&mut card, Content::Tlv).unwrap(),
            [0xEC, 0x03, 1, 2, 3]
        );
        assert_eq!(card.reads(), 2);
        // Content that is no TLV is read to the file's end.
        let file = vec![0x80; 300];
        let mut card = FileCard::new(file.clone(), Eof::Short);
        assert_eq!(read(&mut card, Content::Tlv).unwrap(), file);
    }

    #[test]
    fn a_directory_file_stops_at_its_padding() {
        // 4 objects of 50 bytes (one of them after padding), then zeros to 600 bytes: the
        // first READ holds them all and the padding after them: nothing more is read.
        let object = |i: u8| {
            let mut v = vec![0x30, 48];
            v.extend([i; 48]);
            v
        };
        let mut content = [object(1), object(2), vec![0x00, 0xFF], object(3), object(4)].concat();
        let mut file = content.clone();
        file.resize(600, 0x00);
        let mut card = FileCard::new(file, Eof::WrongLe);
        assert_eq!(read(&mut card, Content::Directory).unwrap(), content);
        assert_eq!(card.reads(), 1);
        // An object cut by the chunk boundary: read on until the padding shows.
        content.extend(object(5));
        let mut file = content.clone();
        file.resize(600, 0xFF);
        let mut card = FileCard::new(file, Eof::Short);
        assert_eq!(read(&mut card, Content::Directory).unwrap(), content);
        assert_eq!(card.reads(), 2);
        // No padding at all: to the end of the file.
        let file = [object(1), object(2), object(3), object(4), object(5)].concat();
        let mut card = FileCard::new(file.clone(), Eof::WrongLe);
        assert_eq!(read(&mut card, Content::Directory).unwrap(), file);
        assert_eq!(card.reads(), 3, "two chunks and the 6C round trip");
    }

    #[test]
    fn a_card_that_never_ends_a_file_is_cut_at_the_largest_offset() {
        let max_reads = MAX_FILE / layout::MAX_READ_CHUNK + 1;
        for content in [Content::Opaque, Content::Directory, Content::Tlv] {
            // Full chunks of data for every offset, for ever (even past 7FFF); `80 80` is
            // no definite-length TLV.
            let mut card = Hostile {
                answer: |c: &[u8]| {
                    let mut r = vec![0x80; usize::from(c[4])];
                    r.extend([0x90, 0x00]);
                    r
                },
                sent: 0,
            };
            assert!(read(&mut card, content).is_err(), "{content:?}");
            assert!(card.sent <= max_reads, "{content:?}: {} READs", card.sent);
        }
        // A certificate header claiming 4 GiB.
        let mut card = Hostile {
            answer: |c: &[u8]| {
                let mut r = vec![0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF];
                r.resize(usize::from(c[4]), 0x41);
                r.extend([0x90, 0x00]);
                r
            },
            sent: 0,
        };
        assert!(read(&mut card, Content::Tlv).is_err());
        assert!(card.sent <= max_reads);
        // More data than asked, with 90 00 or 62 82: only what was asked is kept.
        let mut card = Hostile {
            answer: |_: &[u8]| {
                let mut r = vec![0x41; 300];
                r.extend([0x62, 0x82]);
                r
            },
            sent: 0,
        };
        assert_eq!(read(&mut card, Content::Opaque).unwrap().len(), 0xE7);
        // 6C for ever: one re-send, then an error.
        let mut card = Hostile {
            answer: |_: &[u8]| vec![0x6C, 0x10],
            sent: 0,
        };
        assert!(read(&mut card, Content::Opaque).is_err());
        assert_eq!(card.sent, 2);
        // 6C naming more than asked: the re-sent READ's answer is cut to the chunk.
        let mut card = Hostile {
            answer: |c: &[u8]| {
                if c[4] == 0xFF {
                    let mut r = vec![0x41; 0xFF];
                    r.extend([0x62, 0x82]);
                    r
                } else {
                    vec![0x6C, 0xFF]
                }
            },
            sent: 0,
        };
        assert_eq!(read(&mut card, Content::Opaque).unwrap().len(), 0xE7);
        // Errors stay errors.
        let mut card = Hostile {
            answer: |_: &[u8]| vec![0x69, 0x82],
            sent: 0,
        };
        assert!(read(&mut card, Content::Opaque).is_err());
    }

    #[test]
    fn lean_file_read_selects_without_fcp() {
        let mut card = FileCard::new(der(300), Eof::WrongLe);
        let mut s = Session::new(Generation::Cps3, Protocol::T0);
        let mut ch = Channel::new(&mut card, Protocol::T0);
        let got = read_file_lean(&mut ch, &mut s, &[MF, 0x0001, 0x7103], Content::Tlv).unwrap();
        drop(ch);
        assert_eq!(got, der(300));
        assert_eq!(
            card.sent[0],
            [0x00, 0xA4, 0x09, 0x0C, 0x06, 0x3F, 0x00, 0x00, 0x01, 0x71, 0x03]
        );
        assert_eq!(
            card.sent.len(),
            3,
            "SELECT, two READs, no GET RESPONSE, no 6C"
        );
        assert_eq!(s.current_df.as_deref(), Some(&[MF, 0x0001][..]));
        // A read that fails leaves the position unknown.
        let mut card = Hostile {
            answer: |c: &[u8]| {
                if c[1] == 0xA4 {
                    vec![0x90, 0x00]
                } else {
                    vec![0x69, 0x86]
                }
            },
            sent: 0,
        };
        let mut ch = Channel::new(&mut card, Protocol::T0);
        assert!(read_file_lean(&mut ch, &mut s, &[MF, 0x0001, 0x7001], Content::Opaque).is_err());
        assert_eq!(s.current_df, None);
    }
}
