//! The `cpx` command-line tool, run as a process on simulated cards (`CPX_SIM_CARDS`), in
//! French and in English: what each command prints on each persona, its exit codes, that
//! it never changes the card unless asked (the APDUs of `cpx trace` are all reads, and the
//! PIN probe is a VERIFY without data), and PIN change / unblock with `--pin-stdin` (the
//! terminal path is driven through a pseudo-terminal in `tests/e2e/cli.sh`).
//!
//! Personas: `none` = no reader, `removed:<persona>` = a reader without a card.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lang {
    Fr,
    En,
}
use Lang::{En, Fr};

/// A clean home (no Firefox profile, no cache) for `cpx diag`.
fn home() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cpx-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp home");
    dir
}

/// `cpx ARGS` with the simulated cards `cards`, the locale of `lang`, and `stdin`.
fn cpx_in(cards: &str, lang: Lang, args: &[&str], stdin: &str) -> Output {
    cpx_home(cards, lang, args, stdin, &home())
}

/// `cpx_in` with `home` as HOME.
fn cpx_home(cards: &str, lang: Lang, args: &[&str], stdin: &str, home: &std::path::Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpx"))
        .args(args)
        .env("CPX_SIM_CARDS", cards)
        .env_remove("CPX_SIM_PINPAD")
        .env_remove("CPX_PKCS11_LOG")
        .env_remove("CPX_PKCS11_LOG_LEVEL")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env("HOME", home)
        .env(
            "LANG",
            match lang {
                Fr => "fr_FR.UTF-8",
                En => "en_US.UTF-8",
            },
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the cpx binary");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("cpx output")
}

fn cpx(cards: &str, lang: Lang, args: &[&str]) -> Output {
    cpx_in(cards, lang, args, "")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8 output")
}

/// stdout of a run that must end with `code`.
fn run(cards: &str, lang: Lang, args: &[&str], code: i32) -> String {
    let out = cpx(cards, lang, args);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "cpx {args:?} on {cards} ({lang:?}): stdout:\n{}\nstderr:\n{stderr}",
        text(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    text(&out.stdout)
}

fn ok(cards: &str, lang: Lang, args: &[&str]) -> String {
    run(cards, lang, args, 0)
}

/// stderr of a run that must fail with status 1 and print nothing on stdout.
fn error(cards: &str, lang: Lang, args: &[&str]) -> String {
    let out = cpx(cards, lang, args);
    assert_eq!(out.status.code(), Some(1), "cpx {args:?} on {cards}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn assert_has(text: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "{w:?} missing from:\n{text}");
    }
}

/// A line that starts with `label` and holds `value`.
fn assert_line(text: &str, label: &str, value: &str) {
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with(label) && l.contains(value)),
        "no line {label:?} … {value:?} in:\n{text}"
    );
}

/// The diag line of check `id` (JSON), as (status, message, fix).
fn diag_check(json: &str, id: &str) -> (String, String, String) {
    // The JSON is ours and pretty-printed: one member per line.
    let mut lines = json.lines();
    while let Some(l) = lines.next() {
        if l.trim() == format!("\"id\": \"{id}\",") {
            let mut get = |key: &str| {
                let l = lines.next().expect("member");
                let v = l.trim().strip_prefix(&format!("\"{key}\": ")).expect(key);
                v.trim_end_matches(',').trim_matches('"').to_string()
            };
            let status = get("status");
            let message = get("message");
            let fix = get("fix");
            return (status, message, fix);
        }
    }
    panic!("no check {id} in:\n{json}");
}

// ---------------------------------------------------------------------------------------
// info, readers

