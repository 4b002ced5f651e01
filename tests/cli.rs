//! The `cpx` command-line tool, run as a process on simulated cards (`CPX_SIM_CARDS`):
//! what it prints, its exit codes, and that it never changes the card (the APDUs of
//! `cpx trace` are all reads, and the PIN probe is a VERIFY without data).

use std::process::{Command, Output};

/// Runs `cpx ARGS` with the simulated cards `cards` and a clean environment.
fn cpx(cards: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpx"))
        .args(args)
        .env("CPX_SIM_CARDS", cards)
        .env_remove("CPX_SIM_PINPAD")
        .env_remove("CPX_PKCS11_LOG")
        .env_remove("CPX_PKCS11_LOG_LEVEL")
        .output()
        .expect("run the cpx binary")
}

/// stdout of a run that must succeed.
fn ok(cards: &str, args: &[&str]) -> String {
    let out = cpx(cards, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "cpx {args:?} on {cards}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn assert_has(text: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "{w:?} missing from:\n{text}");
    }
}

#[test]
fn info_cps3_doctor() {
    let out = ok("cps3-doctor", &["info"]);
    assert_has(
        &out,
        &[
            "Reader:        CPX Virtual Reader 0 (cps3-doctor)",
            "ATR:           3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00",
            "Generation:    CPS3",
            "Model:         IAS ECC",
            "Token label:   CPS3v3-2699700011",
            "Serial:        99700011",
            "PAN:           802500000199700011",
            "PIN:           3/3 tries left",
            "Unblock:       100 uses left",
            "Certificat de Signature CPS",
            "Certificat d'Authentification CPS",
            "E828BD080F8025000001FF001001",
            "MARTIN",
            "CN=TEST AC IGC-SANTE FORT PERSONNES",
            "CPS_PRIV_SIG",
            "CPS_PRIV_AUT",
            "signature (RSA 2048 bits)",
            "CPS_DATA (public, 256 bytes)",
            "CPS_SIT_FACT (private, size unknown until login)",
        ],
    );
    assert!(!out.contains("EXPIRED"), "{out}");
}

#[test]
fn info_cps4_nurse() {
    let out = ok("cps4-nurse", &["info"]);
    assert_has(
        &out,
        &[
            "Generation:    CPS4",
            "Model:         ChipDoc",
            "Token label:   CPS4v1-8099700033",
            "Serial:        99700033",
            "PIN:           3/3 tries left",
            "Certificat de Signature CPS",
            "Certificat d'Authentification CPS",
            "E828BD080F8025000001FF001020",
            "PETIT",
        ],
    );
}

#[test]
fn info_contactless_has_no_pin() {
    let out = ok("cps3-contactless", &["info"]);
    assert_has(
        &out,
        &[
            "Generation:    CPS3 contactless",
            "Token label:   CPS3v3_CL",
            "Serial:        99700066",
            "Certificat Technique CPS",
            "CPS_PRIV_TECH_AUT",
            "PIN:           none (this token has no user PIN)",
            "no PIN needed",
        ],
    );
    let json = ok("cps3-contactless", &["pin-status", "--json"]);
    assert!(json.contains("\"pin\": null"), "{json}");
}

#[test]
fn blocked_pin_is_shown() {
    let out = ok("cps3-pharmacist-blocked", &["info"]);
    assert_has(
        &out,
        &[
            "Token label:   CPS3v3-2699700022",
            "Serial:        99700022",
            "PIN:           BLOCKED (0/3 tries left)",
            "Unblock:       100 uses left",
            "Certificat de Signature CPS",
        ],
    );
    let out = ok("cps3-pharmacist-blocked", &["pin-status"]);
    assert_has(
        &out,
        &["BLOCKED (0/3 tries left)", "Unblock:  100 uses left"],
    );
    let json = ok("cps3-pharmacist-blocked", &["--json", "pin-status"]);
    assert_has(
        &json,
        &[
            "\"tries_left\": 0",
            "\"blocked\": true",
            "\"unblock_left\": 100",
        ],
    );
}

#[test]
fn pin_status_only_prints_counters() {
    let out = ok("cps3-doctor", &["pin-status"]);
    assert_has(
        &out,
        &[
            "Token:    CPS3v3-2699700011 (serial 99700011)",
            "PIN:      3/3 tries left",
        ],
    );
    assert!(!out.contains("Certificat"), "{out}");
}

#[test]
fn expired_certificates_are_marked() {
    let out = ok("cps3-expired", &["info"]);
    assert!(out.contains("EXPIRED"), "{out}");
    let json = ok("cps3-expired", &["info", "--json"]);
    assert!(json.contains("\"expired\": true"), "{json}");
}

