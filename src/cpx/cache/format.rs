//! The entry format: serialised and checked (magic, version, length, SHA-256 over all of it).
//! Decoding takes nothing on trust: every length is bounded by what is left of the input.

use super::{CacheKey, CachedFile, Entry, PinFacts, Reject, FORMAT_VERSION, MAGIC};
use crate::cpx::types::Generation;
use sha2::{Digest, Sha256};

// ---- the format ----------------------------------------------------------------------------
//
// MAGIC ‖ version u16 ‖ body length u32 ‖ body ‖ SHA-256(everything before)
// body: generation u8 ‖ PAN bytes16 ‖ ATR bytes16 ‖ created u64 ‖ opt(EF_ACTUA bytes16) ‖
//       opt(max tries u8 ‖ opt(PUK usage u16)) ‖ count u16 ‖ count × (FIDs: n u8 ‖ n × u16 ‖
//       content bytes32)
// bytes16/bytes32 = length (u16/u32) ‖ bytes; opt(x) = 0 | 1 ‖ x. All big-endian.

fn gen_code(g: Generation) -> u8 {
    match g {
        Generation::Cps3 => 3,
        Generation::Cps3Cl => 0x3C,
        Generation::Cps4 => 4,
    }
}

/// Serialises an entry.
pub fn encode(e: &Entry) -> Vec<u8> {
    let mut b = Vec::with_capacity(e.content_len() + 256);
    b.push(gen_code(e.key.generation));
    put16(&mut b, e.key.pan.as_bytes());
    put16(&mut b, &e.key.atr);
    b.extend_from_slice(&e.created.to_be_bytes());
    match &e.actua {
        Some(a) => {
            b.push(1);
            put16(&mut b, a);
        }
        None => b.push(0),
    }
    match e.pins {
        Some(p) => {
            b.extend_from_slice(&[1, p.max_tries]);
            match p.puk_usage_left {
                Some(u) => {
                    b.push(1);
                    b.extend_from_slice(&u.to_be_bytes());
                }
                None => b.push(0),
            }
        }
        None => b.push(0),
    }
    b.extend_from_slice(&(e.files.len().min(u16::MAX as usize) as u16).to_be_bytes());
    for f in e.files.iter().take(u16::MAX as usize) {
        b.push(f.path.len().min(255) as u8);
        for fid in f.path.iter().take(255) {
            b.extend_from_slice(&fid.to_be_bytes());
        }
        b.extend_from_slice(&(f.content.len() as u32).to_be_bytes());
        b.extend_from_slice(&f.content);
    }
    let mut out = Vec::with_capacity(b.len() + 46);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(&b);
    let hash = Sha256::digest(&out);
    out.extend_from_slice(&hash);
    out
}

fn put16(b: &mut Vec<u8>, v: &[u8]) {
    let n = v.len().min(u16::MAX as usize);
    b.extend_from_slice(&(n as u16).to_be_bytes());
    b.extend_from_slice(&v[..n]);
}

/// Parses and checks an entry (magic, version, length, hash, structure).
pub fn decode(bytes: &[u8]) -> Result<Entry, Reject> {
    const HEAD: usize = 8 + 2 + 4;
    if bytes.len() < HEAD {
        return Err(Reject::Truncated);
    }
    if &bytes[..8] != MAGIC {
        return Err(Reject::Corrupt("not a cache entry"));
    }
    let version = u16::from_be_bytes([bytes[8], bytes[9]]);
    let body_len = u32::from_be_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as usize;
    let total = HEAD
        .checked_add(body_len)
        .and_then(|n| n.checked_add(32))
        .ok_or(Reject::Corrupt("length"))?;
    if bytes.len() < total {
        return Err(Reject::Truncated);
    }
    if bytes.len() > total {
        return Err(Reject::Corrupt("trailing bytes"));
    }
    let (signed, hash) = bytes.split_at(HEAD + body_len);
    if Sha256::digest(signed).as_slice() != hash {
        return Err(Reject::Tampered);
    }
    // Checked after the hash: a damaged version field reads as damage, not as a version.
    if version != FORMAT_VERSION {
        return Err(Reject::Version(version));
    }
    let mut r = Cursor(&signed[HEAD..]);
    let generation = match r.u8()? {
        3 => Generation::Cps3,
        0x3C => Generation::Cps3Cl,
        4 => Generation::Cps4,
        _ => return Err(Reject::Corrupt("generation")),
    };
    let pan = String::from_utf8(r.bytes16()?.to_vec()).map_err(|_| Reject::Corrupt("PAN"))?;
    let atr = r.bytes16()?.to_vec();
    let created = r.u64()?;
    let actua = match r.u8()? {
        0 => None,
        1 => Some(r.bytes16()?.to_vec()),
        _ => return Err(Reject::Corrupt("EF_ACTUA flag")),
    };
    let pins = match r.u8()? {
        0 => None,
        1 => {
            let max_tries = r.u8()?;
            let puk_usage_left = match r.u8()? {
                0 => None,
                1 => Some(r.u16()?),
                _ => return Err(Reject::Corrupt("PUK flag")),
            };
            Some(PinFacts {
                max_tries,
                puk_usage_left,
            })
        }
        _ => return Err(Reject::Corrupt("PIN flag")),
    };
    let count = r.u16()?;
    let mut files = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let n = r.u8()?;
        let path = (0..n).map(|_| r.u16()).collect::<Result<Vec<_>, _>>()?;
        let len = r.u32()? as usize;
        let content = r.take(len)?.to_vec();
        files.push(CachedFile { path, content });
    }
    if !r.0.is_empty() {
        return Err(Reject::Corrupt("trailing body bytes"));
    }
    Ok(Entry {
        key: CacheKey {
            generation,
            pan,
            atr,
        },
        created,
        actua,
        pins,
        files,
    })
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Reject> {
        if self.0.len() < n {
            return Err(Reject::Corrupt("short body"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Reject> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Reject> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Reject> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Reject> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn bytes16(&mut self) -> Result<&'a [u8], Reject> {
        let n = self.u16()? as usize;
        self.take(n)
    }
}
