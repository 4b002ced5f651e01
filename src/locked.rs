//! Secrets the module keeps for a while — the user PIN of the PIN cache
//! (`CPX_PKCS11_PIN_CACHE=on`, `docs/security.md`) — in memory of their own: one anonymous
//! mapping per secret, locked in RAM (`mlock`: never written to swap), excluded from core
//! dumps (`MADV_DONTDUMP`), wiped in a forked child (`MADV_WIPEONFORK`), zeroised and unmapped
//! when dropped. `Debug` shows the length only.
//!
//! This leaf is, with `abi`, the only module allowed `unsafe` code (`lib.rs`): four libc
//! calls on a mapping it owns. Why not a crate: `memsec` offers the same calls as `unsafe`
//! functions (the unsafety would move, not go), `region` has no `MADV_DONTDUMP`, `secrets`
//! and `libsodium-sys` bring a C library; the code here is short and each block says why it
//! is sound. On systems other than Linux the secret lives in a zeroised heap buffer.

use zeroize::Zeroize;

/// A secret in locked, non-dumped memory.
pub struct LockedSecret {
    inner: imp::Storage,
}

impl LockedSecret {
    pub fn new(bytes: &[u8]) -> LockedSecret {
        LockedSecret {
            inner: imp::Storage::new(bytes),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.inner.bytes()
    }

    /// The memory is locked in RAM (false if `mlock` was refused, e.g. RLIMIT_MEMLOCK).
    pub fn is_locked(&self) -> bool {
        self.inner.locked()
    }

    /// Address of the first byte (tests look the mapping up in `/proc/self/smaps`).
    pub fn address(&self) -> usize {
        self.inner.bytes().as_ptr() as usize
    }
}

impl std::ops::Deref for LockedSecret {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Clone for LockedSecret {
    fn clone(&self) -> Self {
        LockedSecret::new(self.as_bytes())
    }
}

impl std::fmt::Debug for LockedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LockedSecret(<{} bytes>)", self.as_bytes().len())
    }
}

