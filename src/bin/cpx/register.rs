//! `cpx register` / `cpx unregister`: adds the module to (or removes it from) the user's NSS
//! databases with NSS's own tools (`modutil`, `certutil` from libnss3-tools), so that Firefox
//! and Chromium offer the card's certificates (`cryptolib-compat.md` §13).
//!
//! ```text
//! cpx register   [--module PATH] [--name NAME] [--db DIR]... firefox|chromium|nss|all
//! cpx unregister [--name NAME] [--db DIR]... firefox|chromium|nss|all
//! ```
//!
//! * `firefox`: every profile listed in a `profiles.ini` (`~/.mozilla/firefox`, the XDG
//!   location `~/.config/mozilla/firefox`, the snap and flatpak locations). A profile without
//!   an NSS database gets one (`certutil -N --empty-password`), as Firefox would create it.
//! * `chromium` and `nss`: the user's shared NSS database, which Chromium, Chrome and other NSS
//!   applications read: `~/.local/share/pki/nssdb` and/or `~/.pki/nssdb`, whichever exist;
//!   when neither does, `~/.pki/nssdb` is created. `--db DIR` names the databases instead.
//! * `all`: both (no Firefox profile is then a note, not an error).
//!
//! Idempotent: a database that already lists the module under NAME with the same library is
//! left alone; one listing another library under NAME is updated. What is registered is read
//! back from the database's `pkcs11.txt`.
//!
//! The same library loaded twice in one process (registered here and also reached through
//! p11-kit-proxy, or under another name such as the ANS extension's `cps3`) is reported as a
//! note: it works — the module answers the second C_Initialize with
//! CKR_CRYPTOKI_ALREADY_INITIALIZED, which NSS and p11-kit accept — but the card then shows
//! as two tokens with the same certificates.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::{Args, ValueEnum};

/// The module's name in NSS databases.
pub const DEFAULT_NAME: &str = "cpx-pkcs11";
/// The module's file name.
const LIBRARY: &str = "libcpx_pkcs11.so";

/// Where to register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Every Firefox profile of the user
    Firefox,
    /// Chromium's (and Chrome's) NSS database
    Chromium,
    /// The user's shared NSS database (the one Chromium reads), or the --db directories
    Nss,
    /// Firefox profiles and the shared NSS database
    All,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[arg(value_enum)]
    target: Target,
    /// The PKCS#11 library to register (default: the installed libcpx_pkcs11.so, or the
    /// one next to this program)
    #[arg(long, value_name = "PATH")]
    module: Option<PathBuf>,
    /// The module's name in the NSS databases
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
    /// An NSS database directory to use instead of the user's (repeatable; with `nss`)
    #[arg(long, value_name = "DIR")]
    db: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UnregisterArgs {
    #[arg(value_enum)]
    target: Target,
    /// The module's name in the NSS databases
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
    /// An NSS database directory to use instead of the user's (repeatable; with `nss`)
    #[arg(long, value_name = "DIR")]
    db: Vec<PathBuf>,
}

/// One NSS database and what it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Db {
    dir: PathBuf,
    what: String,
    /// Create it when absent.
    create: bool,
}

/// `cpx register`: what to print, or the error.
pub fn register(args: &RegisterArgs) -> Result<String, String> {
    let module = match &args.module {
        Some(p) => fs::canonicalize(p).map_err(|e| format!("module {}: {e}", p.display()))?,
        None => default_module()?,
    };
    let mut out = String::new();
    let dbs = databases(args.target, &args.db, &mut out)?;
    let p11kit = p11kit_files_for(&module);
    let mut failed = Vec::new();
    for db in &dbs {
        match register_in(db, &args.name, &module, &p11kit, &mut out) {
            Ok(()) => {}
            Err(e) => {
                let what = &db.what;
                let _ = writeln!(
                    out,
                    "{}",
                    tr!("échec : {what} : {e}", "failed: {what}: {e}")
                );
                failed.push(db.what.clone());
            }
        }
    }
    finish(out, &failed)
}