#[test]
fn readers_lists_every_virtual_reader() {
    let out = ok("cps3-doctor,cps4-nurse", &["readers"]);
    assert_has(
        &out,
        &[
            "CPX Virtual Reader 0 (cps3-doctor)",
            "CPX Virtual Reader 1 (cps4-nurse)",
            "CPx:  yes (CPS3 contact)",
            "CPx:  yes (CPS4)",
        ],
    );
    let json = ok("cps3-doctor,cps4-nurse", &["readers", "--json"]);
    assert_has(
        &json,
        &[
            "\"name\": \"CPX Virtual Reader 1 (cps4-nurse)\"",
            "\"atr\": \"3BAC00402A001225006480000310009000\"",
            "\"generation\": \"cps4\"",
        ],
    );
}

#[test]
fn reader_chosen_by_part_of_its_name() {
    let out = ok("cps3-doctor,cps4-nurse", &["info", "--reader", "NURSE"]);
    assert!(out.contains("CPS4v1-8099700033"), "{out}");
    // Without --reader: the first reader holding a CPx card.
    let out = ok("cps3-doctor,cps4-nurse", &["pin-status"]);
    assert!(out.contains("CPS3v3-2699700011"), "{out}");
}

#[test]
fn unknown_reader_is_an_error() {
    let out = cpx("cps3-doctor", &["info", "--reader", "Nonexistent Reader"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no reader named \"Nonexistent Reader\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("CPX Virtual Reader 0 (cps3-doctor)"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = cpx(
        "cps3-doctor,cps4-nurse",
        &["pin-status", "--reader", "virtual"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ambiguous"));
}

#[test]
fn unknown_persona_is_an_error() {
    let out = cpx("no-such-persona", &["info"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CPX_SIM_CARDS"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [&["frobnicate"][..], &["info", "--bogus"], &[]] {
        let out = cpx("cps3-doctor", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = cpx("cps3-doctor", &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("pin-status"));
}

#[test]
fn json_strings_are_escaped() {
    // The certificate labels hold an apostrophe, the subjects non-ASCII letters: both pass
    // through as UTF-8; quotes and backslashes never appear unescaped.
    let json = ok("cps3-doctor", &["info", "--json"]);
    assert_has(
        &json,
        &[
            "\"label\": \"CPS3v3-2699700011\"",
            "\"serial\": \"99700011\"",
            "\"label\": \"Certificat d'Authentification CPS\"",
            "\"tries_left\": 3",
            "title=Médecin",
        ],
    );
    assert!(json.trim_start().starts_with('{') && json.trim_end().ends_with('}'));
}

/// Commands of `cpx trace` (the `N > XX XX …` lines) as bytes.
fn traced_commands(trace: &str) -> Vec<Vec<u8>> {
    trace
        .lines()
        .filter_map(|l| {
            let (n, rest) = l.trim_start().split_once(" > ")?;
            n.parse::<usize>().ok()?;
            let hex = rest.split("  ").next()?;
            Some(
                hex.split(' ')
                    .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn trace_shows_only_reads() {
    for persona in [
        "cps3-doctor",
        "cps4-nurse",
        "cps3-contactless",
        "cps3-pharmacist-blocked",
    ] {
        let out = ok(persona, &["trace"]);
        assert!(out.contains("Token label:"), "{persona}: info comes first");
        assert!(
            out.contains("APDU exchange (PIN data masked):"),
            "{persona}"
        );
        let commands = traced_commands(&out);
        assert!(commands.len() > 10, "{persona}: {out}");
        let summary = format!(
            "{} APDUs ({} by the card layer",
            commands.len(),
            commands.len()
        );
        assert!(out.contains(&summary), "{persona}: {summary:?} in\n{out}");
        for c in &commands {
            let ins = c[1];
            // SELECT, READ BINARY, GET RESPONSE, GET DATA; VERIFY only without data.
            assert!(
                matches!(ins, 0xA4 | 0xB0 | 0xC0 | 0xCA | 0xCB) || (ins == 0x20 && c.len() == 4),
                "{persona}: {c:02X?} is not a read"
            );
        }
        let probes = commands.iter().filter(|c| c[1] == 0x20).count();
        let expected = usize::from(persona != "cps3-contactless");
        assert_eq!(probes, expected, "{persona}: one PIN probe");
    }
    let json = ok("cps3-doctor", &["trace", "--json"]);
    assert_has(
        &json,
        &["\"trace\": {", "\"exchanges\": [", "\"command\": \"00A4"],
    );
}
