//! What `cpx` prints: readers, token contents, PIN counters and the APDU trace, as text
//! for people and as JSON for scripts. Pure functions of what the card layer returned.

use std::fmt::Write;

use cpx_pkcs11::cpx::layout;
use cpx_pkcs11::cpx::{
    CertInfo, DataObject, Generation, KeyInfo, KeyRole, PinStatus, TokenContents,
};
use cpx_pkcs11::transport::ReaderInfo;
use cpx_pkcs11::x509;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use super::json::Json;
use super::recorder::Event;

/// Uppercase hex: no separators (JSON, identifiers), or spaced (ATRs and APDUs for people).
pub use cpx_pkcs11::log::{hex, hex_spaced};

pub fn generation_name(g: Generation) -> &'static str {
    match g {
        Generation::Cps3 => "CPS3",
        Generation::Cps3Cl => "CPS3 contactless",
        Generation::Cps4 => "CPS4",
    }
}

fn generation_id(g: Generation) -> &'static str {
    match g {
        Generation::Cps3 => "cps3",
        Generation::Cps3Cl => "cps3-contactless",
        Generation::Cps4 => "cps4",
    }
}

fn role_name(r: KeyRole) -> &'static str {
    match r {
        KeyRole::Authentication => "authentication",
        KeyRole::Signature => "signature",
        KeyRole::Technical => "technical",
    }
}

// ---------------------------------------------------------------------------------------
// Readers

/// The CPx card an ATR announces (`layout::match_atr`), if any.
fn atr_guess(atr: &[u8]) -> Option<&'static layout::AtrPattern> {
    layout::match_atr(atr)
}

pub fn readers_text(readers: &[ReaderInfo]) -> String {
    let mut out = String::new();
    if readers.is_empty() {
        out.push_str("no readers found\n");
        return out;
    }
    for r in readers {
        let _ = writeln!(out, "{}", r.name);
        if !r.card_present {
            out.push_str("  card: none\n");
            continue;
        }
        let _ = writeln!(out, "  card: present");
        let _ = writeln!(out, "  ATR:  {}", hex_spaced(&r.atr));
        match atr_guess(&r.atr) {
            Some(p) => {
                let _ = writeln!(out, "  CPx:  yes ({})", p.name);
            }
            None => out.push_str("  CPx:  no (ATR not of a CPS3/CPS4 card)\n"),
        }
    }
    out
}

pub fn readers_json(readers: &[ReaderInfo]) -> Json {
    let items = readers
        .iter()
        .map(|r| {
            let guess = r.card_present.then(|| atr_guess(&r.atr)).flatten();
            Json::Obj(vec![
                ("name", Json::str(&r.name)),
                ("card_present", Json::Bool(r.card_present)),
                (
                    "atr",
                    Json::opt(r.card_present.then(|| Json::str(hex(&r.atr)))),
                ),
                ("cpx", Json::Bool(guess.is_some())),
                (
                    "generation",
                    Json::opt(guess.map(|p| Json::str(generation_id(p.generation)))),
                ),
                ("atr_match", Json::opt(guess.map(|p| Json::str(p.name)))),
            ])
        })
        .collect();
    Json::Obj(vec![("readers", Json::Arr(items))])
}

// ---------------------------------------------------------------------------------------
// PIN

/// The PIN counters as the tool got them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    Status(PinStatus),
    /// The token has no user PIN (CPS3 contactless).
    Absent,
    /// The counters could not be read (message).
    Unreadable(String),
}

fn pin_line(pin: &Pin) -> String {
    match pin {
        Pin::Absent => "none (this token has no user PIN)".into(),
        Pin::Unreadable(e) => format!("unreadable ({e})"),
        Pin::Status(s) => {
            let mut line = if s.tries_left == 0 {
                format!("BLOCKED (0/{} tries left)", s.max_tries)
            } else {
                format!("{}/{} tries left", s.tries_left, s.max_tries)
            };
            if s.verified {
                line.push_str(", verified in this card session");
            }
            line
        }
    }
}