/// `cpx unregister`.
pub fn unregister(args: &UnregisterArgs) -> Result<String, String> {
    let mut out = String::new();
    let dbs = databases(args.target, &args.db, &mut out)?;
    let mut failed = Vec::new();
    for db in &dbs {
        if let Err(e) = unregister_in(db, &args.name, &mut out) {
            let what = &db.what;
            let _ = writeln!(
                out,
                "{}",
                tr!("échec : {what} : {e}", "failed: {what}: {e}")
            );
            failed.push(db.what.clone());
        }
    }
    finish(out, &failed)
}

fn finish(out: String, failed: &[String]) -> Result<String, String> {
    if failed.is_empty() {
        Ok(out)
    } else {
        // The successes were done: print them with the error.
        let n = failed.len();
        Err(tr!(
            "{out}{n} base(s) en échec",
            "{out}{n} database(s) failed"
        ))
    }
}

// --- which databases ---------------------------------------------------------------------

fn home() -> Result<PathBuf, String> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| "HOME is not set".to_string())
}

/// An XDG base directory: `$VAR` if absolute, else `$HOME/DEFAULT`.
pub fn xdg(var: &str, home: &Path, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(default))
}

fn databases(target: Target, explicit: &[PathBuf], out: &mut String) -> Result<Vec<Db>, String> {
    if !explicit.is_empty() {
        if target != Target::Nss {
            return Err(tr!(
                "--db va avec la cible « nss »",
                "--db goes with the target `nss`"
            ));
        }
        return Ok(explicit
            .iter()
            .map(|d| Db {
                dir: d.clone(),
                what: tr!("la base NSS {}", "the NSS database {}", d.display()),
                create: true,
            })
            .collect());
    }
    let home = home()?;
    let mut dbs = Vec::new();
    if matches!(target, Target::Firefox | Target::All) {
        let profiles = firefox_profiles(&home);
        if profiles.is_empty() {
            let msg = tr!(
                "aucun profil Firefox trouvé (pas de profiles.ini dans ~/.mozilla/firefox ni \
                 ~/.config/mozilla/firefox) : lancez Firefox une fois, ou voyez la politique \
                 d'entreprise SecurityDevices",
                "no Firefox profile found (no profiles.ini under ~/.mozilla/firefox or \
                 ~/.config/mozilla/firefox): start Firefox once, or see the SecurityDevices \
                 enterprise policy"
            );
            if target == Target::Firefox {
                return Err(msg);
            }
            let _ = writeln!(out, "{}", tr!("remarque : {msg}", "note: {msg}"));
        }
        dbs.extend(profiles.into_iter().map(|p| Db {
            what: tr!(
                "le profil Firefox {}",
                "the Firefox profile {}",
                p.display()
            ),
            dir: p,
            create: true,
        }));
    }
    if matches!(target, Target::Chromium | Target::Nss | Target::All) {
        dbs.extend(shared_dbs(&home));
    }
    Ok(dbs)
}

/// The shared NSS database(s): the XDG one and/or `~/.pki/nssdb`, whichever exist; else a new
/// `~/.pki/nssdb` (where Chromium on Linux looks).
fn shared_dbs(home: &Path) -> Vec<Db> {
    let xdg_db = xdg("XDG_DATA_HOME", home, ".local/share").join("pki/nssdb");
    let legacy = home.join(".pki/nssdb");
    let mut v: Vec<Db> = [&xdg_db, &legacy]
        .into_iter()
        .filter(|d| has_db(d))
        .map(|d| Db {
            dir: d.clone(),
            what: tr!(
                "la base NSS partagée {}",
                "the shared NSS database {}",
                d.display()
            ),
            create: false,
        })
        .collect();
    if v.is_empty() {
        v.push(Db {
            what: tr!(
                "la base NSS partagée {}",
                "the shared NSS database {}",
                legacy.display()
            ),
            dir: legacy,
            create: true,
        });
    }
    v
}

pub fn has_db(dir: &Path) -> bool {
    dir.join("cert9.db").is_file()
}