#[test]
fn info_cps3_doctor_in_both_languages() {
    let en = ok("cps3-doctor", En, &["info"]);
    assert_line(&en, "Reader:", "CPX Virtual Reader 0 (cps3-doctor)");
    assert_line(
        &en,
        "ATR:",
        "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00",
    );
    assert_line(&en, "Generation:", "CPS3");
    assert_line(&en, "Model:", "IAS ECC");
    assert_line(&en, "Token label:", "CPS3v3-2699700011");
    assert_line(&en, "Serial:", "99700011");
    assert_line(&en, "PAN:", "802500000199700011");
    assert_line(&en, "PIN:", "3/3 tries left");
    assert_line(&en, "Unblock:", "100 uses left");
    assert_has(
        &en,
        &[
            "Certificat de Signature CPS",
            "Certificat d'Authentification CPS",
            "E828BD080F8025000001FF001001",
            "MARTIN",
            "CN=TEST AC IGC-SANTE FORT PERSONNES",
            "CPS_PRIV_SIG",
            "signature (RSA 2048 bits)",
            "CPS_DATA (public, 256 bytes)",
            "CPS_SIT_FACT (private, size unknown until login)",
        ],
    );
    assert!(!en.contains("EXPIRED"), "{en}");

    let fr = ok("cps3-doctor", Fr, &["info"]);
    assert_line(&fr, "Lecteur :", "CPX Virtual Reader 0 (cps3-doctor)");
    assert_line(&fr, "Génération :", "CPS3");
    assert_line(&fr, "Libellé du jeton :", "CPS3v3-2699700011");
    assert_line(&fr, "Numéro de série :", "99700011");
    assert_line(&fr, "Code porteur :", "3/3 essais restants");
    assert_line(&fr, "Déblocage :", "100 déblocages restants");
    assert_has(
        &fr,
        &[
            "Certificats (2) :",
            "Clés privées (2) :",
            "signature (RSA 2048 bits)",
            "CPS_DATA (public, 256 octets)",
            "CPS_SIT_FACT (privé, taille inconnue avant le code porteur)",
        ],
    );
    assert!(!fr.contains("tries"), "{fr}");
}

#[test]
fn info_cps4_and_contactless() {
    let out = ok("cps4-nurse", En, &["info"]);
    assert_line(&out, "Generation:", "CPS4");
    assert_line(&out, "Model:", "ChipDoc");
    assert_line(&out, "Token label:", "CPS4v1-8099700033");
    assert_has(&out, &["E828BD080F8025000001FF001020", "PETIT"]);

    let out = ok("cps3-contactless", Fr, &["info"]);
    assert_line(&out, "Génération :", "CPS3 sans contact");
    assert_line(
        &out,
        "Code porteur :",
        "aucun (ce jeton n'a pas de code porteur)",
    );
    assert_has(&out, &["CPS_PRIV_TECH_AUT", "sans code porteur"]);
    let json = ok("cps3-contactless", Fr, &["pin", "status", "--json"]);
    assert!(json.contains("\"pin\": null"), "{json}");
}

