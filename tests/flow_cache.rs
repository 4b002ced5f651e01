//! The persistent card cache across processes (issue 9): several processes loading the
//! module at once on one cache directory always see the right objects; the default location
//! is `$HOME/.cache/cpx-pkcs11` (0700, entries 0600); `cpx cache show|clear`.
//!
//! The child processes are this test binary run again on the ignored test `child`.

mod common;
use common::*;

use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::Session;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CHILD: &str = "CPX_FLOW_CACHE_CHILD";

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpx-flow-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The authentication certificate the token shows.
fn auth_cert(s: &Session) -> Vec<u8> {
    let cert = one(
        s,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label(b"Certificat d'Authentification CPS".to_vec()),
        ],
    );
    attr(s, cert, AttributeType::Value)
}

/// In a child: load the module (card from CPX_SIM_CARDS) a few times, check the objects.
#[test]
#[ignore = "run by the other tests as a child process"]
fn child() {
    let Ok(persona) = std::env::var(CHILD) else {
        return;
    };
    let (_, expected) = fixture(&format!("{persona}-auth"));
    for _ in 0..4 {
        let p11 = load(&persona);
        let slot = p11.get_slots_with_token().unwrap()[0];
        let s = p11.open_ro_session(slot).unwrap();
        assert_eq!(auth_cert(&s), expected, "{persona}");
        let all = s.find_objects(&[]).unwrap();
        assert!(all.len() >= 8, "{persona}: {} objects", all.len());
        drop(s);
        p11.finalize().unwrap();
    }
}

fn spawn_child(persona: &str, env: &[(&str, &Path)], unset: &[&str]) -> std::process::Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--ignored",
        "--exact",
        "child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, persona)
    .env("CPX_SIM_CARDS", persona)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    for k in unset {
        c.env_remove(k);
    }
    c.spawn().unwrap()
}

fn wait_ok(children: Vec<std::process::Child>) {
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn cpx(args: &[&str], dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cpx"))
        .arg("--lang")
        .arg("en")
        .args(args)
        .env("CPX_PKCS11_CACHE_DIR", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn processes_racing_on_one_cache() {
    let dir = scratch("race");
    let env = [("CPX_PKCS11_CACHE_DIR", dir.as_path())];
    // Cold and warm at once: 6 processes, 2 cards (same ATR), 4 loads each.
    let children: Vec<_> = ["cps3-doctor", "cps3-signer", "cps4-nurse"]
        .iter()
        .cycle()
        .take(6)
        .map(|p| spawn_child(p, &env, &[]))
        .collect();
    wait_ok(children);

    // `cpx cache show` lists the three cards; entries are 0600 in a 0700 directory.
    let shown = cpx(&["cache", "show"], &dir);
    assert_eq!(shown.matches("PAN 8025000001997000").count(), 3, "{shown}");
    assert!(shown.contains("CPS4"), "{shown}");
    let json = cpx(&["--json", "cache", "show"], &dir);
    assert!(json.contains("\"pan\""), "{json}");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        assert!(name.ends_with(".bin"), "leftover {name}");
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    }

    // A damaged entry is shown as such, then discarded by the next process.
    let victim = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(&victim, b"CPXCACHE garbage").unwrap();
    assert!(cpx(&["cache", "show"], &dir).contains("unusable"));
    wait_ok(
        ["cps3-doctor", "cps3-signer", "cps4-nurse"]
            .iter()
            .map(|p| spawn_child(p, &env, &[]))
            .collect(),
    );
    assert!(!cpx(&["cache", "show"], &dir).contains("unusable"));

    let cleared = cpx(&["cache", "clear"], &dir);
    assert!(cleared.starts_with("3 file(s) removed"), "{cleared}");
    assert!(cpx(&["cache", "show"], &dir).contains("no cached card"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without CPX_PKCS11_CACHE_DIR or XDG_CACHE_HOME: `$HOME/.cache/cpx-pkcs11`; with
/// CPX_PKCS11_CACHE=off nothing is written.
#[test]
fn default_location_and_switch() {
    let home = scratch("home");
    wait_ok(vec![spawn_child(
        "cps3-doctor",
        &[
            ("HOME", home.as_path()),
            ("CPX_TEST_DEFAULT_CACHE", Path::new("1")),
        ],
        &["CPX_PKCS11_CACHE_DIR", "XDG_CACHE_HOME"],
    )]);
    let dir = home.join(".cache/cpx-pkcs11");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", "child", "--test-threads=1"])
        .env(CHILD, "cps3-doctor")
        .env("CPX_SIM_CARDS", "cps3-doctor")
        .env("CPX_PKCS11_CACHE", "off")
        .env("CPX_PKCS11_CACHE_DIR", home.join("off-dir"));
    assert!(cmd.status().unwrap().success());
    assert!(!home.join("off-dir").exists(), "cache off: nothing written");
    std::fs::remove_dir_all(&home).unwrap();
}