/// Firefox profile directories listed in the `profiles.ini` files the user has.
pub fn firefox_profiles(home: &Path) -> Vec<PathBuf> {
    let roots = [
        home.join(".mozilla/firefox"),
        xdg("XDG_CONFIG_HOME", home, ".config").join("mozilla/firefox"),
        home.join("snap/firefox/common/.mozilla/firefox"),
        home.join(".var/app/org.mozilla.firefox/.mozilla/firefox"),
    ];
    let mut found: Vec<PathBuf> = Vec::new();
    for root in roots {
        let Ok(text) = fs::read_to_string(root.join("profiles.ini")) else {
            continue;
        };
        for p in parse_profiles_ini(&root, &text) {
            if p.is_dir() && !found.contains(&p) {
                found.push(p);
            }
        }
    }
    found
}

/// The profile paths of a `profiles.ini` (sections `[ProfileN]`, `Path=`, `IsRelative=`).
fn parse_profiles_ini(root: &Path, text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut in_profile = false;
    let (mut path, mut relative) = (None::<String>, true);
    let mut flush = |path: &mut Option<String>, relative: bool| {
        if let Some(p) = path.take() {
            out.push(if relative {
                root.join(p)
            } else {
                PathBuf::from(p)
            });
        }
    };
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            if in_profile {
                flush(&mut path, relative);
            }
            in_profile = line.starts_with("[Profile");
            relative = true;
        } else if in_profile {
            if let Some((k, v)) = line.split_once('=') {
                match k.trim() {
                    "Path" => path = Some(v.trim().to_string()),
                    "IsRelative" => relative = v.trim() != "0",
                    _ => {}
                }
            }
        }
    }
    if in_profile {
        flush(&mut path, relative);
    }
    out
}

// --- the module and p11-kit --------------------------------------------------------------

/// Debian's multiarch directory name for this build's architecture.
pub fn multiarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "x86" => "i386-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "riscv64" => "riscv64-linux-gnu",
        "powerpc64" => "powerpc64le-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        _ => "",
    }
}

/// The library next to this program (a build tree, a `PREFIX/bin` install), else the
/// packaged one.
fn default_module() -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join(LIBRARY));
        candidates.push(dir.join("../lib").join(multiarch()).join(LIBRARY));
        candidates.push(dir.join("../lib").join(LIBRARY));
        candidates.push(dir.join("../lib64").join(LIBRARY));
    }
    candidates.push(Path::new("/usr/lib").join(multiarch()).join(LIBRARY));
    candidates.push(PathBuf::from("/usr/local/lib").join(LIBRARY));
    candidates
        .iter()
        .find(|p| p.is_file())
        .and_then(|p| fs::canonicalize(p).ok())
        .ok_or_else(|| {
            let looked = candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            tr!(
                "{LIBRARY} introuvable (cherché dans {looked}) : indiquez-le avec --module CHEMIN",
                "cannot find {LIBRARY} (looked in {looked}): give it with --module PATH"
            )
        })
}

/// The p11-kit module files (system and user) whose `module:` is our library: p11-kit-proxy
/// loads it too.
fn p11kit_files_for(module: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/usr/share/p11-kit/modules"),
        PathBuf::from("/etc/pkcs11/modules"),
    ];
    // p11-kit reads the user's module files except as root.
    let root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if let (Ok(home), false) = (home(), root) {
        dirs.push(xdg("XDG_CONFIG_HOME", &home, ".config").join("pkcs11/modules"));
    }
    let base = Path::new("/usr/lib").join(multiarch()).join("pkcs11");
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "module"))
            .collect();
        files.sort();
        for f in files {
            let Ok(text) = fs::read_to_string(&f) else {
                continue;
            };
            let Some(lib) = p11kit_module_line(&text) else {
                continue;
            };
            let lib = base.join(lib); // an absolute `module:` replaces the base
            if fs::canonicalize(&lib).is_ok_and(|l| l == module) {
                out.push(f);
            }
        }
    }
    out
}

/// The `module:` value of a p11-kit module file.
pub fn p11kit_module_line(text: &str) -> Option<&str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| l.trim().strip_prefix("module:"))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

