//! What `cpx diag` looks at outside the card, read-only: pcscd (program, process, socket,
//! PC/SC service), the module's files, its registration in p11-kit and in the user's NSS
//! databases (Firefox profiles, Chromium), other modules claiming the same cards, and the
//! card cache. Nothing here writes anything. Where `cpx register` already knows how to find
//! something (Firefox profiles, shared NSS databases, `pkcs11.txt` entries, p11-kit module
//! lines, p11-kit-proxy), its functions are used, so that diag looks where register writes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use cpx_pkcs11::config::CacheSettings;
use cpx_pkcs11::cpx::cache::CardCache;

use crate::register;

/// Where the user's files are (from the environment; tests pass their own).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub home: Option<PathBuf>,
    pub path: Option<OsString>,
}

fn non_empty(v: Option<OsString>) -> Option<PathBuf> {
    v.filter(|s| !s.is_empty()).map(PathBuf::from)
}

impl Env {
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var_os(k);
        Env {
            home: non_empty(var("HOME")),
            path: var("PATH"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// pcscd

/// `name` in `PATH` or in the system program directories.
pub fn find_program(env: &Env, name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = env
        .path
        .as_ref()
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Whether a process with this command name runs (from `/proc/*/comm`).
pub fn process_running(name: &str) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
            && fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
    })
}

/// pcsc-lite's socket (`PCSCLITE_CSOCK_NAME`, else its default), if it exists.
pub fn pcscd_socket() -> Option<PathBuf> {
    let p = std::env::var_os("PCSCLITE_CSOCK_NAME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/pcscd/pcscd.comm"));
    p.exists().then_some(p)
}

/// Whether the PC/SC service answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    Reachable,
    /// No pcscd answered (not running, socket missing, or no permission).
    Absent,
    Failed(String),
}

#[cfg(feature = "pcsc")]
pub fn pcsc_service() -> Service {
    match pcsc::Context::establish(pcsc::Scope::User) {
        Ok(ctx) => {
            let _ = ctx.release();
            Service::Reachable
        }
        Err(pcsc::Error::NoService) | Err(pcsc::Error::ServiceStopped) => Service::Absent,
        Err(e) => Service::Failed(e.to_string()),
    }
}

#[cfg(not(feature = "pcsc"))]
pub fn pcsc_service() -> Service {
    Service::Failed("this build of cpx has no PC/SC support".into())
}

// ---------------------------------------------------------------------------------------
// Modules

/// Who a PKCS#11 library is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// cpx-pkcs11 (also under a Cryptolib compatibility name that links to it).
    Ours,
    /// The Cryptolib CPS (ANS), a second module for the same cards.
    Cryptolib,
    /// OpenSC, whose IAS/ECC driver also claims CPS3 cards.
    OpenSc,
    /// p11-kit's proxy: it loads the modules p11-kit knows.
    P11KitProxy,
    Other,
}