fn unblock_line(pin: &Pin) -> Option<String> {
    match pin {
        Pin::Status(PinStatus {
            unblock_left: Some(n),
            ..
        }) => Some(format!("{n} uses left")),
        Pin::Status(_) => Some("not reported by the card".into()),
        _ => None,
    }
}

fn pin_json(pin: &Pin) -> Json {
    match pin {
        Pin::Absent => Json::Null,
        Pin::Unreadable(e) => Json::Obj(vec![("error", Json::str(e))]),
        Pin::Status(s) => Json::Obj(vec![
            ("tries_left", Json::Uint(s.tries_left.into())),
            ("max_tries", Json::Uint(s.max_tries.into())),
            ("blocked", Json::Bool(s.tries_left == 0)),
            (
                "unblock_left",
                Json::opt(s.unblock_left.map(|n| Json::Uint(n.into()))),
            ),
            ("verified", Json::Bool(s.verified)),
        ]),
    }
}

pub fn pin_status_text(reader: &str, c: &TokenContents, pin: &Pin) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Reader:   {reader}");
    let _ = writeln!(out, "Token:    {} (serial {})", c.label, c.serial);
    let _ = writeln!(out, "PIN:      {}", pin_line(pin));
    if let Some(u) = unblock_line(pin) {
        let _ = writeln!(out, "Unblock:  {u}");
    }
    out
}

pub fn pin_status_json(reader: &str, c: &TokenContents, pin: &Pin) -> Json {
    Json::Obj(vec![
        ("reader", Json::str(reader)),
        ("label", Json::str(&c.label)),
        ("serial", Json::str(&c.serial)),
        ("pin", pin_json(pin)),
    ])
}

// ---------------------------------------------------------------------------------------
// Certificates

/// What a certificate says, for display.
struct CertView {
    subject: String,
    issuer: String,
    serial: String,
    bits: usize,
    not_before: i64,
    not_after: i64,
}

fn name_text(der: &[u8]) -> String {
    match X509Name::from_der(der) {
        Ok((_, name)) => name.to_string(),
        Err(_) => format!("(unparsable name {})", hex(der)),
    }
}

/// The content bytes of a DER INTEGER (short or 1–2-byte long length form).
fn integer_content(der: &[u8]) -> &[u8] {
    let skip = match der.get(1) {
        Some(0x81) => 3,
        Some(0x82) => 4,
        _ => 2,
    };
    der.get(skip..).unwrap_or_default()
}