// --- one database ------------------------------------------------------------------------

/// One module entry of a `pkcs11.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub library: String,
}

/// The module entries of an sql: database's `pkcs11.txt` (blank-line separated records of
/// `key=value` lines). The internal module (empty `library=`) is left out.
fn parse_pkcs11_txt(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for record in text.split("\n\n") {
        let mut name = None;
        let mut library = None;
        for line in record.lines() {
            if let Some(v) = line.strip_prefix("library=") {
                library = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("name=") {
                name = Some(v.trim().to_string());
            }
        }
        if let (Some(name), Some(library)) = (name, library) {
            if !library.is_empty() {
                out.push(Entry { name, library });
            }
        }
    }
    out
}

pub fn entries(dir: &Path) -> Result<Vec<Entry>, String> {
    match fs::read_to_string(dir.join("pkcs11.txt")) {
        Ok(t) => Ok(parse_pkcs11_txt(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(tr!(
            "lecture de {}/pkcs11.txt : {e}",
            "reading {}/pkcs11.txt: {e}",
            dir.display()
        )),
    }
}

/// Runs an NSS tool; its output on failure.
fn nss_tool(tool: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                tr!(
                    "{tool} introuvable : installez les outils NSS (Debian : apt install \
                     libnss3-tools)",
                    "{tool} not found: install NSS's tools (Debian: apt install libnss3-tools)"
                )
            } else {
                tr!("lancement de {tool} : {e}", "running {tool}: {e}")
            }
        })?;
    if out.status.success() {
        return Ok(());
    }
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let text: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let (args, text) = (args.join(" "), text.join(" / "));
    Err(tr!(
        "échec de {tool} {args} : {text}",
        "{tool} {args} failed: {text}"
    ))
}

/// p11-kit-proxy.so (a link to libp11-kit.so.0), by name or target.
pub fn is_proxy(library: &str) -> bool {
    library.contains("p11-kit-proxy")
        || fs::canonicalize(library).is_ok_and(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libp11-kit.so"))
        })
}