/// The multiarch directory of this machine's libraries.
pub fn multiarch_dir() -> PathBuf {
    Path::new("/usr/lib").join(register::multiarch())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Classifies a library by its name and by the name of the file it resolves to.
pub fn classify(library: &Path) -> ModuleKind {
    let name = file_name(library);
    let real = fs::canonicalize(library)
        .map(|p| file_name(&p))
        .unwrap_or_else(|_| name.clone());
    if real.starts_with("libcpx_pkcs11") || name.starts_with("libcpx_pkcs11") {
        ModuleKind::Ours
    } else if register::is_proxy(&library.to_string_lossy()) {
        ModuleKind::P11KitProxy
    } else if name.contains("cps3_pkcs11") || name.contains("cps_pkcs11") {
        ModuleKind::Cryptolib
    } else if name.contains("opensc-pkcs11") || real.contains("opensc-pkcs11") {
        ModuleKind::OpenSc
    } else {
        ModuleKind::Other
    }
}

/// Where the package and `scripts/install.sh` put the module.
pub fn module_candidates() -> Vec<PathBuf> {
    let ma = multiarch_dir();
    vec![
        ma.join("libcpx_pkcs11.so"),
        ma.join("pkcs11/libcpx_pkcs11.so"),
        PathBuf::from("/usr/local/lib/libcpx_pkcs11.so"),
        PathBuf::from("/usr/lib64/libcpx_pkcs11.so"),
        PathBuf::from("/usr/lib/libcpx_pkcs11.so"),
    ]
}

pub fn installed_module() -> Option<PathBuf> {
    module_candidates().into_iter().find(|p| p.is_file())
}

/// Cryptolib libraries installed on this machine (real files, not links to our module).
pub fn cryptolib_files() -> Vec<PathBuf> {
    let ma = multiarch_dir();
    [
        PathBuf::from("/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so"),
        PathBuf::from("/usr/lib64/libcps3_pkcs11_lux.so"),
        PathBuf::from("/usr/local/galss/libcps3_pkcs11_lux.so"),
        ma.join("libcps3_pkcs11_lux.so"),
    ]
    .into_iter()
    .filter(|p| p.is_file() && classify(p) == ModuleKind::Cryptolib)
    .collect()
}

/// A module some configuration registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The module's name in that configuration (p11-kit: the file name without `.module`).
    pub name: String,
    pub library: PathBuf,
    pub kind: ModuleKind,
}

/// p11-kit's module directories, system first, then the administrator's, then the user's
/// (a later file of the same name replaces an earlier one).
pub fn p11kit_dirs(env: &Env) -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/usr/share/p11-kit/modules"),
        PathBuf::from("/etc/pkcs11/modules"),
    ];
    if let Some(home) = &env.home {
        dirs.push(register::xdg("XDG_CONFIG_HOME", home, ".config").join("pkcs11/modules"));
    }
    dirs
}

/// The `module:` of a p11-kit module file; a relative path is in p11-kit's module
/// directory.
pub fn parse_p11kit_module(text: &str) -> Option<PathBuf> {
    let p = PathBuf::from(register::p11kit_module_line(text)?);
    Some(if p.is_absolute() {
        p
    } else {
        multiarch_dir().join("pkcs11").join(p)
    })
}

pub fn p11kit_modules(env: &Env) -> Vec<Registered> {
    let mut by_name: BTreeMap<String, Option<Registered>> = BTreeMap::new();
    for dir in p11kit_dirs(env) {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if f.extension().and_then(|e| e.to_str()) != Some("module") {
                continue;
            }
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = fs::read_to_string(&f).unwrap_or_default();
            let reg = parse_p11kit_module(&text).map(|library| Registered {
                name: name.clone(),
                kind: classify(&library),
                library,
            });
            by_name.insert(name, reg);
        }
    }
    by_name.into_values().flatten().collect()
}

/// One NSS database of the user.
#[derive(Debug, Clone)]
pub struct NssDb {
    /// `firefox` or `chromium`.
    pub app: &'static str,
    /// The Firefox profile's directory name, or the database directory for Chromium.
    pub label: String,
    pub dir: PathBuf,
    /// The modules of `pkcs11.txt`, or why they could not be read.
    pub modules: Result<Vec<Registered>, String>,
}

fn read_nss_db(dir: &Path) -> Result<Vec<Registered>, String> {
    Ok(register::entries(dir)?
        .into_iter()
        .map(|e| {
            let library = PathBuf::from(e.library);
            Registered {
                name: e.name.trim_matches('"').to_string(),
                kind: classify(&library),
                library,
            }
        })
        .collect())
}