fn cert_view(cert: &CertInfo) -> Result<CertView, String> {
    let f = x509::parse(&cert.der).map_err(|e| e.to_string())?;
    Ok(CertView {
        subject: name_text(&f.subject),
        issuer: name_text(&f.issuer),
        serial: hex(integer_content(&f.serial_der)),
        bits: f.modulus_bits,
        not_before: f.not_before,
        not_after: f.not_after,
    })
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(timestamp: i64) -> String {
    let d = x509::ck_date(timestamp);
    let date = String::from_utf8_lossy(&d).into_owned();
    let secs = timestamp.rem_euclid(86_400);
    format!(
        "{}-{}-{} {:02}:{:02}:{:02} UTC",
        &date[0..4],
        &date[4..6],
        &date[6..8],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Validity of a certificate at `now`.
fn validity_note(v: &CertView, now: i64) -> Option<&'static str> {
    if now > v.not_after {
        Some("EXPIRED")
    } else if now < v.not_before {
        Some("NOT YET VALID")
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------
// Token info

/// Everything `cpx info` shows.
pub struct Info<'a> {
    pub reader: &'a str,
    pub contents: &'a TokenContents,
    pub pin: Pin,
    /// Unix time the validity of certificates is judged at.
    pub now: i64,
}

fn key_usage_text(k: &KeyInfo) -> String {
    let mut uses = Vec::new();
    if k.can_sign {
        uses.push("sign");
    }
    if k.can_decrypt {
        uses.push("decrypt");
    }
    if k.non_repudiation {
        uses.push("non-repudiation");
    }
    if uses.is_empty() {
        uses.push("none");
    }
    let pin = if !k.needs_login {
        "no PIN needed"
    } else if k.user_consent {
        "PIN needed before each use"
    } else {
        "PIN needed"
    };
    format!("{}; {pin}", uses.join(", "))
}

fn data_object_size(d: &DataObject) -> String {
    match &d.value {
        Some(v) => format!("{} bytes", v.len()),
        None if d.private => "size unknown until login".into(),
        None => "not readable".into(),
    }
}

impl Info<'_> {
    pub fn text(&self) -> String {
        let c = self.contents;
        let mut out = String::new();
        let _ = writeln!(out, "Reader:        {}", self.reader);
        let _ = writeln!(out, "ATR:           {}", hex_spaced(&c.atr));
        let _ = writeln!(out, "Generation:    {}", generation_name(c.generation));
        let _ = writeln!(out, "Model:         {}", c.model);
        let _ = writeln!(out, "Token label:   {}", c.label);
        let _ = writeln!(out, "Manufacturer:  {}", c.manufacturer);
        let _ = writeln!(out, "Serial:        {}", c.serial);
        let _ = writeln!(out, "PAN:           {}", c.pan);
        let _ = writeln!(out, "PIN:           {}", pin_line(&self.pin));
        if let Some(u) = unblock_line(&self.pin) {
            let _ = writeln!(out, "Unblock:       {u}");
        }

        let _ = writeln!(out, "\nCertificates ({}):", c.certs.len());
        for cert in &c.certs {
            let ca = if cert.authority { " [CA]" } else { "" };
            let _ = writeln!(out, "  {}{ca}", cert.label);
            let _ = writeln!(out, "    ID:          {}", hex(&cert.id));
            match cert_view(cert) {
                Ok(v) => {
                    let _ = writeln!(out, "    Subject:     {}", v.subject);
                    let _ = writeln!(out, "    Issuer:      {}", v.issuer);
                    let _ = writeln!(out, "    Serial:      {}", v.serial);
                    let _ = writeln!(out, "    Key:         RSA {} bits", v.bits);
                    let _ = writeln!(out, "    Not before:  {}", utc(v.not_before));
                    let note = validity_note(&v, self.now)
                        .map(|n| format!("  {n}"))
                        .unwrap_or_default();
                    let _ = writeln!(out, "    Not after:   {}{note}", utc(v.not_after));
                }
                Err(e) => {
                    let _ = writeln!(out, "    (does not parse: {e})");
                }
            }
        }

        let _ = writeln!(out, "\nPrivate keys ({}):", c.keys.len());
        for k in &c.keys {
            let _ = writeln!(out, "  {}", k.label);
            let _ = writeln!(out, "    ID:          {}", hex(&k.id));
            let _ = writeln!(
                out,
                "    Role:        {} (RSA {} bits)",
                role_name(k.role),
                k.bits
            );
            let _ = writeln!(out, "    Usage:       {}", key_usage_text(k));
        }

        let _ = writeln!(out, "\nData objects ({}):", c.data_objects.len());
        for d in &c.data_objects {
            let private = if d.private { "private" } else { "public" };
            let _ = writeln!(out, "  {} ({private}, {})", d.label, data_object_size(d));
        }
        out
    }

    pub fn json(&self) -> Json {
        let c = self.contents;
        let certs = c
            .certs
            .iter()
            .map(|cert| {
                let mut m = vec![
                    ("label", Json::str(&cert.label)),
                    ("id", Json::str(hex(&cert.id))),
                    ("authority", Json::Bool(cert.authority)),
                ];
                match cert_view(cert) {
                    Ok(v) => {
                        let note = validity_note(&v, self.now);
                        m.extend([
                            ("subject", Json::str(&v.subject)),
                            ("issuer", Json::str(&v.issuer)),
                            ("serial", Json::str(&v.serial)),
                            ("bits", Json::uint(v.bits)),
                            ("not_before", Json::str(utc(v.not_before))),
                            ("not_after", Json::str(utc(v.not_after))),
                            ("expired", Json::Bool(note == Some("EXPIRED"))),
                            ("not_yet_valid", Json::Bool(note == Some("NOT YET VALID"))),
                        ]);
                    }
                    Err(e) => m.push(("error", Json::str(e))),
                }
                Json::Obj(m)
            })
            .collect();
        let keys = c
            .keys
            .iter()
            .map(|k| {
                Json::Obj(vec![
                    ("label", Json::str(&k.label)),
                    ("id", Json::str(hex(&k.id))),
                    ("role", Json::str(role_name(k.role))),
                    ("bits", Json::uint(k.bits)),
                    ("sign", Json::Bool(k.can_sign)),
                    ("decrypt", Json::Bool(k.can_decrypt)),
                    ("non_repudiation", Json::Bool(k.non_repudiation)),
                    ("needs_login", Json::Bool(k.needs_login)),
                    ("user_consent", Json::Bool(k.user_consent)),
                ])
            })
            .collect();
        let data = c
            .data_objects
            .iter()
            .map(|d| {
                Json::Obj(vec![
                    ("label", Json::str(&d.label)),
                    ("application", Json::str(&d.application)),
                    ("private", Json::Bool(d.private)),
                    ("modifiable", Json::Bool(d.modifiable)),
                    (
                        "size",
                        Json::opt(d.value.as_ref().map(|v| Json::uint(v.len()))),
                    ),
                ])
            })
            .collect();
        Json::Obj(vec![
            ("reader", Json::str(self.reader)),
            ("atr", Json::str(hex(&c.atr))),
            ("generation", Json::str(generation_id(c.generation))),
            ("model", Json::str(&c.model)),
            ("label", Json::str(&c.label)),
            ("manufacturer", Json::str(&c.manufacturer)),
            ("serial", Json::str(&c.serial)),
            ("pan", Json::str(&c.pan)),
            ("pin", pin_json(&self.pin)),
            ("certificates", Json::Arr(certs)),
            ("keys", Json::Arr(keys)),
            ("data_objects", Json::Arr(data)),
        ])
    }
}

// ---------------------------------------------------------------------------------------
// APDU trace

/// Response data bytes shown per exchange unless `--full`.
const SHORT_DATA: usize = 32;

/// Totals of a recorded exchange.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub apdus: usize,
    pub sent: usize,
    pub received: usize,
}

pub fn totals(events: &[Event]) -> Totals {
    let mut t = Totals::default();
    for e in events {
        match e {
            Event::Exchange {
                command, response, ..
            } => {
                t.apdus += 1;
                t.sent += command.len();
                t.received += response.as_ref().map(Vec::len).unwrap_or(0);
            }
            Event::PinPad { response, .. } => {
                t.apdus += 1;
                t.received += response.as_ref().map(Vec::len).unwrap_or(0);
            }
            Event::Begin { .. } | Event::End => {}
        }
    }
    t
}

fn response_text(raw: &[u8], full: bool) -> String {
    let [data @ .., sw1, sw2] = raw else {
        return format!("(short answer: {})", hex_spaced(raw));
    };
    if data.is_empty() {
        return format!("{sw1:02X} {sw2:02X}");
    }
    let shown = if full || data.len() <= SHORT_DATA {
        hex_spaced(data)
    } else {
        format!("{} …", hex_spaced(&data[..SHORT_DATA]))
    };
    let unit = if data.len() == 1 { "byte" } else { "bytes" };
    format!("{sw1:02X} {sw2:02X}  [{} {unit}] {shown}", data.len())
}

pub fn trace_text(events: &[Event], card_count: usize, full: bool) -> String {
    let mut out = String::from("APDU exchange (PIN data masked):\n");
    let mut n = 0;
    for e in events {
        match e {
            Event::Begin { reset } => {
                let note = if *reset {
                    " (card was reset by another application)"
                } else {
                    ""
                };
                let _ = writeln!(out, "-- begin transaction{note}");
            }
            Event::End => out.push_str("-- end transaction\n"),
            Event::Exchange {
                command,
                redacted,
                response,
            } => {
                n += 1;
                let masked = if *redacted { "  (PIN data masked)" } else { "" };
                let _ = writeln!(out, "{n:>4} > {}{masked}", hex_spaced(command));
                match response {
                    Ok(raw) => {
                        let _ = writeln!(out, "     < {}", response_text(raw, full));
                    }
                    Err(err) => {
                        let _ = writeln!(out, "     ! {err}");
                    }
                }
            }
            Event::PinPad { header, response } => {
                n += 1;
                let _ = writeln!(
                    out,
                    "{n:>4} > {} (completed on the reader's PIN pad)",
                    hex_spaced(header)
                );
                match response {
                    Ok(raw) => {
                        let _ = writeln!(out, "     < {}", response_text(raw, full));
                    }
                    Err(err) => {
                        let _ = writeln!(out, "     ! {err}");
                    }
                }
            }
        }
    }
    let t = totals(events);
    let _ = writeln!(
        out,
        "{} APDUs ({} by the card layer since bind), {} bytes sent, {} bytes received",
        t.apdus, card_count, t.sent, t.received
    );
    out
}

pub fn trace_json(events: &[Event], card_count: usize) -> Json {
    let t = totals(events);
    let exchanges = events
        .iter()
        .filter_map(|e| match e {
            Event::Exchange {
                command,
                redacted,
                response,
            } => Some(Json::Obj(vec![
                ("command", Json::str(hex(command))),
                ("redacted", Json::Bool(*redacted)),
                match response {
                    Ok(raw) => ("response", Json::str(hex(raw))),
                    Err(err) => ("error", Json::str(err.to_string())),
                },
            ])),
            Event::PinPad { header, response } => Some(Json::Obj(vec![
                ("command", Json::str(hex(header))),
                ("pin_pad", Json::Bool(true)),
                match response {
                    Ok(raw) => ("response", Json::str(hex(raw))),
                    Err(err) => ("error", Json::str(err.to_string())),
                },
            ])),
            Event::Begin { .. } | Event::End => None,
        })
        .collect();
    Json::Obj(vec![
        ("apdus", Json::uint(t.apdus)),
        ("card_layer_apdus", Json::uint(card_count)),
        ("bytes_sent", Json::uint(t.sent)),
        ("bytes_received", Json::uint(t.received)),
        ("exchanges", Json::Arr(exchanges)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn integer_content_forms() {
        assert_eq!(integer_content(&[0x02, 0x01, 0x05]), &[0x05]);
        let mut long = vec![0x02, 0x81, 0x80];
        long.extend([0x11; 0x80]);
        assert_eq!(integer_content(&long).len(), 0x80);
        assert_eq!(integer_content(&[0x02]), &[] as &[u8]);
    }

    #[test]
    fn pin_lines() {
        let s = PinStatus {
            tries_left: 3,
            max_tries: 3,
            unblock_left: Some(10),
            verified: false,
        };
        assert_eq!(pin_line(&Pin::Status(s)), "3/3 tries left");
        let blocked = PinStatus { tries_left: 0, ..s };
        assert_eq!(pin_line(&Pin::Status(blocked)), "BLOCKED (0/3 tries left)");
        assert_eq!(
            unblock_line(&Pin::Status(s)).as_deref(),
            Some("10 uses left")
        );
        assert_eq!(unblock_line(&Pin::Absent), None);
    }

    #[test]
    fn responses_are_shortened() {
        let mut raw = vec![0xAB; 100];
        raw.extend([0x90, 0x00]);
        let short = response_text(&raw, false);
        assert!(short.starts_with("90 00  [100 bytes] AB AB"), "{short}");
        assert!(short.ends_with('…'));
        assert!(!response_text(&raw, true).contains('…'));
        assert_eq!(response_text(&[0x63, 0xC3], false), "63 C3");
        assert_eq!(response_text(&[0x6A], false), "(short answer: 6A)");
        assert_eq!(
            response_text(&[0x4B, 0x90, 0x00], false),
            "90 00  [1 byte] 4B"
        );
    }

    #[test]
    fn totals_count_every_exchange() {
        let events = vec![
            Event::Begin { reset: false },
            Event::Exchange {
                command: vec![0; 5],
                redacted: false,
                response: Ok(vec![0x90, 0x00]),
            },
            Event::Exchange {
                command: vec![0; 4],
                redacted: false,
                response: Err(cpx_pkcs11::transport::TransportError::Removed),
            },
            Event::End,
        ];
        assert_eq!(
            totals(&events),
            Totals {
                apdus: 2,
                sent: 9,
                received: 2
            }
        );
    }
}