impl PartialEq for LockedSecret {
    fn eq(&self, other: &Self) -> bool {
        // Not constant-time: only tests compare secrets.
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for LockedSecret {}

#[cfg(target_os = "linux")]
mod imp {
    use super::Zeroize;
    use std::ptr::NonNull;
    use std::sync::Once;

    /// One private anonymous mapping, owned by this value alone.
    pub struct Storage {
        base: Option<NonNull<u8>>,
        map_len: usize,
        len: usize,
        locked: bool,
        /// Used only when the mapping could not be made (out of memory).
        heap: zeroize::Zeroizing<Vec<u8>>,
    }

    // SAFETY: the mapping is owned exclusively by this value (never aliased or shared), so
    // moving it to another thread or reading it from several is as safe as for a Vec<u8>.
    unsafe impl Send for Storage {}
    // SAFETY: as above; shared access only reads.
    unsafe impl Sync for Storage {}

    static WARN_MLOCK: Once = Once::new();

    impl Storage {
        pub fn new(bytes: &[u8]) -> Storage {
            // SAFETY: sysconf has no memory-safety preconditions.
            let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
                .ok()
                .filter(|p| *p > 0)
                .unwrap_or(4096);
            let map_len = bytes.len().max(1).div_ceil(page) * page;
            // SAFETY: a new private anonymous mapping; no existing memory is touched.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    map_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                log::warn!("kept PIN: no memory for a locked page; using the heap");
                return Storage {
                    base: None,
                    map_len: 0,
                    len: bytes.len(),
                    locked: false,
                    heap: zeroize::Zeroizing::new(bytes.to_vec()),
                };
            }
            // SAFETY (both calls): `p` is the start of our mapping of `map_len` bytes.
            // Advice and locking fail only with an error code, which we report.
            let dontdump = unsafe { libc::madvise(p, map_len, libc::MADV_DONTDUMP) } == 0;
            // MADV_WIPEONFORK (Linux 4.14+): a forked child sees zeros, not the PIN.
            // SAFETY: as above.
            let _ = unsafe { libc::madvise(p, map_len, libc::MADV_WIPEONFORK) };
            // SAFETY: as above.
            let locked = unsafe { libc::mlock(p, map_len) } == 0;
            if !locked || !dontdump {
                WARN_MLOCK.call_once(|| {
                    log::warn!(
                        "kept PIN: mlock {} / MADV_DONTDUMP {} (RLIMIT_MEMLOCK?)",
                        if locked { "ok" } else { "refused" },
                        if dontdump { "ok" } else { "refused" }
                    )
                });
            }
            let base = NonNull::new(p.cast::<u8>());
            if let Some(b) = base {
                // SAFETY: the mapping is writable, `map_len >= bytes.len()`, and it cannot
                // overlap `bytes` (it is new).
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), b.as_ptr(), bytes.len()) };
            }
            Storage {
                base,
                map_len,
                len: bytes.len(),
                locked,
                heap: zeroize::Zeroizing::new(Vec::new()),
            }
        }

        pub fn bytes(&self) -> &[u8] {
            match self.base {
                // SAFETY: `len <= map_len` bytes of our live mapping, initialised by `new`;
                // the borrow of `self` keeps the mapping alive.
                Some(b) => unsafe { std::slice::from_raw_parts(b.as_ptr(), self.len) },
                None => &self.heap,
            }
        }

        pub fn locked(&self) -> bool {
            self.locked
        }
    }

    impl Drop for Storage {
        fn drop(&mut self) {
            if let Some(b) = self.base {
                // SAFETY: the whole mapping is ours and no borrow of it outlives `self`.
                let all = unsafe { std::slice::from_raw_parts_mut(b.as_ptr(), self.map_len) };
                all.zeroize();
                // SAFETY: unlock and unmap exactly the mapping made in `new`; nothing
                // points into it any more.
                unsafe {
                    if self.locked {
                        libc::munlock(b.as_ptr().cast(), self.map_len);
                    }
                    libc::munmap(b.as_ptr().cast(), self.map_len);
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    /// Elsewhere: a zeroised heap buffer (not locked, not excluded from dumps).
    pub struct Storage(zeroize::Zeroizing<Vec<u8>>);

    impl Storage {
        pub fn new(bytes: &[u8]) -> Storage {
            Storage(zeroize::Zeroizing::new(bytes.to_vec()))
        }
        pub fn bytes(&self) -> &[u8] {
            &self.0
        }
        pub fn locked(&self) -> bool {
            false
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The VmFlags of the mapping that holds `addr`, from /proc/self/smaps.
    fn vm_flags(addr: usize) -> Option<Vec<String>> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((a, b)) = range.split_once('-') {
                    if let (Ok(a), Ok(b)) =
                        (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                    {
                        inside = (a..b).contains(&addr);
                        continue;
                    }
                }
            }
            if inside {
                if let Some(flags) = line.strip_prefix("VmFlags:") {
                    return Some(flags.split_whitespace().map(String::from).collect());
                }
            }
        }
        None
    }

    #[test]
    fn kept_secret_is_locked_and_not_dumped() {
        let s = LockedSecret::new(b"1234");
        assert_eq!(&*s, b"1234");
        let flags = vm_flags(s.address()).expect("mapping in smaps");
        // dd: VM_DONTDUMP (MADV_DONTDUMP); lo: VM_LOCKED (mlock), when allowed.
        assert!(flags.iter().any(|f| f == "dd"), "VmFlags {flags:?}");
        if s.is_locked() {
            assert!(flags.iter().any(|f| f == "lo"), "VmFlags {flags:?}");
        }
        // As root (the tests' environment) mlock must succeed.
        // SAFETY: geteuid has no preconditions.
        #[allow(unsafe_code)]
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            assert!(s.is_locked());
        }
        let addr = s.address();
        drop(s);
        assert!(
            vm_flags(addr).is_none_or(|f| !f.iter().any(|x| x == "dd")),
            "the page is unmapped on drop"
        );
    }

    #[test]
    fn clone_is_a_separate_page_and_debug_hides_the_value() {
        let a = LockedSecret::new(b"98765432");
        let b = a.clone();
        assert_eq!(a, b);
        assert_ne!(a.address(), b.address());
        let d = format!("{a:?}");
        assert!(!d.contains("9876"), "{d}");
        assert!(d.contains("8 bytes"));
        let long = LockedSecret::new(&[7u8; 10_000]);
        assert_eq!(long.len(), 10_000);
        assert!(long.iter().all(|b| *b == 7));
        let empty = LockedSecret::new(b"");
        assert!(empty.is_empty());
    }
}
