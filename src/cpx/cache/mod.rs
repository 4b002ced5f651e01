//! The persistent per-user card cache: what never changes on a given card, so a new process
//! binds a known card in a few APDUs instead of reading ~4 kB at 9600 bit/s
//! (`cryptolib-compat.md` §11; the Cryptolib's corrupted cache made cards unusable, §15 #7:
//! ours checks every entry and falls back to the card).
//!
//! * **What**: the raw public files the bind reads (PKCS#15 directory files, certificates,
//!   public data objects other than modifiable ones) with their paths, the card's EF_ACTUA
//!   content (CPS3), and the PIN maximum counters (CPS3 DOCP). Never: PINs, login state,
//!   private data objects, modifiable data objects (`CPS_DATA` is read from the card when
//!   asked and written through).
//! * **Where**: one file per card, `<dir>/<generation>-<PAN>.bin`; the directory is created
//!   0700, files 0600, written to a unique temporary file and renamed over the entry
//!   (atomic: two processes writing at once leave one whole entry).
//! * **Keyed** by generation + PAN (EF.SN), checked against the ATR too; on CPS3 the entry
//!   is used only if EF_ACTUA (the card-update dates) is unchanged; every entry has a
//!   maximum age (CPS4 offers no update marker: `MAX_AGE_CPS4`).
//! * **Integrity**: magic, format version, body length, SHA-256 over all of it. Anything
//!   wrong (truncated, corrupt, tampered, another version, another card) → the entry is
//!   deleted, one log line, and the card is read. An unusable directory → no cache, never
//!   an error.

mod format;

pub use format::{decode, encode};

use super::types::Generation;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// First bytes of every entry.
const MAGIC: &[u8; 8] = b"CPXCACHE";
/// Format version; an entry of another version is discarded and rebuilt.
pub const FORMAT_VERSION: u16 = 1;
/// Entries larger than this are not read (a card holds a few kB).
const MAX_ENTRY: u64 = 1 << 20;
/// Age after which a CPS3 entry is read again although EF_ACTUA did not change.
pub const MAX_AGE_CPS3: Duration = Duration::from_secs(30 * 24 * 3600);
/// Age after which a CPS4 entry is read again (no EF_ACTUA check on CPS4: the card offers no
/// update marker, `cpx-cards.md` §10.1).
pub const MAX_AGE_CPS4: Duration = Duration::from_secs(24 * 3600);
/// File name suffix of entries.
const SUFFIX: &str = ".bin";

/// Which card an entry belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub generation: Generation,
    /// EF.SN PAN digits.
    pub pan: String,
    pub atr: Vec<u8>,
}

/// One file as the bind read it: absolute path (FIDs from 3F00) and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    pub path: Vec<u16>,
    pub content: Vec<u8>,
}

/// PIN counters that never change (CPS3 DOCP `9A` of the PIN; the PUK's unblock counter is
/// kept only as a starting value: it is read again whenever the PIN is blocked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinFacts {
    pub max_tries: u8,
    pub puk_usage_left: Option<u16>,
}

/// What the cache holds for one card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: CacheKey,
    /// Seconds since the epoch when the card was read.
    pub created: u64,
    /// CPS3: EF_ACTUA content at the time (`None`: the card has none).
    pub actua: Option<Vec<u8>>,
    pub pins: Option<PinFacts>,
    pub files: Vec<CachedFile>,
}

impl Entry {
    pub fn new(key: CacheKey) -> Entry {
        Entry {
            key,
            created: now_secs(),
            actua: None,
            pins: None,
            files: Vec::new(),
        }
    }

    pub fn file(&self, path: &[u16]) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.content.as_slice())
    }

    /// Content bytes of all files.
    pub fn content_len(&self) -> usize {
        self.files.iter().map(|f| f.content.len()).sum()
    }

    /// How old the entry is (0 if its time is in the future).
    pub fn age(&self) -> Duration {
        Duration::from_secs(now_secs().saturating_sub(self.created))
    }

    fn max_age(&self) -> Duration {
        match self.key.generation {
            Generation::Cps4 => MAX_AGE_CPS4,
            _ => MAX_AGE_CPS3,
        }
    }
}

/// Why an entry was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    Truncated,
    Corrupt(&'static str),
    /// The hash does not match the content.
    Tampered,
    Version(u16),
    /// The entry names another card (or the same PAN with another ATR).
    OtherCard,
    Expired,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reject::Truncated => write!(f, "truncated"),
            Reject::Corrupt(why) => write!(f, "corrupt ({why})"),
            Reject::Tampered => write!(f, "content does not match its hash"),
            Reject::Version(v) => write!(f, "format version {v}, expected {FORMAT_VERSION}"),
            Reject::OtherCard => write!(f, "belongs to another card"),
            Reject::Expired => write!(f, "older than its maximum age"),
        }
    }
}