#[test]
fn readers_lists_every_virtual_reader() {
    let out = ok("cps3-doctor,cps4-nurse", En, &["readers"]);
    assert_has(
        &out,
        &[
            "CPX Virtual Reader 0 (cps3-doctor)",
            "CPX Virtual Reader 1 (cps4-nurse)",
            "yes (CPS3 contact)",
            "yes (CPS4)",
        ],
    );
    let out = ok("cps3-doctor,removed:cps4-nurse", Fr, &["readers"]);
    assert_has(&out, &["oui (CPS3 contact)", "carte : aucune"]);
    // JSON: English keys whatever the language.
    let json = ok("cps3-doctor,cps4-nurse", Fr, &["readers", "--json"]);
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
    let out = ok("cps3-doctor,cps4-nurse", En, &["info", "--reader", "NURSE"]);
    assert!(out.contains("CPS4v1-8099700033"), "{out}");
    let out = ok("cps3-doctor,cps4-nurse", En, &["pin-status"]);
    assert!(out.contains("CPS3v3-2699700011"), "{out}");
    let e = error(
        "cps3-doctor",
        En,
        &["info", "--reader", "Nonexistent Reader"],
    );
    assert_has(
        &e,
        &[
            "no reader named \"Nonexistent Reader\"",
            "CPX Virtual Reader 0 (cps3-doctor)",
        ],
    );
    let e = error(
        "cps3-doctor,cps4-nurse",
        Fr,
        &["pin", "status", "--reader", "virtual"],
    );
    assert!(e.contains("ambigu"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Personas: no reader, no card, legacy card, expired, blocked, exhausted

#[test]
fn no_reader() {
    assert!(ok("none", Fr, &["readers"]).contains("aucun lecteur trouvé"));
    assert!(ok("none", En, &["readers"]).contains("no readers found"));
    let e = error("none", Fr, &["info"]);
    assert!(
        e.contains("cpx: erreur : aucun lecteur de carte trouvé"),
        "{e}"
    );
    let e = error("none", En, &["pin", "status"]);
    assert!(e.contains("cpx: error: no smart-card reader found"), "{e}");
    let fr = run("none", Fr, &["diag"], 3);
    assert_has(
        &fr,
        &["[ÉCHEC] aucun lecteur de carte", "→ branchez le lecteur"],
    );
    let en = run("none", En, &["diag"], 3);
    assert_has(
        &en,
        &["[FAIL ] no smart-card reader", "→ plug in the reader"],
    );
    let json = run("none", En, &["diag", "--json"], 3);
    assert_eq!(diag_check(&json, "readers").0, "error");
}

#[test]
fn no_card() {
    let e = error("removed:cps3-doctor", Fr, &["info"]);
    assert!(e.contains("aucune carte dans les lecteurs"), "{e}");
    let e = error("removed:cps3-doctor", En, &["certs"]);
    assert!(e.contains("no card in any reader"), "{e}");
    let fr = run("removed:cps3-doctor", Fr, &["diag"], 3);
    assert_has(
        &fr,
        &[
            "[ OK  ] lecteur(s) : CPX Virtual Reader 0",
            "→ insérez la carte CPS",
        ],
    );
    let en = run("removed:cps3-doctor", En, &["diag"], 3);
    assert_has(
        &en,
        &["[FAIL ] no card in any reader", "→ insert the CPS card"],
    );
}

#[test]
fn legacy_cps2ter_card() {
    let e = error("cps2ter-legacy", Fr, &["info"]);
    assert_has(
        &e,
        &[
            "ancienne carte CPS2ter",
            "aucun module PKCS#11 ne la prend en charge",
        ],
    );
    let e = error("cps2ter-legacy", En, &["pin", "status"]);
    assert_has(
        &e,
        &["legacy CPS2ter card", "not supported by any PKCS#11 module"],
    );
    let fr = run("cps2ter-legacy", Fr, &["diag"], 3);
    assert_has(
        &fr,
        &[
            "[ÉCHEC] lecteur",
            "ancienne carte CPS2ter",
            "→ cette carte n'est plus utilisable",
        ],
    );
    let json = run("cps2ter-legacy", En, &["diag", "--json"], 3);
    let (status, message, fix) = diag_check(&json, "card_recognised");
    assert_eq!(status, "error");
    assert!(message.contains("legacy CPS2ter card"), "{message}");
    assert!(fix.contains("order a CPS3/CPS4 card"), "{fix}");
    // Any other card is "not a CPx card": the readers list says so without binding.
    let out = ok("cps2ter-legacy", En, &["readers"]);
    assert!(out.contains("no (ATR not of a CPS3/CPS4 card)"), "{out}");
}

#[test]
fn expired_certificates() {
    let fr = run("cps3-expired", Fr, &["certs"], 3);
    assert_line(&fr, "Titulaire :", "Thomas RICHARD (899700005509)");
    assert_line(&fr, "Émetteur :", "TEST AC IGC-SANTE FORT PERSONNES");
    assert_line(&fr, "Validité :", "au 2023-01-01 00:00:00 UTC");
    assert_line(&fr, "État :", "ERREUR : EXPIRÉ depuis");
    assert_line(&fr, "Jours restants :", "-");
    let en = run("cps3-expired", En, &["certs"], 3);
    assert_line(&en, "Holder:", "Thomas RICHARD");
    assert_line(&en, "Status:", "ERROR: EXPIRED");
    let json = run("cps3-expired", Fr, &["certs", "--json"], 3);
    assert_has(
        &json,
        &[
            "\"validity\": \"expired\"",
            "\"expired\": true",
            "\"days_left\": -",
        ],
    );
    let info = ok("cps3-expired", En, &["info"]);
    assert!(info.contains("EXPIRED"), "{info}");

    let fr = run("cps3-expired", Fr, &["diag"], 3);
    assert_has(
        &fr,
        &["a EXPIRÉ le 2023-01-01", "→ la carte ne permet plus"],
    );
    let json = run("cps3-expired", En, &["diag", "--json"], 3);
    let (status, message, fix) = diag_check(&json, "certificates");
    assert_eq!(status, "error");
    assert!(message.contains("EXPIRED on 2023-01-01"), "{message}");
    assert!(fix.contains("order a new card"), "{fix}");
}

#[test]
fn valid_certificates() {
    let fr = ok("cps3-doctor", Fr, &["certs"]);
    assert_line(&fr, "Titulaire :", "Claire MARTIN");
    assert_line(&fr, "État :", "valide (");
    let en = ok("cps4-nurse", En, &["certs"]);
    assert_line(&en, "Status:", "valid (");
    assert_line(&en, "Holder:", "Sophie PETIT");
    let json = run(
        "cps3-doctor",
        En,
        &["diag", "--json"],
        diag_status("cps3-doctor"),
    );
    assert_eq!(diag_check(&json, "certificates").0, "ok");
    assert_eq!(diag_check(&json, "pin").0, "ok");
}

/// The exit status diag gives on this machine for a healthy card (the module's installation
/// is the machine's, not the card's): whatever it is, it must agree with the checks.
fn diag_status(cards: &str) -> i32 {
    let out = cpx(cards, En, &["diag", "--json"]);
    let json = text(&out.stdout);
    let code = out.status.code().expect("exit status");
    let expected = if json.contains("\"status\": \"error\"") {
        3
    } else if json.contains("\"status\": \"warning\"") {
        4
    } else {
        0
    };
    assert_eq!(code, expected, "{json}");
    code
}

#[test]
fn certificate_export() {
    let dir = home();
    let der = dir.join("sig.der");
    let out = ok(
        "cps3-doctor",
        Fr,
        &["certs", "--der", "sign", "-o", der.to_str().expect("path")],
    );
    assert!(out.is_empty());
    let fixture = std::fs::read("fixtures/cards/cps3-doctor/sig-cert.der").expect("fixture");
    assert_eq!(std::fs::read(&der).expect("exported"), fixture);

    let pem = ok("cps3-doctor", En, &["certs", "--pem", "auth"]);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    assert!(pem.ends_with("-----END CERTIFICATE-----\n"), "{pem}");
    // The same certificate by label.
    let by_label = ok(
        "cps3-doctor",
        En,
        &["certs", "--pem", "Certificat d'Authentification CPS"],
    );
    assert_eq!(pem, by_label);
    let e = error("cps3-doctor", Fr, &["certs", "--pem", "tech"]);
    assert!(e.contains("aucun certificat « tech »"), "{e}");
}

#[test]
fn blocked_pin() {
    let fr = run("cps3-pharmacist-blocked", Fr, &["pin", "status"], 3);
    assert_line(&fr, "Code porteur :", "BLOQUÉ (0/3 essai restant)");
    assert_line(&fr, "Déblocage :", "100 déblocages restants");
    assert_has(&fr, &["cpx pin unblock", "PUK"]);
    let en = run("cps3-pharmacist-blocked", En, &["pin-status"], 3);
    assert_line(&en, "PIN:", "BLOCKED (0/3 tries left)");
    assert_has(
        &en,
        &[
            "unblock it with the unblocking code (PUK",
            "cpx pin unblock",
        ],
    );
    let json = run(
        "cps3-pharmacist-blocked",
        Fr,
        &["--json", "pin", "status"],
        3,
    );
    assert_has(
        &json,
        &[
            "\"tries_left\": 0",
            "\"blocked\": true",
            "\"unblock_left\": 100",
        ],
    );
    let json = run("cps3-pharmacist-blocked", Fr, &["diag", "--json"], 3);
    let (status, _, fix) = diag_check(&json, "pin");
    assert_eq!(status, "error");
    assert!(fix.starts_with("cpx pin unblock"), "{fix}");
    let en = run("cps3-pharmacist-blocked", En, &["diag"], 3);
    assert_has(&en, &["[FAIL ] PIN: BLOCKED", "→ cpx pin unblock"]);
}

#[test]
fn unblock_exhausted() {
    let fr = run("cps3-unblock-exhausted", Fr, &["pin", "status"], 3);
    assert_line(&fr, "Déblocage :", "0 déblocages restants");
    assert_has(
        &fr,
        &[
            "ne peut plus être débloquée",
            "Commandez une nouvelle carte",
        ],
    );
    let en = run("cps3-unblock-exhausted", En, &["pin", "status"], 3);
    assert_has(&en, &["can no longer be unblocked", "Order a new card"]);
    // `pin unblock` says so before asking for anything: nothing on stdin is read.
    let out = cpx_in(
        "cps3-unblock-exhausted",
        Fr,
        &["pin", "unblock", "--pin-stdin"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let o = text(&out.stdout);
    assert_has(
        &o,
        &[
            "Le code de déblocage est épuisé",
            "Commandez une nouvelle carte",
        ],
    );
    let json = run("cps3-unblock-exhausted", En, &["diag", "--json"], 3);
    let (status, _, fix) = diag_check(&json, "pin");
    assert_eq!(status, "error");
    assert!(fix.contains("order a new card"), "{fix}");
}

// ---------------------------------------------------------------------------------------
// PIN change and unblock from standard input (one process: the simulated card lives in it)

#[test]
fn pin_change_from_stdin() {
    let out = cpx_in(
        "cps3-doctor",
        Fr,
        &["pin", "change", "--pin-stdin"],
        "1234\n5678\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Code porteur changé (3 essais restant(s) sur 3)"),
        "{}",
        text(&out.stdout)
    );
    let out = cpx_in(
        "cps3-doctor",
        En,
        &["pin", "change", "--pin-stdin"],
        "9999\n5678\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("Wrong PIN: 2 tries left"),
        "{}",
        text(&out.stdout)
    );
    let json = text(
        &cpx_in(
            "cps3-doctor",
            En,
            &["--json", "pin", "change", "--pin-stdin"],
            "9999\n5678\n",
        )
        .stdout,
    );
    assert_has(&json, &["\"result\": \"wrong_code\"", "\"tries_left\": 2"]);
    // A malformed PIN never reaches the card.
    let out = cpx_in(
        "cps3-doctor",
        Fr,
        &["pin", "change", "--pin-stdin"],
        "12\n5678\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("rien n'a été envoyé à la carte"));
    // The blocked card: nothing is asked.
    let out = cpx_in(
        "cps3-pharmacist-blocked",
        En,
        &["pin", "change", "--pin-stdin"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("The PIN is blocked"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn pin_unblock_from_stdin() {
    let out = cpx_in(
        "cps3-pharmacist-blocked",
        Fr,
        &["pin", "unblock", "--pin-stdin"],
        "12345678\n2468\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert_has(
        &o,
        &[
            "Code porteur débloqué",
            "3 essais restant(s) sur 3",
            "99 déblocages restants",
        ],
    );
    let out = cpx_in(
        "cps3-pharmacist-blocked",
        En,
        &["pin", "unblock", "--pin-stdin"],
        "87654321\n2468\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("Wrong unblocking code (PUK): 9 tries left"),
        "{}",
        text(&out.stdout)
    );
    // Without a terminal and without --pin-stdin the tool refuses (never a PIN argument).
    let out = Command::new(env!("CARGO_BIN_EXE_cpx"))
        .args(["pin", "unblock"])
        .env("CPX_SIM_CARDS", "cps3-pharmacist-blocked")
        .env("LANG", "en_US.UTF-8")
        .env_remove("LC_ALL")
        .stdin(Stdio::null())
        .output()
        .expect("cpx");
    if std::fs::File::open("/dev/tty").is_err() {
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("--pin-stdin"),
            "{}",
            text(&out.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Language, help, usage

#[test]
fn help_in_both_languages() {
    let fr = ok("cps3-doctor", Fr, &["--help"]);
    assert_has(
        &fr,
        &[
            "Utilisation :",
            "Commandes :",
            "Options :",
            "Codes de sortie :",
            "diag",
            "certs",
            "pin",
        ],
    );
    let en = ok("cps3-doctor", En, &["--help"]);
    assert_has(
        &en,
        &[
            "Usage:",
            "Commands:",
            "Options:",
            "Exit status:",
            "3  problem found",
        ],
    );
    assert!(!en.contains("Utilisation"), "{en}");
    // --lang beats the locale.
    let en = ok(
        "cps3-doctor",
        Fr,
        &["--lang", "en", "pin", "change", "--help"],
    );
    assert_has(&en, &["--pin-stdin", "without echo"]);
    let fr = ok(
        "cps3-doctor",
        En,
        &["pin", "unblock", "--help", "--lang=fr"],
    );
    assert_has(&fr, &["code de déblocage", "Affiche cette aide"]);
}

#[test]
fn usage_errors_exit_2_in_both_languages() {
    for (lang, wanted) in [
        (Fr, "commande inconnue « frobnicate »"),
        (En, "unknown command 'frobnicate'"),
    ] {
        let out = cpx("cps3-doctor", lang, &["frobnicate"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        assert!(text(&out.stderr).contains(wanted), "{}", text(&out.stderr));
    }
    for args in [
        &["info", "--bogus"][..],
        &[],
        &["pin"],
        &["--lang", "de", "info"],
    ] {
        let out = cpx("cps3-doctor", Fr, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = cpx("cps3-doctor", En, &["--lang", "de", "info"]);
    assert!(text(&out.stderr).contains("unknown language 'de'"));
    let out = cpx("cps3-doctor", Fr, &["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("cpx "));
}

#[test]
fn unknown_persona_is_an_error() {
    let e = error("no-such-persona", En, &["info"]);
    assert!(e.contains("CPX_SIM_CARDS"), "{e}");
}

#[test]
fn json_strings_are_escaped() {
    let json = ok("cps3-doctor", Fr, &["info", "--json"]);
    assert_has(
        &json,
        &[
            "\"label\": \"CPS3v3-2699700011\"",
            "\"label\": \"Certificat d'Authentification CPS\"",
            "\"tries_left\": 3",
            "\"validity\": \"valid\"",
            "title=Médecin",
        ],
    );
    assert!(json.trim_start().starts_with('{') && json.trim_end().ends_with('}'));
}

// ---------------------------------------------------------------------------------------
// trace

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
fn trace_shows_only_reads_with_an_environment_header() {
    for (persona, lang) in [
        ("cps3-doctor", En),
        ("cps4-nurse", Fr),
        ("cps3-contactless", En),
        ("cps3-pharmacist-blocked", Fr),
    ] {
        let out = ok(persona, lang, &["trace"]);
        let (version, exchange, summary) = match lang {
            En => (
                "cpx-pkcs11 version:",
                "APDU exchange (PIN, PUK and data to sign masked):",
                "APDUs (",
            ),
            Fr => (
                "Version de cpx-pkcs11 :",
                "Échange APDU (PIN, PUK et données à signer masqués) :",
                "APDU (",
            ),
        };
        assert_line(&out, version, env!("CARGO_PKG_VERSION"));
        assert_has(&out, &[exchange, "CPX_SIM_CARDS="]);
        let commands = traced_commands(&out);
        assert!(commands.len() > 10, "{persona}: {out}");
        let summary = format!("{} {summary}{} ", commands.len(), commands.len());
        assert!(out.contains(&summary), "{persona}: {summary:?} in\n{out}");
        for c in &commands {
            let ins = c[1];
            assert!(
                matches!(ins, 0xA4 | 0xB0 | 0xC0 | 0xCA | 0xCB) || (ins == 0x20 && c.len() == 4),
                "{persona}: {c:02X?} is not a read"
            );
        }
        let probes = commands.iter().filter(|c| c[1] == 0x20).count();
        assert_eq!(
            probes,
            usize::from(persona != "cps3-contactless"),
            "{persona}"
        );
    }
    let json = ok("cps3-doctor", Fr, &["trace", "--json"]);
    assert_has(
        &json,
        &[
            "\"environment\": {",
            "\"cpx_version\": ",
            "\"trace\": {",
            "\"exchanges\": [",
            "\"command\": \"00A4",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// diag: the user's NSS databases, another module claiming the card

#[test]
fn diag_reads_the_nss_databases_and_finds_the_cryptolib() {
    let h = std::env::temp_dir().join(format!("cpx-cli-nss-{}", std::process::id()));
    let ff = h.join(".mozilla/firefox");
    for p in ["a.work", "b.home"] {
        std::fs::create_dir_all(ff.join(p)).expect("profile");
    }
    std::fs::write(
        ff.join("profiles.ini"),
        "[Profile0]\nName=work\nIsRelative=1\nPath=a.work\n\n[Profile1]\nName=home\nIsRelative=1\nPath=b.home\n",
    )
    .expect("profiles.ini");
    std::fs::write(
        ff.join("a.work/pkcs11.txt"),
        "library=\nname=NSS Internal PKCS #11 Module\n\n\
         library=/usr/lib/x86_64-linux-gnu/pkcs11/libcpx_pkcs11.so\nname=cpx-pkcs11\n\n\
         library=/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so\nname=Module de sécurité CPS\n",
    )
    .expect("pkcs11.txt");
    let out = cpx_home("cps3-doctor", Fr, &["diag", "--json"], "", &h);
    assert_eq!(out.status.code(), Some(3));
    let json = text(&out.stdout);
    let (status, message, fix) = diag_check(&json, "module_conflict");
    assert_eq!(status, "error");
    assert!(
        message.contains("la Cryptolib CPS (/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so)"),
        "{message}"
    );
    assert!(message.contains("Firefox (profil a.work)"), "{message}");
    let want = format!("modutil -dbdir sql:{} -delete", ff.join("a.work").display());
    assert!(fix.starts_with(&want), "{fix}");
    assert!(fix.contains("Module de sécurité CPS"), "{fix}");
    let text_out = text(&cpx_home("cps3-doctor", En, &["diag"], "", &h).stdout);
    assert!(
        text_out.contains("[ OK  ] Firefox (profile a.work): module registered (\"cpx-pkcs11\")"),
        "{text_out}"
    );
    assert!(
        text_out.contains("[FAIL ] Firefox (profile b.home): module not registered"),
        "{text_out}"
    );
    assert!(text_out.contains("→ cpx register firefox"), "{text_out}");
    let _ = std::fs::remove_dir_all(&h);
}

#[test]
fn register_speaks_both_languages() {
    let db = std::env::temp_dir().join(format!("cpx-cli-reg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&db);
    // The cdylib `cargo test` built (in target/debug/deps on a fresh checkout).
    let module = common::library();
    let module = module.to_str().expect("UTF-8 path");
    let args = |cmd: &'static str| -> Vec<String> {
        let mut v = vec![
            cmd.to_string(),
            "nss".into(),
            "--db".into(),
            db.display().to_string(),
        ];
        if cmd == "register" {
            v.extend(["--module".into(), module.into()]);
        }
        v
    };
    let a = args("register");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let fr = ok("cps3-doctor", Fr, &a);
    assert_has(
        &fr,
        &[
            "base NSS",
            "créée",
            "« cpx-pkcs11 »",
            "enregistré dans la base NSS",
        ],
    );
    let en = ok("cps3-doctor", En, &a);
    assert!(
        en.contains("already registered as \"cpx-pkcs11\" in the NSS database"),
        "{en}"
    );
    let u = args("unregister");
    let u: Vec<&str> = u.iter().map(String::as_str).collect();
    let en = ok("cps3-doctor", En, &u);
    assert!(
        en.contains("unregistered \"cpx-pkcs11\" from the NSS database"),
        "{en}"
    );
    let fr = ok("cps3-doctor", Fr, &u);
    assert!(fr.contains("pas enregistré sous « cpx-pkcs11 »"), "{fr}");
    let _ = std::fs::remove_dir_all(&db);
}

#[test]
fn diag_reports_a_damaged_cache() {
    use std::os::unix::fs::PermissionsExt;
    let h = std::env::temp_dir().join(format!("cpx-cli-cache-{}", std::process::id()));
    let dir = h.join(".cache/cpx-pkcs11");
    std::fs::create_dir_all(&dir).expect("cache dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::write(dir.join("cps3-0000.bin"), b"not a cache entry").expect("entry");
    let json = text(&cpx_home("removed:cps3-doctor", En, &["diag", "--json"], "", &h).stdout);
    let (status, message, fix) = diag_check(&json, "cache");
    assert_eq!(status, "warning", "{json}");
    assert!(message.contains("1 damaged entry(ies)"), "{message}");
    assert_eq!(fix, "cpx cache clear");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let fr = text(&cpx_home("removed:cps3-doctor", Fr, &["diag"], "", &h).stdout);
    assert!(fr.contains("droits incorrects"), "{fr}");
    assert!(fr.contains("→ cpx cache clear, puis : chmod 700"), "{fr}");
    let _ = std::fs::remove_dir_all(&h);
}