fn paths(list: &[PathBuf]) -> String {
    list.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn sql(dir: &Path) -> String {
    format!("sql:{}", dir.display())
}

fn same_library(a: &str, module: &Path) -> bool {
    fs::canonicalize(a).is_ok_and(|p| p == module)
}

fn register_in(
    db: &Db,
    name: &str,
    module: &Path,
    p11kit: &[PathBuf],
    out: &mut String,
) -> Result<(), String> {
    let dir = &db.dir;
    let lib = module.to_string_lossy();
    if !has_db(dir) {
        if !db.create {
            return Err(tr!(
                "pas de base NSS dans {}",
                "no NSS database in {}",
                dir.display()
            ));
        }
        create_dir_private(dir)?;
        nss_tool("certutil", &["-N", "-d", &sql(dir), "--empty-password"])?;
        let d = dir.display();
        let _ = writeln!(
            out,
            "{}",
            tr!("base NSS {d} créée", "created the NSS database {d}")
        );
    }
    let before = entries(dir)?;
    let proxy = before
        .iter()
        .find(|e| is_proxy(&e.library) && e.name != name);
    let ours = before.iter().find(|e| e.name == name);
    if let (Some(proxy), None, false) = (proxy, ours, p11kit.is_empty()) {
        // NSS would load the library a second time after p11-kit-proxy, get
        // CKR_CRYPTOKI_ALREADY_INITIALIZED and refuse the module (modutil says so too).
        let (what, proxy, files) = (&db.what, &proxy.name, paths(p11kit));
        let _ = writeln!(
            out,
            "{}",
            tr!(
                "non enregistré dans {what} : elle charge p11-kit-proxy (« {proxy} »), qui charge \
                 déjà cette bibliothèque par {files} ; la carte y apparaît sans second \
                 enregistrement",
                "not registered in {what}: it loads p11-kit-proxy (\"{proxy}\"), which already \
                 loads this library through {files}; the card shows there without a second \
                 registration"
            )
        );
        return Ok(());
    }
    match ours {
        Some(e) if same_library(&e.library, module) => {
            let what = &db.what;
            let _ = writeln!(
                out,
                "{}",
                tr!(
                    "déjà enregistré sous « {name} » dans {what}",
                    "already registered as \"{name}\" in {what}"
                )
            );
        }
        found => {
            if found.is_some() {
                nss_tool("modutil", &["-dbdir", &sql(dir), "-delete", name, "-force"])?;
            }
            nss_tool(
                "modutil",
                &[
                    "-dbdir",
                    &sql(dir),
                    "-add",
                    name,
                    "-libfile",
                    &lib,
                    "-force",
                ],
            )?;
            let now = entries(dir)?;
            if !now
                .iter()
                .any(|e| e.name == name && same_library(&e.library, module))
            {
                let d = dir.display();
                return Err(tr!(
                    "modutil a répondu oui mais {d}/pkcs11.txt ne contient pas « {name} »",
                    "modutil said yes but {d}/pkcs11.txt does not list \"{name}\""
                ));
            }
            let what = &db.what;
            let line = if found.is_some() {
                tr!(
                    "« {name} » ({lib}) mis à jour dans {what}",
                    "updated \"{name}\" ({lib}) in {what}"
                )
            } else {
                tr!(
                    "« {name} » ({lib}) enregistré dans {what}",
                    "registered \"{name}\" ({lib}) in {what}"
                )
            };
            let _ = writeln!(out, "{line}");
        }
    }
    // The same library twice in one process.
    for e in before.iter().filter(|e| e.name != name) {
        if same_library(&e.library, module) {
            let (what, other, db_arg) = (&db.what, &e.name, sql(dir));
            let _ = writeln!(
                out,
                "{}",
                tr!(
                    "remarque : {what} charge aussi cette bibliothèque sous « {other} » : la \
                     carte apparaîtra deux fois (sans danger : le second C_Initialize répond \
                     CKR_CRYPTOKI_ALREADY_INITIALIZED) ; retirez-en une avec `modutil -dbdir \
                     {db_arg} -delete \"{other}\"` si vous voulez",
                    "note: {what} also loads this library as \"{other}\": the card will show \
                     twice (harmless: the second C_Initialize answers \
                     CKR_CRYPTOKI_ALREADY_INITIALIZED); remove one with `modutil -dbdir {db_arg} \
                     -delete \"{other}\"` if you like"
                )
            );
        } else if is_proxy(&e.library) && !p11kit.is_empty() {
            let (what, proxy, files) = (&db.what, &e.name, paths(p11kit));
            let _ = writeln!(
                out,
                "{}",
                tr!(
                    "remarque : {what} charge aussi p11-kit-proxy (« {proxy} »), qui charge \
                     cette bibliothèque par {files} : le module est alors chargé deux fois dans \
                     un même processus et la carte apparaît deux fois (sans danger : le second \
                     C_Initialize répond CKR_CRYPTOKI_ALREADY_INITIALIZED, ce que p11-kit \
                     accepte) ; `cpx unregister` ne laisse que celui de p11-kit",
                    "note: {what} also loads p11-kit-proxy (\"{proxy}\"), which loads this \
                     library through {files}: the module is then loaded twice in one process \
                     and the card shows twice (harmless: the second C_Initialize answers \
                     CKR_CRYPTOKI_ALREADY_INITIALIZED, which p11-kit accepts); `cpx \
                     unregister` leaves only p11-kit's"
                )
            );
        }
    }
    if dir.join("lock").symlink_metadata().is_ok() {
        let d = dir.display();
        let _ = writeln!(
            out,
            "{}",
            tr!(
                "remarque : Firefox semble ouvert avec {d} : relancez-le pour voir la carte",
                "note: Firefox seems to be running with {d}: restart it to see the card"
            )
        );
    }
    Ok(())
}

fn unregister_in(db: &Db, name: &str, out: &mut String) -> Result<(), String> {
    let dir = &db.dir;
    if !has_db(dir) || !entries(dir)?.iter().any(|e| e.name == name) {
        let what = &db.what;
        let _ = writeln!(
            out,
            "{}",
            tr!(
                "pas enregistré sous « {name} » dans {what}",
                "not registered as \"{name}\" in {what}"
            )
        );
        return Ok(());
    }
    nss_tool("modutil", &["-dbdir", &sql(dir), "-delete", name, "-force"])?;
    if entries(dir)?.iter().any(|e| e.name == name) {
        let d = dir.display();
        return Err(tr!(
            "modutil a répondu oui mais {d}/pkcs11.txt contient encore « {name} »",
            "modutil said yes but {d}/pkcs11.txt still lists \"{name}\""
        ));
    }
    let what = &db.what;
    let _ = writeln!(
        out,
        "{}",
        tr!(
            "« {name} » retiré de {what}",
            "unregistered \"{name}\" from {what}"
        )
    );
    Ok(())
}

/// `mkdir -p` with mode 0700 for the directories created (NSS databases are private).
fn create_dir_private(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| tr!("création de {} : {e}", "creating {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_ini() {
        let text = "[Install4F96D1932A9F858E]\nDefault=abc.default-esr\nLocked=1\n\n\
                    [Profile1]\nName=default\nIsRelative=1\nPath=xyz.default\nDefault=1\n\n\
                    [Profile0]\nName=default-esr\nIsRelative=0\nPath=/srv/ff/abc\n\n\
                    [General]\nStartWithLastProfile=1\nVersion=2\n";
        let root = Path::new("/h/.mozilla/firefox");
        assert_eq!(
            parse_profiles_ini(root, text),
            vec![root.join("xyz.default"), PathBuf::from("/srv/ff/abc")]
        );
        // Last section is a profile, no IsRelative (relative by default), CRLF line ends.
        assert_eq!(
            parse_profiles_ini(root, "[Profile0]\r\nPath=p1\r\n"),
            vec![root.join("p1")]
        );
        assert!(parse_profiles_ini(root, "[General]\nPath=nope\n").is_empty());
    }

    #[test]
    fn pkcs11_txt() {
        let text = "library=\nname=NSS Internal PKCS #11 Module\nparameters=configdir='sql:/x' \
                    certPrefix='' keyPrefix='' secmod='secmod.db' flags= \
                    updatedir='' updateCertPrefix='' updateKeyPrefix='' updateid='' updateTokenDescription='' \n\
                    NSS=Flags=internal,critical trustOrder=75 cipherOrder=100 slotParams=(1={slotFlags=[ECC,RSA]})\n\
                    \n\
                    library=/usr/lib/x86_64-linux-gnu/libcpx_pkcs11.so\nname=cpx-pkcs11\n\
                    \n\
                    library=p11-kit-proxy.so\nname=p11-kit proxy\nNSS=trustOrder=50\n";
        assert_eq!(
            parse_pkcs11_txt(text),
            vec![
                Entry {
                    name: "cpx-pkcs11".into(),
                    library: "/usr/lib/x86_64-linux-gnu/libcpx_pkcs11.so".into()
                },
                Entry {
                    name: "p11-kit proxy".into(),
                    library: "p11-kit-proxy.so".into()
                },
            ]
        );
        assert!(parse_pkcs11_txt("").is_empty());
    }

    #[test]
    fn p11kit_module_file() {
        assert_eq!(
            p11kit_module_line("# cpx\nmodule: libcpx_pkcs11.so\ncritical: no\n"),
            Some("libcpx_pkcs11.so")
        );
        assert_eq!(
            p11kit_module_line("#module: x.so\nmodule:/a/b.so"),
            Some("/a/b.so")
        );
        assert_eq!(p11kit_module_line("critical: no\n"), None);
    }

    #[test]
    fn explicit_databases_only_with_nss() {
        let mut out = String::new();
        let dbs = databases(Target::Nss, &[PathBuf::from("/tmp/d")], &mut out).unwrap();
        assert_eq!(dbs.len(), 1);
        assert!(dbs[0].create);
        assert!(databases(Target::Firefox, &[PathBuf::from("/tmp/d")], &mut out).is_err());
    }
}