/// An enabled cache in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCache {
    dir: PathBuf,
}

/// One entry as `cpx cache show` lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub file: PathBuf,
    pub bytes: u64,
    /// The entry, or why it would be discarded.
    pub entry: Result<Entry, Reject>,
}

impl CardCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> CardCache {
        CardCache { dir: dir.into() }
    }

    /// From the configuration: `None` when switched off or no directory is known.
    pub fn from_settings(s: &crate::config::CacheSettings) -> Option<CardCache> {
        match (s.enabled, &s.dir) {
            (true, Some(d)) => Some(CardCache::new(d)),
            _ => None,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry file of a card.
    pub fn path_of(&self, generation: Generation, pan: &str) -> PathBuf {
        let gen = match generation {
            Generation::Cps3 => "cps3",
            Generation::Cps3Cl => "cps3cl",
            Generation::Cps4 => "cps4",
        };
        // PANs are digits; anything else is hex-encoded so it cannot name another path.
        let safe = if !pan.is_empty() && pan.bytes().all(|b| b.is_ascii_alphanumeric()) {
            pan.to_string()
        } else {
            pan.bytes().map(|b| format!("{b:02x}")).collect()
        };
        self.dir.join(format!("{gen}-{safe}{SUFFIX}"))
    }

    /// The valid entry of the card `key`, if any. An entry that is not valid for this card is
    /// deleted (one log line); the caller then reads the card and stores a new one.
    pub fn load(&self, key: &CacheKey) -> Option<Entry> {
        let path = self.path_of(key.generation, &key.pan);
        let bytes = read_bounded(&path)?;
        match decode(&bytes).and_then(|e| {
            if e.key != *key {
                Err(Reject::OtherCard)
            } else if e.age() > e.max_age() {
                Err(Reject::Expired)
            } else {
                Ok(e)
            }
        }) {
            Ok(e) => Some(e),
            Err(why) => {
                log::info!(
                    "card cache: {} discarded ({why}); reading the card",
                    path.display()
                );
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Writes `entry` (temporary file + rename). Never fails: a directory that cannot be
    /// created or written means no cache (logged at debug level).
    pub fn store(&self, entry: &Entry) {
        if let Err(e) = self.try_store(entry) {
            log::debug!("card cache: not written in {}: {e}", self.dir.display());
        }
    }

    fn try_store(&self, entry: &Entry) -> std::io::Result<()> {
        self.ensure_dir()?;
        let target = self.path_of(entry.key.generation, &entry.key.pan);
        let bytes = encode(entry);
        let tmp = self.dir.join(temp_name(&bytes));
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.flush()?;
            drop(f);
            fs::rename(&tmp, &target)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Creates the directory 0700 (parents as the umask says); an existing one must be a
    /// directory, and is narrowed to 0700 if it is open to others.
    fn ensure_dir(&self) -> std::io::Result<()> {
        match fs::symlink_metadata(&self.dir) {
            Ok(m) if m.is_dir() => {
                if m.permissions().mode() & 0o077 != 0 {
                    fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))?;
                }
                Ok(())
            }
            Ok(_) => Err(std::io::Error::other("not a directory")),
            Err(_) => {
                if let Some(parent) = self.dir.parent() {
                    fs::create_dir_all(parent)?;
                }
                match fs::DirBuilder::new().mode(0o700).create(&self.dir) {
                    Ok(()) => Ok(()),
                    // Another process was quicker.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Every entry file (and leftover temporary file) in the directory.
    pub fn list(&self) -> Vec<Listed> {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<Listed> = dir
            .flatten()
            .filter(|d| d.file_name().to_string_lossy().ends_with(SUFFIX))
            .map(|d| {
                let file = d.path();
                let bytes = d.metadata().map(|m| m.len()).unwrap_or(0);
                let entry = match read_bounded(&file) {
                    Some(b) => decode(&b),
                    None => Err(Reject::Truncated),
                };
                Listed { file, bytes, entry }
            })
            .collect();
        out.sort_by(|a, b| a.file.cmp(&b.file));
        out
    }

    /// Deletes every entry and temporary file; returns how many files were removed.
    pub fn clear(&self) -> std::io::Result<usize> {
        let dir = match fs::read_dir(&self.dir) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut n = 0;
        for d in dir.flatten() {
            let name = d.file_name().to_string_lossy().into_owned();
            if name.ends_with(SUFFIX) || name.ends_with(".tmp") {
                fs::remove_file(d.path())?;
                n += 1;
            }
        }
        Ok(n)
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A name no other writer uses: pid, time, and the address of the caller's buffer (unique
/// among the process's live allocations; the file is created with O_EXCL anyway). No
/// thread-local is touched: a library can be unloaded before its threads end.
fn temp_name(unique: &[u8]) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        ".entry-{}-{nanos}-{:x}.tmp",
        std::process::id(),
        unique.as_ptr() as usize
    )
}

/// Reads a regular file of at most `MAX_ENTRY` bytes; anything else is "no entry".
fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    let m = fs::symlink_metadata(path).ok()?;
    if !m.is_file() || m.len() > MAX_ENTRY {
        return None;
    }
    fs::read(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    pub(crate) fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("cpx-cache-unit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn sample() -> Entry {
        let mut e = Entry::new(CacheKey {
            generation: Generation::Cps3,
            pan: "802500000199700011".into(),
            atr: vec![0x3B, 0xAC, 0x00],
        });
        e.actua = Some(vec![0xEC, 0x02, 0x81, 0x00]);
        e.pins = Some(PinFacts {
            max_tries: 3,
            puk_usage_left: Some(100),
        });
        e.files.push(CachedFile {
            path: vec![0x3F00, 0x0001, 0x5031],
            content: vec![0xA8, 0x06, 1, 2, 3, 4, 5, 6],
        });
        e.files.push(CachedFile {
            path: vec![0x3F00, 0x0001, 0x7005],
            content: vec![0x30; 300],
        });
        e
    }

    #[test]
    fn round_trip() {
        let e = sample();
        assert_eq!(decode(&encode(&e)), Ok(e.clone()));
        let mut bare = e;
        bare.actua = None;
        bare.pins = None;
        bare.files.clear();
        assert_eq!(decode(&encode(&bare)), Ok(bare));
    }

    #[test]
    fn every_damage_is_detected() {
        let good = encode(&sample());
        // Every truncation.
        for n in 0..good.len() {
            assert!(decode(&good[..n]).is_err(), "truncated to {n}");
        }
        // Every single-byte change.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert!(decode(&bad).is_err(), "byte {i} flipped");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        // A consistent entry of another format version.
        let mut other = good[..good.len() - 32].to_vec();
        other[9] = 2;
        let h = Sha256::digest(&other);
        other.extend_from_slice(&h);
        assert_eq!(decode(&other), Err(Reject::Version(2)));
    }

    #[test]
    fn store_load_list_clear() {
        let dir = scratch("basic");
        let c = CardCache::new(&dir);
        let e = sample();
        assert_eq!(c.load(&e.key), None);
        c.store(&e);
        assert_eq!(c.load(&e.key), Some(e.clone()));
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let file = c.path_of(e.key.generation, &e.key.pan);
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Another ATR: not this card's entry; discarded.
        let mut other = e.key.clone();
        other.atr.push(0);
        assert_eq!(c.load(&other), None);
        assert!(!file.exists(), "a wrong entry is deleted");
        c.store(&e);
        let listed = c.list();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].entry.as_ref().ok(), Some(&e));
        assert_eq!(c.clear().unwrap(), 1);
        assert!(c.list().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn expired_entries_are_dropped() {
        let dir = scratch("age");
        let c = CardCache::new(&dir);
        let mut e = sample();
        e.key.generation = Generation::Cps4;
        e.created = now_secs() - MAX_AGE_CPS4.as_secs() - 10;
        c.store(&e);
        assert_eq!(c.load(&e.key), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn odd_pans_stay_in_the_directory() {
        let c = CardCache::new("/x");
        assert_eq!(
            c.path_of(Generation::Cps4, "../etc"),
            PathBuf::from("/x/cps4-2e2e2f657463.bin")
        );
        assert_eq!(
            c.path_of(Generation::Cps3Cl, "8025"),
            PathBuf::from("/x/cps3cl-8025.bin")
        );
    }

    #[test]
    fn unusable_directories_mean_no_cache() {
        let dir = scratch("unusable");
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain-file");
        fs::write(&file, b"x").unwrap();
        let e = sample();
        // A file where the directory should be, and a directory below a file.
        for d in [file.clone(), file.join("sub")] {
            let c = CardCache::new(&d);
            c.store(&e);
            assert_eq!(c.load(&e.key), None);
            assert!(c.list().is_empty());
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_open_to_others_is_narrowed() {
        let dir = scratch("narrow");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let c = CardCache::new(&dir);
        c.store(&sample());
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        fs::remove_dir_all(&dir).unwrap();
    }
}
