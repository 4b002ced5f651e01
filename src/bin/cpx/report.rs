//! What `cpx` prints: readers, token contents, certificates, PIN counters and the APDU
//! trace, as text for people (French or English, `i18n`) and as JSON for scripts (English
//! keys, stable). Pure functions of what the card layer returned.

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

/// `label` padded to `width` characters, then `value`, then a newline.
pub fn field(out: &mut String, indent: usize, width: usize, label: &str, value: &str) {
    let pad = width.saturating_sub(label.chars().count());
    let _ = writeln!(out, "{:indent$}{label}{:pad$}{value}", "", "");
}

/// `Lecteur :` / `Reader:` — the French colon takes a space before it.
pub fn label(fr: &str, en: &str) -> String {
    match crate::i18n::lang() {
        crate::i18n::Lang::Fr => format!("{fr} : "),
        crate::i18n::Lang::En => format!("{en}: "),
    }
}

pub fn generation_name(g: Generation) -> String {
    match g {
        Generation::Cps3 => "CPS3".into(),
        Generation::Cps3Cl => tr!("CPS3 sans contact", "CPS3 contactless"),
        Generation::Cps4 => "CPS4".into(),
    }
}

pub fn generation_id(g: Generation) -> &'static str {
    match g {
        Generation::Cps3 => "cps3",
        Generation::Cps3Cl => "cps3-contactless",
        Generation::Cps4 => "cps4",
    }
}

fn role_id(r: KeyRole) -> &'static str {
    match r {
        KeyRole::Authentication => "authentication",
        KeyRole::Signature => "signature",
        KeyRole::Technical => "technical",
    }
}