/// The user's NSS databases, where `cpx register` looks: each Firefox profile, and the
/// shared databases (Chromium's) that exist.
pub fn nss_dbs(env: &Env) -> Vec<NssDb> {
    let Some(home) = &env.home else {
        return Vec::new();
    };
    let mut out: Vec<NssDb> = register::firefox_profiles(home)
        .into_iter()
        .map(|dir| NssDb {
            app: "firefox",
            label: file_name(&dir),
            modules: read_nss_db(&dir),
            dir,
        })
        .collect();
    let shared = [
        register::xdg("XDG_DATA_HOME", home, ".local/share").join("pki/nssdb"),
        home.join(".pki/nssdb"),
    ];
    for dir in shared.into_iter().filter(|d| register::has_db(d)) {
        out.push(NssDb {
            app: "chromium",
            label: dir.display().to_string(),
            modules: read_nss_db(&dir),
            dir,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------
// Cache

/// The card cache (the module's settings: `CPX_PKCS11_CACHE`, `CPX_PKCS11_CACHE_DIR`, the
/// administrator's file) and what is in it, read through the module's own cache code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheState {
    pub dir: PathBuf,
    pub disabled: bool,
    pub exists: bool,
    /// Entries the module would use.
    pub entries: usize,
    /// Entries it would discard and rebuild (corrupt, truncated, old version…).
    pub damaged: usize,
    pub bytes: u64,
    /// The directory is private to its owner (no group/other permission bits).
    pub private: bool,
    /// Owned by the user running `cpx`.
    pub owned: bool,
}

/// `None` when there is no cache directory at all (no HOME).
pub fn cache_state(settings: &CacheSettings) -> Option<CacheState> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = settings.dir.clone()?;
    let meta = fs::metadata(&dir).ok();
    let me = fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let listed = CardCache::new(&dir).list();
    let damaged = listed.iter().filter(|l| l.entry.is_err()).count();
    Some(CacheState {
        exists: meta.as_ref().is_some_and(fs::Metadata::is_dir),
        private: meta
            .as_ref()
            .map_or(true, |m| m.permissions().mode() & 0o077 == 0),
        owned: match (&meta, me) {
            (Some(m), Some(uid)) => m.uid() == uid,
            _ => true,
        },
        disabled: !settings.enabled,
        entries: listed.len() - damaged,
        damaged,
        bytes: listed.iter().map(|l| l.bytes).sum(),
        dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p11kit_module_lines() {
        assert_eq!(
            parse_p11kit_module("# x\nmodule: /opt/x/libcpx_pkcs11.so\ncritical: no\n"),
            Some(PathBuf::from("/opt/x/libcpx_pkcs11.so"))
        );
        assert_eq!(
            parse_p11kit_module("module:libcpx_pkcs11.so"),
            Some(multiarch_dir().join("pkcs11/libcpx_pkcs11.so"))
        );
        assert_eq!(parse_p11kit_module("critical: yes\n"), None);
        assert_eq!(parse_p11kit_module("modules: x\n"), None);
    }

    #[test]
    fn module_kinds() {
        assert_eq!(classify(Path::new("/x/libcpx_pkcs11.so")), ModuleKind::Ours);
        assert_eq!(
            classify(Path::new("/nonexistent-cpx-test/libcps3_pkcs11_lux.so")),
            ModuleKind::Cryptolib
        );
        // A compatibility name linking to our module is ours (the package installs them,
        // e.g. /opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so).
        let dir = std::env::temp_dir().join(format!("cpx-classify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libcpx_pkcs11.so"), b"").unwrap();
        let compat = dir.join("libcps3_pkcs11_lux.so");
        let _ = std::fs::remove_file(&compat);
        std::os::unix::fs::symlink("libcpx_pkcs11.so", &compat).unwrap();
        assert_eq!(classify(&compat), ModuleKind::Ours);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(classify(Path::new("opensc-pkcs11.so")), ModuleKind::OpenSc);
        assert_eq!(
            classify(Path::new("/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so")),
            ModuleKind::P11KitProxy
        );
        assert_eq!(classify(Path::new("libfoo.so")), ModuleKind::Other);
    }
}