fn role_name(r: KeyRole) -> String {
    match r {
        KeyRole::Authentication => tr!("authentification", "authentication"),
        KeyRole::Signature => tr!("signature", "signature"),
        KeyRole::Technical => tr!("technique", "technical"),
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
        out.push_str(&tr!("aucun lecteur trouvé\n", "no readers found\n"));
        return out;
    }
    let w = 8;
    for r in readers {
        let _ = writeln!(out, "{}", r.name);
        if !r.card_present {
            field(
                &mut out,
                2,
                w,
                &label("carte", "card"),
                &tr!("aucune", "none"),
            );
            continue;
        }
        field(
            &mut out,
            2,
            w,
            &label("carte", "card"),
            &tr!("présente", "present"),
        );
        field(&mut out, 2, w, &label("ATR", "ATR"), &hex_spaced(&r.atr));
        let cpx = match atr_guess(&r.atr) {
            Some(p) => tr!("oui ({})", "yes ({})", p.name),
            None => tr!(
                "non (ATR d'aucune carte CPS3/CPS4)",
                "no (ATR not of a CPS3/CPS4 card)"
            ),
        };
        field(&mut out, 2, w, &label("CPx", "CPx"), &cpx);
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

impl Pin {
    pub fn blocked(&self) -> bool {
        matches!(self, Pin::Status(s) if s.tries_left == 0)
    }

    /// Blocked with no unblock use left: only a new card helps.
    pub fn blocked_for_good(&self) -> bool {
        matches!(self, Pin::Status(s) if s.tries_left == 0 && s.unblock_left == Some(0))
    }
}

pub fn tries(n: u8) -> String {
    if n == 1 {
        tr!("1 essai", "1 try")
    } else {
        tr!("{n} essais", "{n} tries")
    }
}

pub fn pin_line(pin: &Pin) -> String {
    match pin {
        Pin::Absent => tr!(
            "aucun (ce jeton n'a pas de code porteur)",
            "none (this token has no user PIN)"
        ),
        Pin::Unreadable(e) => tr!("illisible ({e})", "unreadable ({e})"),
        Pin::Status(s) => {
            let max = s.max_tries;
            let mut line = if s.tries_left == 0 {
                tr!(
                    "BLOQUÉ (0/{max} essai restant)",
                    "BLOCKED (0/{max} tries left)"
                )
            } else {
                let left = s.tries_left;
                tr!("{left}/{max} essais restants", "{left}/{max} tries left")
            };
            if s.verified {
                line.push_str(&tr!(
                    ", vérifié dans cette session de la carte",
                    ", verified in this card session"
                ));
            }
            line
        }
    }
}

pub fn unblock_line(pin: &Pin) -> Option<String> {
    match pin {
        Pin::Status(PinStatus {
            unblock_left: Some(n),
            ..
        }) => Some(tr!("{n} déblocages restants", "{n} uses left")),
        Pin::Status(_) => Some(tr!("non indiqué par la carte", "not reported by the card")),
        _ => None,
    }
}

/// What to do about a blocked PIN, or `None`.
pub fn blocked_advice(pin: &Pin) -> Option<String> {
    if pin.blocked_for_good() {
        Some(tr!(
            "le code porteur est bloqué et le code de déblocage (PUK) est épuisé : la carte \
             ne peut plus être débloquée. Commandez une nouvelle carte (votre ordre, ou \
             l'ANS : esante.gouv.fr, « Commander une carte CPS »).",
            "the PIN is blocked and the unblocking code (PUK) is used up: the card can no \
             longer be unblocked. Order a new card (from your professional body, or ANS: \
             esante.gouv.fr, \"Commander une carte CPS\")."
        ))
    } else if pin.blocked() {
        Some(tr!(
            "le code porteur est bloqué : débloquez-le avec le code de déblocage (PUK, 8 \
             chiffres, reçu avec la carte) : cpx pin unblock. Sans PUK : commandez une \
             nouvelle carte.",
            "the PIN is blocked: unblock it with the unblocking code (PUK, 8 digits, sent \
             with the card): cpx pin unblock. Without the PUK: order a new card."
        ))
    } else {
        None
    }
}

pub fn pin_json(pin: &Pin) -> Json {
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
    let w = 16;
    field(&mut out, 0, w, &label("Lecteur", "Reader"), reader);
    let token = tr!("{} (numéro {})", "{} (serial {})", c.label, c.serial);
    field(&mut out, 0, w, &label("Jeton", "Token"), &token);
    field(
        &mut out,
        0,
        w,
        &label("Code porteur", "PIN"),
        &pin_line(pin),
    );
    if let Some(u) = unblock_line(pin) {
        field(&mut out, 0, w, &label("Déblocage", "Unblock"), &u);
    }
    if let Some(advice) = blocked_advice(pin) {
        let _ = writeln!(out, "\n{}", capitalize(&advice));
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

pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Certificates

/// Days before expiry from which a certificate is reported as expiring soon.
pub const EXPIRY_WARNING_DAYS: i64 = 90;

/// What a certificate says, for display.
pub struct CertView {
    pub subject: String,
    pub issuer: String,
    pub holder: String,
    pub issuer_cn: String,
    pub serial: String,
    pub bits: usize,
    pub not_before: i64,
    pub not_after: i64,
}

/// A certificate's validity at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Valid {
        days_left: i64,
    },
    /// Valid, but for less than [`EXPIRY_WARNING_DAYS`] more days.
    ExpiresSoon {
        days_left: i64,
    },
    Expired {
        days_ago: i64,
    },
    NotYetValid,
}

impl Validity {
    pub fn at(v: &CertView, now: i64) -> Validity {
        if now > v.not_after {
            Validity::Expired {
                days_ago: (now - v.not_after) / 86_400,
            }
        } else if now < v.not_before {
            Validity::NotYetValid
        } else {
            let days_left = (v.not_after - now) / 86_400;
            if days_left < EXPIRY_WARNING_DAYS {
                Validity::ExpiresSoon { days_left }
            } else {
                Validity::Valid { days_left }
            }
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Validity::Valid { .. } => "valid",
            Validity::ExpiresSoon { .. } => "expires_soon",
            Validity::Expired { .. } => "expired",
            Validity::NotYetValid => "not_yet_valid",
        }
    }

    /// Whole days left (negative once expired: minus the whole days since).
    pub fn days_left(self, v: &CertView, now: i64) -> i64 {
        (v.not_after - now) / 86_400
    }

    pub fn text(self) -> String {
        match self {
            Validity::Valid { days_left } => tr!(
                "valide ({days_left} jours restants)",
                "valid ({days_left} days left)"
            ),
            Validity::ExpiresSoon { days_left } => tr!(
                "ATTENTION : expire dans {days_left} jours",
                "WARNING: expires in {days_left} days"
            ),
            Validity::Expired { days_ago } => tr!(
                "ERREUR : EXPIRÉ depuis {days_ago} jours",
                "ERROR: EXPIRED {days_ago} days ago"
            ),
            Validity::NotYetValid => tr!(
                "ERREUR : PAS ENCORE VALIDE (horloge de l'ordinateur ?)",
                "ERROR: NOT YET VALID (computer clock?)"
            ),
        }
    }
}

fn name_text(der: &[u8]) -> String {
    match X509Name::from_der(der) {
        Ok((_, name)) => name.to_string(),
        Err(_) => format!("(unparsable name {})", hex(der)),
    }
}

fn common_name(der: &[u8]) -> Option<String> {
    let (_, name) = X509Name::from_der(der).ok()?;
    let cn = name.iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// "givenName SURNAME (CN)" when the name has a given name and a surname (CPx subjects:
/// the CN is the holder's national identifier), else the CN.
fn holder_name(der: &[u8]) -> Option<String> {
    use x509_parser::oid_registry::{OID_X509_GIVEN_NAME, OID_X509_SURNAME};
    let (_, name) = X509Name::from_der(der).ok()?;
    let first = |oid| {
        name.iter_by_oid(oid)
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_string)
    };
    let cn = common_name(der);
    match (first(&OID_X509_GIVEN_NAME), first(&OID_X509_SURNAME), cn) {
        (Some(g), Some(s), Some(cn)) => Some(format!("{g} {s} ({cn})")),
        (Some(g), Some(s), None) => Some(format!("{g} {s}")),
        (_, _, cn) => cn,
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

pub fn cert_view(cert: &CertInfo) -> Result<CertView, String> {
    let f = x509::parse(&cert.der).map_err(|e| e.to_string())?;
    let subject = name_text(&f.subject);
    let issuer = name_text(&f.issuer);
    Ok(CertView {
        holder: holder_name(&f.subject).unwrap_or_else(|| subject.clone()),
        issuer_cn: common_name(&f.issuer).unwrap_or_else(|| issuer.clone()),
        subject,
        issuer,
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

/// The JSON members of a parsed certificate at `now`.
pub fn cert_json_members(v: &CertView, now: i64) -> Vec<(&'static str, Json)> {
    let validity = Validity::at(v, now);
    let days = validity.days_left(v, now);
    vec![
        ("subject", Json::str(&v.subject)),
        ("holder", Json::str(&v.holder)),
        ("issuer", Json::str(&v.issuer)),
        ("issuer_cn", Json::str(&v.issuer_cn)),
        ("serial", Json::str(&v.serial)),
        ("bits", Json::uint(v.bits)),
        ("not_before", Json::str(utc(v.not_before))),
        ("not_after", Json::str(utc(v.not_after))),
        ("days_left", Json::Int(days)),
        ("validity", Json::str(validity.id())),
        (
            "expired",
            Json::Bool(matches!(validity, Validity::Expired { .. })),
        ),
        (
            "not_yet_valid",
            Json::Bool(validity == Validity::NotYetValid),
        ),
    ]
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
        uses.push(tr!("signer", "sign"));
    }
    if k.can_decrypt {
        uses.push(tr!("déchiffrer", "decrypt"));
    }
    if k.non_repudiation {
        uses.push(tr!("non-répudiation", "non-repudiation"));
    }
    if uses.is_empty() {
        uses.push(tr!("aucun", "none"));
    }
    let pin = if !k.needs_login {
        tr!("sans code porteur", "no PIN needed")
    } else if k.user_consent {
        tr!(
            "code porteur avant chaque usage",
            "PIN needed before each use"
        )
    } else {
        tr!("code porteur nécessaire", "PIN needed")
    };
    format!("{}; {pin}", uses.join(", "))
}

fn data_object_size(d: &DataObject) -> String {
    match &d.value {
        Some(v) => tr!("{} octets", "{} bytes", v.len()),
        None if d.private => tr!(
            "taille inconnue avant le code porteur",
            "size unknown until login"
        ),
        None => tr!("illisible", "not readable"),
    }
}

impl Info<'_> {
    pub fn text(&self) -> String {
        let c = self.contents;
        let mut out = String::new();
        let w = 20;
        let f = |out: &mut String, l: String, v: &str| field(out, 0, w, &l, v);
        f(&mut out, label("Lecteur", "Reader"), self.reader);
        f(&mut out, label("ATR", "ATR"), &hex_spaced(&c.atr));
        f(
            &mut out,
            label("Génération", "Generation"),
            &generation_name(c.generation),
        );
        f(&mut out, label("Modèle", "Model"), &c.model);
        f(&mut out, label("Libellé du jeton", "Token label"), &c.label);
        f(
            &mut out,
            label("Fabricant", "Manufacturer"),
            &c.manufacturer,
        );
        f(&mut out, label("Numéro de série", "Serial"), &c.serial);
        f(&mut out, label("PAN", "PAN"), &c.pan);
        f(&mut out, label("Code porteur", "PIN"), &pin_line(&self.pin));
        if let Some(u) = unblock_line(&self.pin) {
            f(&mut out, label("Déblocage", "Unblock"), &u);
        }

        let _ = writeln!(
            out,
            "\n{}",
            tr!("Certificats ({}) :", "Certificates ({}):", c.certs.len())
        );
        let w = 16;
        for cert in &c.certs {
            let ca = if cert.authority { " [CA]" } else { "" };
            let _ = writeln!(out, "  {}{ca}", cert.label);
            field(&mut out, 4, w, &label("ID", "ID"), &hex(&cert.id));
            match cert_view(cert) {
                Ok(v) => {
                    field(&mut out, 4, w, &label("Sujet", "Subject"), &v.subject);
                    field(&mut out, 4, w, &label("Émetteur", "Issuer"), &v.issuer);
                    field(&mut out, 4, w, &label("Série", "Serial"), &v.serial);
                    let key = tr!("RSA {} bits", "RSA {} bits", v.bits);
                    field(&mut out, 4, w, &label("Clé", "Key"), &key);
                    field(
                        &mut out,
                        4,
                        w,
                        &label("Début", "Not before"),
                        &utc(v.not_before),
                    );
                    field(
                        &mut out,
                        4,
                        w,
                        &label("Fin", "Not after"),
                        &utc(v.not_after),
                    );
                    let state = Validity::at(&v, self.now).text();
                    field(&mut out, 4, w, &label("État", "Status"), &state);
                }
                Err(e) => {
                    let _ = writeln!(
                        out,
                        "    {}",
                        tr!("(illisible : {e})", "(does not parse: {e})")
                    );
                }
            }
        }

        let _ = writeln!(
            out,
            "\n{}",
            tr!("Clés privées ({}) :", "Private keys ({}):", c.keys.len())
        );
        for k in &c.keys {
            let _ = writeln!(out, "  {}", k.label);
            field(&mut out, 4, w, &label("ID", "ID"), &hex(&k.id));
            let role = format!("{} (RSA {} bits)", role_name(k.role), k.bits);
            field(&mut out, 4, w, &label("Rôle", "Role"), &role);
            field(&mut out, 4, w, &label("Usage", "Usage"), &key_usage_text(k));
        }

        let _ = writeln!(
            out,
            "\n{}",
            tr!(
                "Objets de données ({}) :",
                "Data objects ({}):",
                c.data_objects.len()
            )
        );
        for d in &c.data_objects {
            let private = if d.private {
                tr!("privé", "private")
            } else {
                tr!("public", "public")
            };
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
                    Ok(v) => m.extend(cert_json_members(&v, self.now)),
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
                    ("role", Json::str(role_id(k.role))),
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
        return tr!(
            "(réponse trop courte : {})",
            "(short answer: {})",
            hex_spaced(raw)
        );
    };
    if data.is_empty() {
        return format!("{sw1:02X} {sw2:02X}");
    }
    let shown = if full || data.len() <= SHORT_DATA {
        hex_spaced(data)
    } else {
        format!("{} …", hex_spaced(&data[..SHORT_DATA]))
    };
    let unit = match (data.len(), crate::i18n::lang()) {
        (1, crate::i18n::Lang::Fr) => "octet",
        (_, crate::i18n::Lang::Fr) => "octets",
        (1, crate::i18n::Lang::En) => "byte",
        (_, crate::i18n::Lang::En) => "bytes",
    };
    format!("{sw1:02X} {sw2:02X}  [{} {unit}] {shown}", data.len())
}

pub fn trace_text(events: &[Event], card_count: usize, full: bool) -> String {
    let mut out = tr!(
        "Échange APDU (PIN, PUK et données à signer masqués) :\n",
        "APDU exchange (PIN, PUK and data to sign masked):\n"
    );
    let mut n = 0;
    for e in events {
        match e {
            Event::Begin { reset } => {
                let note = if *reset {
                    tr!(
                        " (carte réinitialisée par une autre application)",
                        " (card was reset by another application)"
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "{}{note}",
                    tr!("-- début de transaction", "-- begin transaction")
                );
            }
            Event::End => out.push_str(&tr!("-- fin de transaction\n", "-- end transaction\n")),
            Event::Exchange {
                command,
                redacted,
                response,
            } => {
                n += 1;
                let masked = if *redacted {
                    tr!("  (données masquées)", "  (data masked)")
                } else {
                    String::new()
                };
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
                let pad = tr!(
                    "(saisi sur le clavier du lecteur)",
                    "(completed on the reader's PIN pad)"
                );
                let _ = writeln!(out, "{n:>4} > {} {pad}", hex_spaced(header));
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
    let (apdus, sent, received) = (t.apdus, t.sent, t.received);
    let _ = writeln!(
        out,
        "{}",
        tr!(
            "{apdus} APDU ({card_count} par la couche carte depuis la lecture), {sent} octets \
             envoyés, {received} octets reçus",
            "{apdus} APDUs ({card_count} by the card layer since bind), {sent} bytes sent, \
             {received} bytes received"
        )
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
    use crate::i18n::{set_lang, with_lang, Lang};

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
        set_lang(Lang::En);
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
        let fr = with_lang(Lang::Fr, || pin_line(&Pin::Status(blocked)));
        assert_eq!(fr, "BLOQUÉ (0/3 essai restant)");
    }

    #[test]
    fn responses_are_shortened() {
        set_lang(Lang::En);
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
