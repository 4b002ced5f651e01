//! Deterministic generator of the committed test fixtures.
//!
//! ```text
//! cargo run --release --example gen-fixtures --features sim
//! ```
//!
//! Writes
//! * `fixtures/pki/`: a test PKI shaped like IGC-Santé (root, intermediate, one authentication
//!   and one signature certificate per persona, the contactless technical certificate), as DER
//!   and PEM, plus `ca-chain.pem`;
//! * `fixtures/cards/<persona>/`: `card.toml` (a [`Profile`] written with
//!   [`Profile::to_toml`], so the schema matches by construction) and the binary files it names
//!   (PKCS#15 files, certificates, data objects, test-only PKCS#8 private keys);
//! * `fixtures/cards/README.md`.
//!
//! Everything is reproducible: RSA keys come from `ChaCha20Rng::seed_from_u64(<fixed seed>)`,
//! dates and serial numbers are constants, and PKCS#1 v1.5 signatures are deterministic.
//! Running the generator twice gives byte-identical files.
//!
//! What the cards contain follows `cpx-cards.md` §4–§7, §10–§14 and `cryptolib-compat.md` §5–§6.
//! Every value that is not known from a real card is marked `[assume]` here and in the README.

use cpx_pkcs11::sim::profile::{
    ChvSpec, FileSpec, FileType, Generation, Hex, KeyOp, KeySpec, Latency, Profile, Protocol,
    Quirks, SeSpec, Volet,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

type Res<T> = Result<T, Box<dyn Error>>;

// ------------------------------------------------------------------------------------------
// DER writer: just what certificates and PKCS#15 files need (one-byte tags, definite lengths).
// ------------------------------------------------------------------------------------------
mod der {
    /// Tag ‖ definite length ‖ content.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let n = content.len();
        let mut out = vec![tag];
        if n < 0x80 {
            out.push(n as u8);
        } else if n < 0x100 {
            out.extend([0x81, n as u8]);
        } else {
            assert!(n < 0x1_0000, "DER object too long");
            out.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    /// A constructed object whose content is the concatenation of `parts`.
    pub fn cons(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(tag, &parts.concat())
    }

    pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        cons(0x30, parts)
    }

    /// SET OF with the DER ordering (elements sorted by their encodings).
    pub fn set_of(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
        parts.sort();
        cons(0x31, &parts)
    }

    /// Non-negative INTEGER from big-endian bytes.
    pub fn uint_bytes(bytes: &[u8]) -> Vec<u8> {
        let start = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        let mut content = Vec::new();
        if bytes[start] & 0x80 != 0 {
            content.push(0);
        }
        content.extend_from_slice(&bytes[start..]);
        tlv(0x02, &content)
    }

    pub fn uint(v: u64) -> Vec<u8> {
        uint_bytes(&v.to_be_bytes())
    }

    pub fn enumerated(v: u8) -> Vec<u8> {
        tlv(0x0A, &[v])
    }

    pub fn boolean_true() -> Vec<u8> {
        vec![0x01, 0x01, 0xFF]
    }

    pub fn null() -> Vec<u8> {
        vec![0x05, 0x00]
    }

    pub fn octets(bytes: &[u8]) -> Vec<u8> {
        tlv(0x04, bytes)
    }

    pub fn utf8(s: &str) -> Vec<u8> {
        tlv(0x0C, s.as_bytes())
    }

    pub fn printable(s: &str) -> Vec<u8> {
        tlv(0x13, s.as_bytes())
    }

    pub fn numeric(s: &str) -> Vec<u8> {
        tlv(0x12, s.as_bytes())
    }

    pub fn utc_time(s: &str) -> Vec<u8> {
        tlv(0x17, s.as_bytes())
    }

    pub fn generalized_time(s: &str) -> Vec<u8> {
        tlv(0x18, s.as_bytes())
    }

    /// OBJECT IDENTIFIER from its arcs.
    pub fn oid(arcs: &[u64]) -> Vec<u8> {
        let mut content = vec![(arcs[0] * 40 + arcs[1]) as u8];
        for &arc in &arcs[2..] {
            let mut groups = vec![(arc & 0x7F) as u8];
            let mut rest = arc >> 7;
            while rest > 0 {
                groups.push(0x80 | (rest & 0x7F) as u8);
                rest >>= 7;
            }
            content.extend(groups.iter().rev());
        }
        tlv(0x06, &content)
    }

    /// BIT STRING of a named-bit list (bit 0 = most significant bit of the first byte),
    /// DER-minimal: trailing zero bits dropped, so no flags at all is `03 01 00`.
    pub fn bits(named: &[usize]) -> Vec<u8> {
        let Some(&max) = named.iter().max() else {
            return vec![0x03, 0x01, 0x00];
        };
        let mut content = vec![0u8; max / 8 + 2];
        content[0] = (7 - max % 8) as u8;
        for &bit in named {
            content[1 + bit / 8] |= 0x80 >> (bit % 8);
        }
        tlv(0x03, &content)
    }

    /// BIT STRING with an explicit unused-bits byte (also for mis-encoded ones).
    pub fn bit_string_raw(unused: u8, bytes: &[u8]) -> Vec<u8> {
        let mut content = vec![unused];
        content.extend_from_slice(bytes);
        tlv(0x03, &content)
    }
}

use der::{bits, cons, octets, seq, tlv, uint, utf8};

// ------------------------------------------------------------------------------------------
// Constants of the CPx cards (cpx-cards.md §2–§7).
// ------------------------------------------------------------------------------------------

/// DF name of the CPS3 MF; CPS4: the ChipDoc applet.
const MF_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00];
/// PKCS#15 application "CPX IAS" (contact), DF 3F00/0001.
const AID_CONTACT: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];
/// PKCS#15 application "CPX IAS CL" (contactless), DF 3F00/0002.
const AID_CONTACTLESS: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x20,
];
/// EF.SN issuer prefix (PAN digits 8025000001).
const PAN_PREFIX: &str = "8025000001";

const ATR_CPS3: &str = "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00";
const ATR_CPS3_CL: &str = "3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E";
const ATR_CPS4: &str = "3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44";
/// Legacy CPS2ter card: the real ATR is not published [assume]: an inverse-convention T=0
/// ATR of the Bull CP8 family with status bytes `90 00`.
const ATR_CPS2TER_LEGACY: &str = "3F 65 25 08 36 04 6C 90 00";

/// EF.ATR of a real CPS3 (cpx-cards.md §4.3), 57 bytes, starting with the category byte 80.
const EF_ATR: &str = "80 43 01 B8 46 04 04 B0 EC C1 47 03 94 01 80 \
                      4F 08 80 25 00 00 01 FF 01 00 \
                      E0 10 02 02 01 04 02 02 01 04 02 02 01 00 02 02 01 00 \
                      78 08 06 06 2B 81 22 F8 78 02 82 02 90 00";

/// Access rules (8C/9C values: AMB then one SCB per AMB bit 40..01).
mod acl {
    /// MF and application DFs: only CREATE EF, under SM SE #5 (real MF rule).
    pub const DF: &str = "7A FF FF FF FF 45";
    /// EF.DIR / EF.ATR / EF.SN / EF_ACTUA over contact: DELETE and UPDATE under SM, READ always.
    pub const MF_EF: &str = "7B 45 FF FF FF 45 00";
    /// The same files over contactless: READ only (real EF.ATR 9C).
    pub const MF_EF_CL: &str = "7B FF FF FF FF FF 00";
    /// Public PKCS#15 files: UPDATE never, READ always.
    pub const PUBLIC: &str = "03 FF 00";
    /// CPS_DATA: UPDATE after user PIN (SE #1) [assume §14 #10], READ always.
    pub const WRITABLE: &str = "03 11 00";
    /// Situations and D107: READ after user PIN (SE #1).
    pub const PRIVATE: &str = "03 FF 11";
    /// Contact application files seen contactless: never readable (cpx-cards.md §12).
    pub const NEVER: &str = "03 FF FF";
    /// User PIN CHV SDO (real).
    pub const PIN: &str = "F3 00 00 13 FF 00";
    /// PUK CHV SDO (real).
    pub const PUK: &str = "F3 FF 00 FF FF 00";
    /// CPS3 signature key: PSO CDS after PIN, GET DATA always [assume §7.1].
    pub const CPS3_SIG: &str = "C1 11 00";
    /// CPS3 authentication key: INTERNAL AUTHENTICATE and DECIPHER after PIN [assume §7.1].
    pub const CPS3_AUT: &str = "B1 11 11 00";
    /// CPS4 signature key: PSO CDS after PIN [assume].
    pub const CPS4_SIG: &str = "C1 11 00";
    /// CPS4 authentication key: PSO CDS (PSS) and DECIPHER after PIN [assume].
    pub const CPS4_AUT: &str = "D1 11 11 00";
    /// Contactless technical key: INTERNAL AUTHENTICATE always, GET DATA always [assume §14 #14].
    pub const TECH: &str = "A1 00 00";
}

// ------------------------------------------------------------------------------------------
// Persona definitions.
// ------------------------------------------------------------------------------------------

/// A calendar date (time of day 00:00:00 UTC unless stated).
#[derive(Clone, Copy)]
struct Date(u16, u8, u8);

impl Date {
    /// `YYMMDDhhmmssZ` (UTCTime; all our dates are before 2050).
    fn utc(self) -> String {
        format!("{:02}{:02}{:02}000000Z", self.0 % 100, self.1, self.2)
    }

    /// `YYYYMMDDhhmmssZ` with the given time of day.
    fn generalized(self, hms: &str) -> String {
        format!("{:04}{:02}{:02}{hms}Z", self.0, self.1, self.2)
    }

    /// 7-byte BCD `YYYYMMDDhhmmss` (EF_ACTUA).
    fn bcd(self, hms: &str) -> Vec<u8> {
        bcd(&format!("{:04}{:02}{:02}{hms}", self.0, self.1, self.2))
    }
}

/// Which chip and application set a persona has.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cps3,
    Cps4,
    Cps3Cl,
    /// A legacy CPS2ter card on its own (CLA A0 volet only, no PKCS#15 application).
    Cps2ter,
}

/// The card holder: certificate subject and data-object values.
struct Holder {
    /// National identifier (CN): `8` + RPPS for professionals, `3` + FINESS + `/` + id for staff.
    id_nat: String,
    surname: &'static str,
    given_name: &'static str,
    /// "M" / "MME" (data objects only).
    civility: &'static str,
    /// Profession label (subject `title`).
    title: &'static str,
    /// Profession code of the ANS nomenclature (data objects only, [assume]).
    profession_code: &'static str,
    /// Specialty (code, label), if any.
    specialty: Option<(&'static str, &'static str)>,
    organization: Option<&'static str>,
    /// "CPS" or "CPE".
    card_type: &'static str,
}

/// One practice situation (CPS_ACTIVITY_nn_PS and its CPS2ter copy).
struct Situation {
    index: u8,
    /// "L" libéral, "S" salarié, "B" bénévole [assume].
    mode: &'static str,
    structure: &'static str,
    /// Identifier type: "3" FINESS, "5" SIRET (idNat prefixes of cpx-cards.md §1).
    id_type: &'static str,
    id: &'static str,
    address: &'static str,
    postcode: &'static str,
    city: &'static str,
}

/// Everything that varies between personas.
struct PersonaDef {
    name: &'static str,
    description: &'static str,
    purpose: &'static str,
    kind: Kind,
    /// The 8 serial digits of the PAN (EF.SN), after the issuer prefix.
    serial: &'static str,
    /// TokenInfo label of the contact application.
    label: String,
    holder: Holder,
    situations: Vec<Situation>,
    /// Certificate validity and card issuance.
    valid_from: Date,
    valid_to: Date,
    /// Seed of the first key; key n uses `seed + n`.
    seed: u64,
    pin_tries_left: u8,
    /// Reproduce the mis-encoded CommonObjectFlags of the real AODF/CDF (§5.5 #2).
    quirky_flags: bool,
    /// Card certificates carry a non-zero unused-bits byte in signatureValue (§5.5 #8).
    bad_cert_signature: bool,
    /// The signature key needs the PIN verified before each PSO CDS (simulator quirk
    /// `cds_needs_fresh_verify`), declared with PKCS#15 userConsent = 1 on CPS_PRIV_SIG.
    fresh_verify: bool,
    /// Unblock uses left on the PUK (DOCP `9D`).
    puk_usage_left: u16,
}

fn rpps_id_nat(rpps10: &str) -> String {
    format!("8{rpps10}{}", luhn(rpps10))
}

fn doctor_holder() -> Holder {
    Holder {
        id_nat: rpps_id_nat("9970000110"),
        surname: "MARTIN",
        given_name: "Claire",
        civility: "MME",
        title: "Médecin",
        profession_code: "10",
        specialty: Some(("SM54", "Médecine générale")),
        organization: None,
        card_type: "CPS",
    }
}

fn doctor_situations() -> Vec<Situation> {
    vec![
        Situation {
            index: 1,
            mode: "L",
            structure: "CABINET DU DR CLAIRE MARTIN",
            id_type: "5",
            id: "99000000100017",
            address: "12 RUE DE LA SANTE",
            postcode: "75014",
            city: "PARIS",
        },
        // Index 3 without 2: situation indexes may be non-contiguous (cryptolib-compat §6.3).
        Situation {
            index: 3,
            mode: "S",
            structure: "CENTRE DE SANTE DE TEST",
            id_type: "3",
            id: "990000026",
            address: "1 PLACE DE L'HOPITAL",
            postcode: "69003",
            city: "LYON",
        },
    ]
}

fn one_situation(structure: &'static str, mode: &'static str) -> Vec<Situation> {
    vec![Situation {
        index: 1,
        mode,
        structure,
        id_type: "3",
        id: "990000034",
        address: "5 AVENUE DES TESTS",
        postcode: "33000",
        city: "BORDEAUX",
    }]
}

const FROM: Date = Date(2024, 6, 1);
const TO: Date = Date(2027, 6, 1);

fn personas() -> Vec<PersonaDef> {
    vec![
        PersonaDef {
            name: "cps3-doctor",
            description: "CPS3 (IAS-ECC, contact, T=0) of a general practitioner",
            purpose: "the reference CPS3 card: login, sign, decrypt, data objects, OpenSC",
            kind: Kind::Cps3,
            serial: "99700011",
            label: "CPS3v3-2699700011".into(),
            holder: doctor_holder(),
            situations: doctor_situations(),
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0100,
            pin_tries_left: 3,
            quirky_flags: true,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cps3-pharmacist-blocked",
            description: "CPS3 of a pharmacist whose user PIN is blocked (PUK usable)",
            purpose: "CKF_USER_PIN_LOCKED, CKR_PIN_LOCKED, unblock with the PUK",
            kind: Kind::Cps3,
            serial: "99700022",
            label: "CPS3v3-2699700022".into(),
            holder: Holder {
                id_nat: rpps_id_nat("9970000220"),
                surname: "BERNARD",
                given_name: "Julien",
                civility: "M",
                title: "Pharmacien",
                profession_code: "21",
                specialty: None,
                organization: None,
                card_type: "CPS",
            },
            situations: one_situation("PHARMACIE DES TESTS", "L"),
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0200,
            pin_tries_left: 0,
            quirky_flags: true,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cps4-nurse",
            description: "CPS4 (ChipDoc, T=1) of a nurse",
            purpose: "the CPS4 dialect: channel 1, PSS, raw-RSA decipher, CPS2TER_* objects",
            kind: Kind::Cps4,
            serial: "99700033",
            label: "CPS4v1-8099700033".into(),
            holder: Holder {
                id_nat: rpps_id_nat("9970000330"),
                surname: "PETIT",
                given_name: "Sophie",
                civility: "MME",
                title: "Infirmier",
                profession_code: "60",
                specialty: None,
                organization: None,
                card_type: "CPS",
            },
            situations: vec![
                Situation {
                    index: 1,
                    mode: "L",
                    structure: "CABINET INFIRMIER DES TESTS",
                    id_type: "5",
                    id: "99000000300015",
                    address: "8 RUE DU SOIN",
                    postcode: "59000",
                    city: "LILLE",
                },
                Situation {
                    index: 2,
                    mode: "S",
                    structure: "CENTRE HOSPITALIER DE TEST",
                    id_type: "3",
                    id: "990000042",
                    address: "2 BOULEVARD DES URGENCES",
                    postcode: "59000",
                    city: "LILLE",
                },
            ],
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0300,
            pin_tries_left: 3,
            quirky_flags: false,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cpe-staff",
            description: "CPE (establishment staff card, CPS3 chip) of a medical secretary",
            purpose: "a non-RPPS holder: FINESS-based idNat, organisation in the subject",
            kind: Kind::Cps3,
            serial: "99700044",
            label: "CPS3v3-2699700044".into(),
            holder: Holder {
                id_nat: format!("3{}/CPE0044", finess("99000005")),
                surname: "ROBERT",
                given_name: "Nadia",
                civility: "MME",
                title: "Secrétaire médicale",
                profession_code: "",
                specialty: None,
                organization: Some("CENTRE HOSPITALIER DE TEST"),
                card_type: "CPE",
            },
            situations: one_situation("CENTRE HOSPITALIER DE TEST", "S"),
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0400,
            pin_tries_left: 3,
            quirky_flags: true,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cps3-expired",
            description: "CPS3 of a physician whose certificates expired on 2023-01-01",
            purpose: "expired certificates (the token still works; verifiers must refuse)",
            kind: Kind::Cps3,
            serial: "99700055",
            label: "CPS3v3-2699700055".into(),
            holder: Holder {
                id_nat: rpps_id_nat("9970000550"),
                surname: "RICHARD",
                given_name: "Thomas",
                civility: "M",
                title: "Médecin",
                profession_code: "10",
                specialty: Some(("SM26", "Qualifié en médecine générale")),
                organization: None,
                card_type: "CPS",
            },
            situations: one_situation("CABINET MEDICAL DES TESTS", "L"),
            valid_from: Date(2020, 1, 1),
            valid_to: Date(2023, 1, 1),
            seed: 0x5EED_0500,
            pin_tries_left: 3,
            quirky_flags: true,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cps3-contactless",
            description: "CPS3 seen through its contactless interface (PIN-less technical key)",
            purpose: "token CPS3v3_CL: no PIN, CPS_PRIV_TECH_AUT usable without login",
            kind: Kind::Cps3Cl,
            serial: "99700066",
            label: "CPS3v3-2699700066".into(),
            holder: Holder {
                id_nat: rpps_id_nat("9970000660"),
                surname: "DURAND",
                given_name: "Lucas",
                civility: "M",
                title: "Masseur-Kinésithérapeute",
                profession_code: "70",
                specialty: None,
                organization: None,
                card_type: "CPS",
            },
            situations: one_situation("CABINET DE KINESITHERAPIE DE TEST", "L"),
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0600,
            pin_tries_left: 3,
            quirky_flags: true,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cps3-strict",
            description: "cps3-doctor variant with well-formed BIT STRINGs in the AODF and CDF",
            purpose: "strict-DER PKCS#15 (no §5.5 #2 quirk); same holder as cps3-doctor",
            kind: Kind::Cps3,
            serial: "99700077",
            label: "CPS3v3-2699700077".into(),
            holder: doctor_holder(),
            situations: doctor_situations(),
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0700,
            pin_tries_left: 3,
            quirky_flags: false,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cps3-badcert",
            description: "cps3-doctor variant whose certificates have a non-zero unused-bits byte",
            purpose: "the Cryptolib certificate patch (cryptolib-compat §6.4)",
            kind: Kind::Cps3,
            serial: "99700088",
            label: "CPS3v3-2699700088".into(),
            holder: doctor_holder(),
            situations: doctor_situations(),
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0800,
            pin_tries_left: 3,
            quirky_flags: true,
            bad_cert_signature: true,
            fresh_verify: false,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cps3-signer",
            description: "cps3-doctor variant whose signature key wants the PIN before each signature",
            purpose: "per-signature PIN: userConsent on CPS_PRIV_SIG, the card forgets the PIN after each PSO CDS",
            kind: Kind::Cps3,
            serial: "99700099",
            label: "CPS3v3-2699700099".into(),
            holder: doctor_holder(),
            situations: doctor_situations(),
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0900,
            pin_tries_left: 3,
            quirky_flags: true,
            bad_cert_signature: false,
            fresh_verify: true,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cps3-unblock-exhausted",
            description: "CPS3 whose PIN is blocked and whose PUK has no unblock use left",
            purpose: "a card blocked for good (compat §15 #6): CKF_USER_PIN_LOCKED, unblock refused",
            kind: Kind::Cps3,
            serial: "99700101",
            label: "CPS3v3-2699700101".into(),
            holder: Holder {
                id_nat: rpps_id_nat("9970001010"),
                surname: "LEFEBVRE",
                given_name: "Camille",
                civility: "MME",
                title: "Sage-femme",
                profession_code: "50",
                specialty: None,
                organization: None,
                card_type: "CPS",
            },
            situations: one_situation("CABINET DE SAGE-FEMME DE TEST", "L"),
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0A00,
            pin_tries_left: 0,
            quirky_flags: true,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 0,
        },
        PersonaDef {
            name: "cps2ter-legacy",
            description: "legacy CPS2ter card on its own (CLA A0 only, no PKCS#15 application)",
            purpose: "recognised and reported \"token not recognised\" with one explanatory log line",
            kind: Kind::Cps2ter,
            serial: "99700112",
            label: String::new(),
            holder: doctor_holder(),
            situations: doctor_situations(),
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0B00,
            pin_tries_left: 3,
            quirky_flags: false,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 100,
        },
        PersonaDef {
            name: "cps4-pharmacist",
            description: "CPS4 (ChipDoc, T=1) of a pharmacist",
            purpose: "a second CPS4 card (same ATR as cps4-nurse): swapping one CPS4 card for another",
            kind: Kind::Cps4,
            serial: "99700123",
            label: "CPS4v1-8099700123".into(),
            holder: Holder {
                id_nat: rpps_id_nat("9970001230"),
                surname: "GIRARD",
                given_name: "Antoine",
                civility: "M",
                title: "Pharmacien",
                profession_code: "21",
                specialty: None,
                organization: None,
                card_type: "CPS",
            },
            // Two situations, as on cps4-nurse: the same file layout, other values.
            situations: vec![
                Situation {
                    index: 1,
                    mode: "L",
                    structure: "PHARMACIE DES TESTS",
                    id_type: "5",
                    id: "99000000600017",
                    address: "14 RUE DES OFFICINES",
                    postcode: "59000",
                    city: "LILLE",
                },
                Situation {
                    index: 2,
                    mode: "S",
                    structure: "CENTRE HOSPITALIER DE TEST",
                    id_type: "3",
                    id: "990000042",
                    address: "2 BOULEVARD DES URGENCES",
                    postcode: "59000",
                    city: "LILLE",
                },
            ],
            valid_from: FROM,
            valid_to: TO,
            seed: 0x5EED_0C00,
            pin_tries_left: 3,
            quirky_flags: false,
            bad_cert_signature: false,
            fresh_verify: false,
            puk_usage_left: 100,
        },
    ]
}

// ------------------------------------------------------------------------------------------
// Small helpers: Luhn, BCD, hex, base64/PEM.
// ------------------------------------------------------------------------------------------

/// Luhn check digit of a digit string (the check digit is appended on the right).
fn luhn(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = u32::from(c - b'0');
            if i % 2 == 0 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// FINESS number: 8 digits + Luhn key.
fn finess(digits8: &str) -> String {
    format!("{digits8}{}", luhn(digits8))
}

/// Packs decimal digits two per byte.
fn bcd(digits: &str) -> Vec<u8> {
    digits
        .as_bytes()
        .chunks(2)
        .map(|p| ((p[0] - b'0') << 4) | (p[1] - b'0'))
        .collect()
}

fn hex(s: &str) -> Hex {
    Hex::parse(s).expect("hex constant")
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3F) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("ascii"));
        out.push('\n');
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

// ------------------------------------------------------------------------------------------
// X.509: names, extensions, certificates.
// ------------------------------------------------------------------------------------------

mod oids {
    pub const COUNTRY: &[u64] = &[2, 5, 4, 6];
    pub const ORG: &[u64] = &[2, 5, 4, 10];
    pub const ORG_UNIT: &[u64] = &[2, 5, 4, 11];
    pub const COMMON_NAME: &[u64] = &[2, 5, 4, 3];
    pub const SURNAME: &[u64] = &[2, 5, 4, 4];
    pub const GIVEN_NAME: &[u64] = &[2, 5, 4, 42];
    pub const TITLE: &[u64] = &[2, 5, 4, 12];
    pub const SHA256_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
    pub const SUBJECT_KEY_ID: &[u64] = &[2, 5, 29, 14];
    pub const KEY_USAGE: &[u64] = &[2, 5, 29, 15];
    pub const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
    pub const AUTHORITY_KEY_ID: &[u64] = &[2, 5, 29, 35];
    pub const EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
    pub const CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];
    pub const EMAIL_PROTECTION: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 4];
}

/// KeyUsage bits (RFC 5280).
mod ku {
    pub const DIGITAL_SIGNATURE: usize = 0;
    pub const NON_REPUDIATION: usize = 1;
    pub const KEY_ENCIPHERMENT: usize = 2;
    pub const KEY_CERT_SIGN: usize = 5;
    pub const CRL_SIGN: usize = 6;
}

/// AttributeTypeAndValue.
fn atv(oid: &[u64], value: Vec<u8>) -> Vec<u8> {
    seq(&[der::oid(oid), value])
}

/// Name from RDNs, most general first (C, O, OU, …); each RDN is a SET of attributes.
fn name(rdns: Vec<Vec<Vec<u8>>>) -> Vec<u8> {
    seq(&rdns.into_iter().map(der::set_of).collect::<Vec<_>>())
}

fn ca_name(cn: &str) -> Vec<u8> {
    name(vec![
        vec![atv(oids::COUNTRY, der::printable("FR"))],
        vec![atv(oids::ORG, utf8("ASIP-SANTE"))],
        vec![atv(oids::ORG_UNIT, utf8("IGC-SANTE TEST"))],
        vec![atv(oids::COMMON_NAME, utf8(cn))],
    ])
}

/// Card holder subject: C=FR, [O], title, then the multi-valued RDN CN+SN+GN (§1).
fn holder_name(h: &Holder) -> Vec<u8> {
    let mut rdns = vec![vec![atv(oids::COUNTRY, der::printable("FR"))]];
    if let Some(org) = h.organization {
        rdns.push(vec![atv(oids::ORG, utf8(org))]);
    }
    rdns.push(vec![atv(oids::TITLE, utf8(h.title))]);
    rdns.push(vec![
        atv(oids::COMMON_NAME, utf8(&h.id_nat)),
        atv(oids::SURNAME, utf8(h.surname)),
        atv(oids::GIVEN_NAME, utf8(h.given_name)),
    ]);
    name(rdns)
}

fn extension(oid: &[u64], critical: bool, value: Vec<u8>) -> Vec<u8> {
    let mut parts = vec![der::oid(oid)];
    if critical {
        parts.push(der::boolean_true());
    }
    parts.push(octets(&value));
    seq(&parts)
}

fn basic_constraints(ca: bool, path_len: Option<u64>) -> Vec<u8> {
    let mut parts = Vec::new();
    if ca {
        parts.push(der::boolean_true());
    }
    if let Some(n) = path_len {
        parts.push(uint(n));
    }
    extension(oids::BASIC_CONSTRAINTS, true, seq(&parts))
}

fn key_usage(named: &[usize]) -> Vec<u8> {
    extension(oids::KEY_USAGE, true, bits(named))
}

fn ext_key_usage(purposes: &[&[u64]]) -> Vec<u8> {
    let list: Vec<Vec<u8>> = purposes.iter().map(|p| der::oid(p)).collect();
    extension(oids::EXT_KEY_USAGE, false, seq(&list))
}

fn subject_key_id(ski: &[u8]) -> Vec<u8> {
    extension(oids::SUBJECT_KEY_ID, false, octets(ski))
}

fn authority_key_id(ski: &[u8]) -> Vec<u8> {
    extension(oids::AUTHORITY_KEY_ID, false, seq(&[tlv(0x80, ski)]))
}

/// Key identifier method 1 (RFC 5280 §4.2.1.2): SHA-1 of the RSAPublicKey.
fn key_id(public: &RsaPublicKey) -> Res<Vec<u8>> {
    Ok(Sha1::digest(public.to_pkcs1_der()?.as_bytes()).to_vec())
}

fn sha256_rsa() -> Vec<u8> {
    seq(&[der::oid(oids::SHA256_RSA), der::null()])
}

/// A signer: an issuer name with its key and key identifier.
struct Issuer {
    name: Vec<u8>,
    key: RsaPrivateKey,
    key_id: Vec<u8>,
}

/// What differs between certificates.
struct CertSpec<'a> {
    serial: u64,
    subject: Vec<u8>,
    not_before: Date,
    not_after: Date,
    public: &'a RsaPublicKey,
    /// Extensions other than SKI/AKI (which are added here).
    extensions: Vec<Vec<u8>>,
}

/// Builds and signs a v3 certificate (sha256WithRSAEncryption).
fn issue(spec: CertSpec, issuer: &Issuer) -> Res<Vec<u8>> {
    let mut extensions = spec.extensions;
    extensions.push(subject_key_id(&key_id(spec.public)?));
    extensions.push(authority_key_id(&issuer.key_id));
    let tbs = seq(&[
        cons(0xA0, &[uint(2)]),
        uint(spec.serial),
        sha256_rsa(),
        issuer.name.clone(),
        seq(&[
            der::utc_time(&spec.not_before.utc()),
            der::utc_time(&spec.not_after.utc()),
        ]),
        spec.subject,
        spec.public.to_public_key_der()?.as_bytes().to_vec(),
        cons(0xA3, &[seq(&extensions)]),
    ]);
    let signer = SigningKey::<Sha256>::new(issuer.key.clone());
    let signature = signer.try_sign(&tbs)?.to_vec();
    Ok(seq(&[
        tbs,
        sha256_rsa(),
        der::bit_string_raw(0, &signature),
    ]))
}

/// Sets the unused-bits byte of the signatureValue BIT STRING (the last element of a
/// certificate signed with RSA-2048: `03 82 01 01 <unused> <256 bytes>`).
fn spoil_signature_bit_string(cert: &mut [u8]) {
    let at = cert.len() - 257;
    assert_eq!(&cert[at - 4..at], &[0x03, 0x82, 0x01, 0x01]);
    cert[at] = 0x01;
}

/// Deterministic RSA-2048 test key.
fn rsa_key(seed: u64) -> Res<RsaPrivateKey> {
    Ok(RsaPrivateKey::new(
        &mut ChaCha20Rng::seed_from_u64(seed),
        2048,
    )?)
}

/// The test PKI: root and intermediate CAs.
struct Pki {
    root_cert: Vec<u8>,
    intermediate_cert: Vec<u8>,
    intermediate: Issuer,
    root_key: RsaPrivateKey,
}

const ROOT_CN: &str = "TEST AC RACINE IGC-SANTE FORT";
const INTERMEDIATE_CN: &str = "TEST AC IGC-SANTE FORT PERSONNES";

impl Pki {
    fn new() -> Res<Pki> {
        let root_key = rsa_key(0x5EED_0001)?;
        let root_public = root_key.to_public_key();
        let root = Issuer {
            name: ca_name(ROOT_CN),
            key_id: key_id(&root_public)?,
            key: root_key.clone(),
        };
        let ca_usage = key_usage(&[ku::KEY_CERT_SIGN, ku::CRL_SIGN]);
        let root_cert = issue(
            CertSpec {
                serial: 0x1001,
                subject: root.name.clone(),
                not_before: Date(2019, 1, 1),
                not_after: Date(2044, 1, 1),
                public: &root_public,
                extensions: vec![basic_constraints(true, None), ca_usage.clone()],
            },
            &root,
        )?;
        let intermediate_key = rsa_key(0x5EED_0002)?;
        let intermediate_public = intermediate_key.to_public_key();
        let intermediate_cert = issue(
            CertSpec {
                serial: 0x1002,
                subject: ca_name(INTERMEDIATE_CN),
                not_before: Date(2019, 1, 2),
                not_after: Date(2039, 1, 1),
                public: &intermediate_public,
                extensions: vec![basic_constraints(true, Some(0)), ca_usage],
            },
            &root,
        )?;
        Ok(Pki {
            root_cert,
            intermediate_cert,
            intermediate: Issuer {
                name: ca_name(INTERMEDIATE_CN),
                key_id: key_id(&intermediate_public)?,
                key: intermediate_key,
            },
            root_key,
        })
    }
}

/// Role of a card key; decides key usage, EKU and the certificate serial.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Sig,
    Auth,
    Tech,
}

impl Role {
    fn file_stem(self) -> &'static str {
        match self {
            Role::Sig => "sig",
            Role::Auth => "auth",
            Role::Tech => "tech",
        }
    }

    fn extensions(self) -> Vec<Vec<u8>> {
        let leaf = basic_constraints(false, None);
        match self {
            Role::Sig => vec![leaf, key_usage(&[ku::NON_REPUDIATION])],
            Role::Auth => vec![
                leaf,
                key_usage(&[ku::DIGITAL_SIGNATURE, ku::KEY_ENCIPHERMENT]),
                ext_key_usage(&[oids::CLIENT_AUTH, oids::EMAIL_PROTECTION]),
            ],
            Role::Tech => vec![
                leaf,
                key_usage(&[ku::DIGITAL_SIGNATURE]),
                ext_key_usage(&[oids::CLIENT_AUTH]),
            ],
        }
    }
}

/// A card key with its certificate.
struct CardKey {
    key: RsaPrivateKey,
    /// Certificate as issued (well-formed).
    cert: Vec<u8>,
}

impl CardKey {
    /// The certificate as stored on the card (possibly with the §5.5 #8 defect).
    fn card_cert(&self, def: &PersonaDef) -> Vec<u8> {
        let mut cert = self.cert.clone();
        if def.bad_cert_signature {
            spoil_signature_bit_string(&mut cert);
        }
        cert
    }
}

fn card_key(pki: &Pki, def: &PersonaDef, index: u64, role: Role) -> Res<CardKey> {
    let key = rsa_key(def.seed + index)?;
    let cert = issue(
        CertSpec {
            // Serial: persona seed block + key index, e.g. 0x5EED0101.
            serial: def.seed + index + 1,
            subject: holder_name(&def.holder),
            not_before: def.valid_from,
            not_after: def.valid_to,
            public: &key.to_public_key(),
            extensions: role.extensions(),
        },
        &pki.intermediate,
    )?;
    Ok(CardKey { key, cert })
}

// ------------------------------------------------------------------------------------------
// PKCS#15 (ISO/IEC 7816-15) structures.
// ------------------------------------------------------------------------------------------

/// CommonObjectFlags (private(0), modifiable(1); bit 2 is set on the real CPS_PRIV_AUT).
mod co_flags {
    pub const PRIVATE: usize = 0;
    pub const MODIFIABLE: usize = 1;
    pub const BIT2: usize = 2;
}

/// AccessMode bits as OpenSC numbers them (read 0, update 1, execute 2, delete 3,
/// attribute 4, pso_cds 5, pso_verify 6, pso_decrypt 7, pso_encrypt 8, int_auth 9).
mod access {
    pub const READ: usize = 0;
    pub const UPDATE: usize = 1;
    pub const EXECUTE: usize = 2;
    pub const ATTRIBUTE: usize = 4;
    pub const PSO_CDS: usize = 5;
    pub const PSO_DECRYPT: usize = 7;
    pub const INT_AUTH: usize = 9;
}

/// Security condition of an access rule: always (NULL) or an authentication object.
enum Cond {
    Always,
    Auth(u8),
}

/// AccessControlRule ::= SEQUENCE { accessMode BIT STRING, securityCondition }.
fn access_rule(mode: usize, cond: Cond) -> Vec<u8> {
    let condition = match cond {
        Cond::Always => der::null(),
        Cond::Auth(id) => octets(&[id]),
    };
    seq(&[bits(&[mode]), condition])
}

/// How CommonObjectFlags are encoded: the real card's mis-encodings or DER.
#[derive(Clone, Copy)]
enum FlagStyle {
    Der,
    /// AODF style quirk: `03 01 08` (unused-bits 8, no content) for "no flags".
    QuirkOneByte,
    /// CDF style quirk: `03 02 08 00` for "no flags".
    QuirkTwoBytes,
}

fn empty_flags(style: FlagStyle) -> Vec<u8> {
    match style {
        FlagStyle::Der => bits(&[]),
        FlagStyle::QuirkOneByte => vec![0x03, 0x01, 0x08],
        FlagStyle::QuirkTwoBytes => vec![0x03, 0x02, 0x08, 0x00],
    }
}

/// A path relative to the application DF: `SEQUENCE { OCTET STRING fid }`.
fn path(fid: u16) -> Vec<u8> {
    seq(&[octets(&fid.to_be_bytes())])
}

/// ODF: one `[n] Path` per directory file.
fn odf(entries: &[(u8, u16)]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|&(tag, fid)| cons(tag, &[path(fid)]))
        .collect()
}

/// AlgorithmInfo of TokenInfo.supportedAlgorithms.
struct Algo {
    reference: u64,
    /// PKCS#11 mechanism number.
    mechanism: u64,
    /// Operations: compute-signature(1), decipher(5), hash(6).
    operations: &'static [usize],
    alg_ref: Option<u64>,
}

mod mech {
    pub const RSA_PKCS: u64 = 0x01;
    pub const SHA1_RSA_PKCS: u64 = 0x06;
    pub const SHA1_RSA_PKCS_PSS: u64 = 0x0E;
    pub const SHA256_RSA_PKCS: u64 = 0x40;
    pub const SHA256_RSA_PKCS_PSS: u64 = 0x43;
    pub const SHA_1: u64 = 0x220;
    pub const SHA256: u64 = 0x250;
}

const OP_SIGN: &[usize] = &[1];
const OP_DECIPHER: &[usize] = &[5];
const OP_HASH: &[usize] = &[6];

/// CPS3 TokenInfo algorithms (cpx-cards.md §5.1).
fn cps3_algorithms() -> Vec<Algo> {
    let a = |reference, mechanism, operations, alg_ref| Algo {
        reference,
        mechanism,
        operations,
        alg_ref: Some(alg_ref),
    };
    vec![
        a(1, mech::SHA_1, OP_HASH, 0x10),
        a(2, mech::SHA256, OP_HASH, 0x40),
        a(3, mech::SHA1_RSA_PKCS, OP_SIGN, 0x12),
        a(4, mech::SHA256_RSA_PKCS, OP_SIGN, 0x42),
        a(5, mech::RSA_PKCS, OP_SIGN, 0x02),
        a(6, mech::RSA_PKCS, OP_DECIPHER, 0x1A),
    ]
}

/// CPS4 TokenInfo algorithms [assume §14 #13]: the ChipDoc algorithm IDs of §7.3 as algRefs;
/// decipher (raw RSA, no algorithm ID on the card) without algRef.
fn cps4_algorithms() -> Vec<Algo> {
    let a = |reference, mechanism, operations, alg_ref| Algo {
        reference,
        mechanism,
        operations,
        alg_ref,
    };
    vec![
        a(1, mech::SHA1_RSA_PKCS, OP_SIGN, Some(0x0A)),
        a(2, mech::SHA256_RSA_PKCS, OP_SIGN, Some(0x28)),
        a(3, mech::SHA1_RSA_PKCS_PSS, OP_SIGN, Some(0x15)),
        a(4, mech::SHA256_RSA_PKCS_PSS, OP_SIGN, Some(0x2C)),
        a(5, mech::RSA_PKCS, OP_DECIPHER, None),
    ]
}

/// Contactless application: raw PKCS#1 signature (INTERNAL AUTHENTICATE) only [assume].
fn cl_algorithms() -> Vec<Algo> {
    vec![Algo {
        reference: 1,
        mechanism: mech::RSA_PKCS,
        operations: OP_SIGN,
        alg_ref: Some(0x02),
    }]
}

fn algorithm_info(a: &Algo) -> Vec<u8> {
    let mut parts = vec![
        uint(a.reference),
        uint(a.mechanism),
        der::null(),
        bits(a.operations),
    ];
    if let Some(r) = a.alg_ref {
        parts.push(uint(r));
    }
    seq(&parts)
}

/// TokenInfo contents.
struct TokenInfo<'a> {
    serial: &'a [u8],
    manufacturer: &'a str,
    label: &'a str,
    login_required: bool,
    algorithms: Vec<Algo>,
    last_update: String,
}

/// TokenInfo ::= SEQUENCE { version, serialNumber, manufacturerID, [0] label, tokenflags,
/// [2] supportedAlgorithms, [5] lastUpdate } (the tags OpenSC decodes).
fn token_info(t: &TokenInfo) -> Vec<u8> {
    // tokenflags: readOnly(0), loginRequired(1).
    let flags: &[usize] = if t.login_required { &[0, 1] } else { &[0] };
    let algorithms: Vec<Vec<u8>> = t.algorithms.iter().map(algorithm_info).collect();
    seq(&[
        uint(0),
        octets(t.serial),
        utf8(t.manufacturer),
        tlv(0x80, t.label.as_bytes()),
        bits(flags),
        cons(0xA2, &algorithms),
        cons(0xA5, &[der::generalized_time(&t.last_update)]),
    ])
}

/// AODF: the user PIN and the PUK, exactly as on the real card (§5.2, raw dump of
/// OpenSC issue #2224) except that `style` decides the CommonObjectFlags encoding.
fn aodf(style: FlagStyle) -> Vec<u8> {
    let always = |mode| access_rule(mode, Cond::Always);
    let pin = seq(&[
        seq(&[
            utf8("Code porteur de la carte CPS"),
            empty_flags(style),
            // Quirk §5.5 #4: authId 02 names no authentication object.
            octets(&[0x02]),
            seq(&[
                always(access::EXECUTE),
                always(access::UPDATE),
                access_rule(access::ATTRIBUTE, Cond::Auth(0x04)),
            ]),
        ]),
        seq(&[octets(&[0x01])]),
        cons(
            0xA1,
            &[seq(&[
                // initialized(4), needs-padding(5), exchangeRefData(11)
                bits(&[4, 5, 11]),
                der::enumerated(1), // ascii-numeric
                uint(4),            // minLength
                uint(8),            // storedLength
                uint(4),            // maxLength (< storedLength: quirk §5.5 #5)
                tlv(0x80, &[0x01]), // pinReference
                octets(&[0xFF]),    // padChar
            ])],
        ),
    ]);
    let puk = seq(&[
        seq(&[
            utf8("Code de déblocage de la carte CPS"),
            empty_flags(style),
            seq(&[always(access::EXECUTE), always(access::UPDATE)]),
        ]),
        seq(&[octets(&[0x04])]),
        cons(
            0xA1,
            &[seq(&[
                // unblockDisabled(3), initialized(4), needs-padding(5), soPin(7),
                // exchangeRefData(11)
                bits(&[3, 4, 5, 7, 11]),
                der::enumerated(1),
                uint(8),
                uint(8),
                uint(8),
                tlv(0x80, &[0x02]),
            ])],
        ),
    ]);
    [pin, puk].concat()
}

/// One private key of a PrKDF.
struct PrKey {
    label: &'static str,
    id: Vec<u8>,
    flags: &'static [usize],
    /// Authentication object (None: usable without login).
    auth_id: Option<u8>,
    /// Access rules: modes allowed under the key's condition.
    modes: &'static [usize],
    /// KeyUsageFlags: decrypt(1), sign(2), nonRepudiation(9).
    usage: &'static [usize],
    key_reference: u64,
    /// CommonObjectAttributes.userConsent (fresh authentication per use).
    user_consent: Option<u64>,
}

/// PrivateRSAKey entry (§5.3): keys are SDOs, so the Path is empty and clients take the
/// application AID from EF.DIR (OpenSC prints `<aid>::`). No algReference (quirk §5.5 #3).
fn prkdf_entry(k: &PrKey) -> Vec<u8> {
    let cond = || match k.auth_id {
        Some(id) => Cond::Auth(id),
        None => Cond::Always,
    };
    let rules: Vec<Vec<u8>> = k.modes.iter().map(|&m| access_rule(m, cond())).collect();
    let mut common = vec![utf8(k.label), bits(k.flags)];
    if let Some(id) = k.auth_id {
        common.push(octets(&[id]));
    }
    if let Some(n) = k.user_consent {
        common.push(uint(n));
    }
    common.push(seq(&rules));
    // KeyAccessFlags: sensitive(0), alwaysSensitive(2), neverExtractable(3) — as the real
    // card shows (0x0D, no "local").
    let access_flags = bits(&[0, 2, 3]);
    seq(&[
        seq(&common),
        seq(&[
            octets(&k.id),
            bits(k.usage),
            access_flags,
            uint(k.key_reference),
        ]),
        cons(0xA1, &[seq(&[seq(&[octets(&[])]), uint(2048)])]),
    ])
}

/// One certificate of a CDF.
struct CertEntry {
    label: &'static str,
    id: Vec<u8>,
    fid: u16,
}

/// X509Certificate entry, shaped like the real CDF (§5.4, dump of OpenSC issue #2224):
/// read always, update after PIN; iD; path to the certificate file.
fn cdf_entry(c: &CertEntry, style: FlagStyle) -> Vec<u8> {
    seq(&[
        seq(&[
            utf8(c.label),
            empty_flags(style),
            seq(&[
                access_rule(access::READ, Cond::Always),
                access_rule(access::UPDATE, Cond::Auth(0x01)),
            ]),
        ]),
        seq(&[octets(&c.id)]),
        cons(0xA1, &[seq(&[path(c.fid)])]),
    ])
}

/// One data object of a DODF.
struct DataObject {
    label: String,
    fid: u16,
    private: bool,
    modifiable: bool,
    /// File content.
    value: Vec<u8>,
    /// Allocated file size (zero padding), if larger than the value.
    size: Option<usize>,
}

/// Opaque data object entry: CommonObjectAttributes (private/modifiable flags, authId 01
/// when the PIN guards reading or writing), CommonDataObjectAttributes { applicationName
/// "CPS" } [assume], and the path of the file.
fn dodf_entry(d: &DataObject) -> Vec<u8> {
    let mut flags = Vec::new();
    if d.private {
        flags.push(co_flags::PRIVATE);
    }
    if d.modifiable {
        flags.push(co_flags::MODIFIABLE);
    }
    let mut common = vec![utf8(&d.label)];
    if !flags.is_empty() {
        common.push(bits(&flags));
    }
    if d.private || d.modifiable {
        common.push(octets(&[0x01]));
    }
    seq(&[
        seq(&common),
        seq(&[utf8("CPS")]),
        cons(0xA1, &[path(d.fid)]),
    ])
}

// ------------------------------------------------------------------------------------------
// Data objects (format not public: an invented, plausible ASN.1 layout; see the README).
// ------------------------------------------------------------------------------------------

mod objects {
    use super::der::{generalized_time, numeric, printable, seq, uint, utf8};
    use super::{Holder, PersonaDef, Situation};

    /// CPS_ID_CARD: card type, card serial, validity.
    pub fn id_card(def: &PersonaDef) -> Vec<u8> {
        seq(&[
            printable(def.holder.card_type),
            numeric(def.serial),
            generalized_time(&def.valid_from.generalized("000000")),
            generalized_time(&def.valid_to.generalized("000000")),
        ])
    }

    /// CPS_NAME_PS: civility, surname, given name.
    pub fn name(h: &Holder) -> Vec<u8> {
        seq(&[printable(h.civility), utf8(h.surname), utf8(h.given_name)])
    }

    /// CPS_LANG_PS: language codes.
    pub fn lang() -> Vec<u8> {
        seq(&[printable("fr")])
    }

    /// CPS_INFO_PS: identifier type and value, profession, specialty.
    pub fn info(h: &Holder) -> Vec<u8> {
        let mut parts = vec![
            printable(&h.id_nat[..1]),
            printable(&h.id_nat),
            printable(h.profession_code),
            utf8(h.title),
        ];
        if let Some((code, label)) = h.specialty {
            parts.push(seq(&[printable(code), utf8(label)]));
        }
        seq(&parts)
    }

    /// CPS_ACTIVITY_nn_PS (and its CPS2ter copy): one practice situation.
    pub fn activity(s: &Situation) -> Vec<u8> {
        seq(&[
            uint(u64::from(s.index)),
            printable(s.mode),
            utf8(s.structure),
            printable(s.id_type),
            printable(s.id),
            utf8(s.address),
            printable(s.postcode),
            utf8(s.city),
        ])
    }

    /// CPS_SIT_FACT: the invoicing situation (index of the situation used for invoicing,
    /// convention code, tariff zone).
    pub fn sit_fact(def: &PersonaDef) -> Vec<u8> {
        let first = def.situations.first().map_or(1, |s| s.index);
        seq(&[uint(u64::from(first)), printable("1"), printable("01")])
    }
}

// ------------------------------------------------------------------------------------------
// Card files.
// ------------------------------------------------------------------------------------------

/// EF.DIR (§4.4): application templates; record 2 (contactless) names the contact AID in
/// its DDO (quirk §5.5 #9); padded with 00 to 101 bytes.
fn ef_dir(with_cl: bool) -> Vec<u8> {
    let template = |aid: &[u8], label: &str| {
        cons(
            0x61,
            &[
                tlv(0x4F, aid),
                tlv(0x50, label.as_bytes()),
                cons(0x73, &[tlv(0x4F, &AID_CONTACT)]),
            ],
        )
    };
    let mut out = template(&AID_CONTACT, "CPX IAS");
    if with_cl {
        out.extend(template(&AID_CONTACTLESS, "CPX IAS CL"));
    }
    out.resize(101, 0x00);
    out
}

/// The 10-byte PAN value of EF.SN: prefix, 8 serial digits, Luhn digit, filler F.
fn pan(serial8: &str) -> Vec<u8> {
    let digits = format!("{PAN_PREFIX}{serial8}");
    let mut value = bcd(&digits);
    value.push((luhn(&digits) << 4) | 0x0F);
    value
}

/// EF.SN (§4.5): `5A 0A <PAN>`.
fn ef_sn(serial8: &str) -> Vec<u8> {
    tlv(0x5A, &pan(serial8))
}

/// EF_ACTUA (§4.6): `EC { 81 start, 82 end }`, BCD YYYYMMDDhhmmss.
fn ef_actua(day: Date) -> Vec<u8> {
    cons(
        0xEC,
        &[tlv(0x81, &day.bcd("080000")), tlv(0x82, &day.bcd("081500"))],
    )
}

/// A card under construction: file specs (parents first) and the blobs they name.
#[derive(Default)]
struct Card {
    files: Vec<FileSpec>,
    blobs: BTreeMap<String, Vec<u8>>,
}

fn spec(path: &str, kind: FileType, volet: Volet) -> FileSpec {
    FileSpec {
        path: path.into(),
        kind,
        volet,
        aid: None,
        sfi: None,
        acl: None,
        acl_cl: None,
        content: None,
        hex: None,
        size: None,
        private: false,
    }
}

impl Card {
    fn df(&mut self, path: &str, aid: Option<&[u8]>) {
        let mut f = spec(path, FileType::Df, Volet::Iso);
        f.aid = aid.map(|a| Hex(a.to_vec()));
        f.acl = Some(hex(acl::DF));
        self.files.push(f);
    }

    /// An EF of the ISO tree with its contact and contactless access rules.
    fn ef(&mut self, path: &str, blob: &str, data: Vec<u8>, rules: (&str, &str)) -> &mut FileSpec {
        let mut f = spec(path, FileType::Ef, Volet::Iso);
        f.acl = Some(hex(rules.0));
        f.acl_cl = Some(hex(rules.1));
        f.content = Some(blob.into());
        self.blobs.insert(blob.into(), data);
        self.files.push(f);
        self.files.last_mut().expect("just pushed")
    }

    /// A file of the CPS2ter volet (no access rules; `private` = PIN-gated).
    fn cps2ter(&mut self, path: &str, blob: Option<(&str, Vec<u8>)>) {
        let kind = if blob.is_some() {
            FileType::Ef
        } else {
            FileType::Df
        };
        let mut f = spec(path, kind, Volet::Cps2ter);
        if let Some((name, data)) = blob {
            f.content = Some(name.into());
            f.private = true;
            self.blobs.insert(name.into(), data);
        }
        self.files.push(f);
    }
}

/// Key references and CKA_ID suffixes per generation.
struct KeyRefs {
    sig_ref: u8,
    auth_ref: u8,
    sig_sdo: u8,
    auth_sdo: u8,
    sig_id: u8,
    auth_id: u8,
}

fn key_refs(kind: Kind) -> KeyRefs {
    match kind {
        Kind::Cps4 => KeyRefs {
            sig_ref: 0x10,
            auth_ref: 0x20,
            sig_sdo: 0x10,
            auth_sdo: 0x20,
            sig_id: 0x10,
            auth_id: 0x20,
        },
        _ => KeyRefs {
            sig_ref: 0x81,
            auth_ref: 0x82,
            sig_sdo: 1,
            auth_sdo: 2,
            sig_id: 0x01,
            auth_id: 0x02,
        },
    }
}

fn cka_id(aid: &[u8], suffix: u8) -> Vec<u8> {
    let mut id = aid.to_vec();
    id.push(suffix);
    id
}

const FID_ODF: u16 = 0x5031;
const FID_TOKEN_INFO: u16 = 0x5032;
const FID_AODF: u16 = 0x7001;
const FID_PRKDF: u16 = 0x7002;
const FID_DODF: u16 = 0x7004;
const FID_CDF: u16 = 0x7005;
const FID_AUTH_CERT: u16 = 0x7102;
const FID_SIG_CERT: u16 = 0x7103;
const FID_TECH_CERT: u16 = 0x7101;

/// Data objects of the contact application (file IDs are [assume §14 #1]).
fn data_objects(def: &PersonaDef) -> Vec<DataObject> {
    let public = |label: &str, fid, value| DataObject {
        label: label.into(),
        fid,
        private: false,
        modifiable: false,
        value,
        size: None,
    };
    let private = |label: String, fid, value| DataObject {
        label,
        fid,
        private: true,
        modifiable: false,
        value,
        size: None,
    };
    let mut list = vec![
        DataObject {
            label: "CPS_DATA".into(),
            fid: 0xA001,
            private: false,
            modifiable: true,
            value: Vec::new(),
            size: Some(256),
        },
        public("CPS_ID_CARD", 0xA002, objects::id_card(def)),
        public("CPS_NAME_PS", 0xA003, objects::name(&def.holder)),
        public("CPS_LANG_PS", 0x7104, objects::lang()),
        public("CPS_INFO_PS", 0x7105, objects::info(&def.holder)),
    ];
    for s in &def.situations {
        let label = format!("CPS_ACTIVITY_{:02}_PS", s.index);
        // Situation n in D120 + n - 1 (D120–D12F = situations 1–16, cpx-cards.md §4.1).
        list.push(private(
            label,
            0xD120 + u16::from(s.index) - 1,
            objects::activity(s),
        ));
    }
    if def.kind == Kind::Cps4 {
        list.extend(cps4_extra_objects(def));
    }
    list
}

/// CPS4 only: the CPS2ter-volet copies are real PKCS#15 objects (§10.6), files B0xx
/// [assume]; CPS_SIT_FACT is a real object too.
fn cps4_extra_objects(def: &PersonaDef) -> Vec<DataObject> {
    use der::{numeric, octets, printable, seq};
    let public = |label: &str, fid, value| DataObject {
        label: label.into(),
        fid,
        private: false,
        modifiable: false,
        value,
        size: None,
    };
    let atr = hex(ATR_CPS4).0;
    let mut list = vec![
        public("CPS2TER_ATR", 0xB001, seq(&[octets(&atr)])),
        public("CPS2TER_ID", 0xB002, objects::id_card(def)),
        public(
            "CPS2TER_ICC",
            0xB003,
            seq(&[numeric(def.serial), printable("ChipDoc")]),
        ),
        public("CPS2TER_NAME", 0xB004, objects::name(&def.holder)),
        public("CPS2TER_LANG", 0xB005, objects::lang()),
        public("CPS2TER_PSINFO", 0xB006, objects::info(&def.holder)),
        public(
            "CPS2TER_DIRAMO",
            0xB007,
            seq(&[printable("DIRAMO"), uint(0)]),
        ),
    ];
    for s in &def.situations {
        list.push(DataObject {
            label: format!("CPS2TER_ACTIVITY_{:02}_PS", s.index),
            fid: 0xB010 + u16::from(s.index) - 1,
            private: true,
            modifiable: false,
            value: objects::activity(s),
            size: None,
        });
    }
    list.push(DataObject {
        label: "CPS_SIT_FACT".into(),
        fid: 0xB020,
        private: true,
        modifiable: false,
        value: objects::sit_fact(def),
        size: None,
    });
    list
}

fn fid_path(app: &str, fid: u16) -> String {
    format!("{app}/{fid:04X}")
}

/// MF-level files of the ISO tree: EF.DIR, EF.ATR (CPS3), EF.SN, EF_ACTUA.
fn mf_files(card: &mut Card, def: &PersonaDef) {
    let rules = (acl::MF_EF, acl::MF_EF_CL);
    card.df("3F00", Some(&MF_AID));
    card.ef(
        "3F00/2F00",
        "ef-dir.bin",
        ef_dir(def.kind != Kind::Cps4),
        rules,
    )
    .sfi = Some(0x1E);
    if def.kind != Kind::Cps4 {
        card.ef("3F00/2F01", "ef-atr.bin", hex(EF_ATR).0, rules).sfi = Some(0x1D);
    }
    card.ef("3F00/D003", "ef-sn.bin", ef_sn(def.serial), rules)
        .sfi = Some(0x1C);
    card.ef("3F00/D010", "ef-actua.bin", ef_actua(def.valid_from), rules);
}

/// The contact PKCS#15 application in DF 3F00/0001.
fn contact_application(card: &mut Card, def: &PersonaDef, auth: &CardKey, sig: &CardKey) {
    const APP: &str = "3F00/0001";
    let refs = key_refs(def.kind);
    let style = |quirk| {
        if def.quirky_flags {
            quirk
        } else {
            FlagStyle::Der
        }
    };
    // Over contactless nothing of this application is readable (cpx-cards.md §12).
    let public = (acl::PUBLIC, acl::NEVER);
    card.df(APP, Some(&AID_CONTACT));
    let odf_entries = [
        (0xA8, FID_AODF),
        (0xA0, FID_PRKDF),
        (0xA4, FID_CDF),
        (0xA7, FID_DODF),
    ];
    card.ef(
        &fid_path(APP, FID_ODF),
        "odf.der",
        odf(&odf_entries),
        public,
    );
    let algorithms = match def.kind {
        Kind::Cps4 => cps4_algorithms(),
        _ => cps3_algorithms(),
    };
    let pan = pan(def.serial);
    let info = token_info(&TokenInfo {
        serial: &pan[2..],
        // [assume] also on CPS4 (its manufacturerID is not published).
        manufacturer: "ASIP SANTE",
        label: &def.label,
        login_required: true,
        algorithms,
        last_update: def.valid_from.generalized("080000"),
    });
    card.ef(
        &fid_path(APP, FID_TOKEN_INFO),
        "tokeninfo.der",
        info,
        public,
    );
    let aodf = aodf(style(FlagStyle::QuirkOneByte));
    card.ef(&fid_path(APP, FID_AODF), "aodf.der", aodf, public);
    let prkdf = [
        prkdf_entry(&sig_key(def, &refs)),
        prkdf_entry(&auth_key(def, &refs)),
    ]
    .concat();
    card.ef(&fid_path(APP, FID_PRKDF), "prkdf.der", prkdf, public);
    let certs = [
        CertEntry {
            label: "Certificat de Signature CPS",
            id: cka_id(&AID_CONTACT, refs.sig_id),
            fid: FID_SIG_CERT,
        },
        CertEntry {
            label: "Certificat d'Authentification CPS",
            id: cka_id(&AID_CONTACT, refs.auth_id),
            fid: FID_AUTH_CERT,
        },
    ];
    let cdf: Vec<u8> = certs
        .iter()
        .flat_map(|c| cdf_entry(c, style(FlagStyle::QuirkTwoBytes)))
        .collect();
    card.ef(&fid_path(APP, FID_CDF), "cdf.der", cdf, public);
    let objects = data_objects(def);
    let dodf: Vec<u8> = objects.iter().flat_map(dodf_entry).collect();
    card.ef(&fid_path(APP, FID_DODF), "dodf.der", dodf, public);
    let sig_cert = sig.card_cert(def);
    card.ef(
        &fid_path(APP, FID_SIG_CERT),
        "sig-cert.der",
        sig_cert,
        public,
    );
    let auth_cert = auth.card_cert(def);
    card.ef(
        &fid_path(APP, FID_AUTH_CERT),
        "auth-cert.der",
        auth_cert,
        public,
    );
    for d in objects {
        data_object_file(card, APP, d);
    }
    // D107: never cached by the Cryptolib, role unknown [assume: PIN-protected, opaque].
    card.ef(
        &fid_path(APP, 0xD107),
        "d107.bin",
        vec![0; 32],
        (acl::PRIVATE, acl::NEVER),
    );
}

fn data_object_file(card: &mut Card, app: &str, d: DataObject) {
    let rules = if d.private {
        (acl::PRIVATE, acl::NEVER)
    } else if d.modifiable {
        (acl::WRITABLE, acl::NEVER)
    } else {
        (acl::PUBLIC, acl::NEVER)
    };
    let stem = format!("do-{}", d.label.to_lowercase().replace('_', "-"));
    let mut value = d.value;
    let blob = match d.size {
        Some(size) => {
            // Fixed-size file: the value is stored zero-padded (cryptolib-compat §6.3).
            value.resize(size, 0);
            format!("{stem}.bin")
        }
        None => format!("{stem}.der"),
    };
    card.ef(&fid_path(app, d.fid), &blob, value, rules).size = d.size;
}

fn sig_key(def: &PersonaDef, refs: &KeyRefs) -> PrKey {
    PrKey {
        label: "CPS_PRIV_SIG",
        id: cka_id(&AID_CONTACT, refs.sig_id),
        flags: &[co_flags::PRIVATE],
        auth_id: Some(0x01),
        modes: &[access::PSO_CDS],
        usage: &[9],
        key_reference: u64::from(refs.sig_ref),
        user_consent: def.fresh_verify.then_some(1),
    }
}

fn auth_key(def: &PersonaDef, refs: &KeyRefs) -> PrKey {
    // CPS3: INTERNAL AUTHENTICATE + DECIPHER; CPS4: PSO CDS (PSS) + DECIPHER.
    let modes: &'static [usize] = match def.kind {
        Kind::Cps4 => &[access::PSO_CDS, access::PSO_DECRYPT],
        _ => &[access::PSO_DECRYPT, access::INT_AUTH],
    };
    PrKey {
        label: "CPS_PRIV_AUT",
        id: cka_id(&AID_CONTACT, refs.auth_id),
        // Real card: private, modifiable and bit 2 (OpenSC shows flags 0x07).
        flags: &[co_flags::PRIVATE, co_flags::MODIFIABLE, co_flags::BIT2],
        auth_id: Some(0x01),
        modes,
        usage: &[1, 2],
        key_reference: u64::from(refs.auth_ref),
        user_consent: None,
    }
}

/// The contactless PKCS#15 application in DF 3F00/0002 (cpx-cards.md §12, [assume §14 #14]):
/// no PIN, one technical key (CKA_ID AID_CL ‖ 03), its certificate.
fn contactless_application(card: &mut Card, def: &PersonaDef, tech: &CardKey) {
    const APP: &str = "3F00/0002";
    let open = (acl::PUBLIC, acl::PUBLIC);
    let style = if def.quirky_flags {
        FlagStyle::QuirkTwoBytes
    } else {
        FlagStyle::Der
    };
    let id = cka_id(&AID_CONTACTLESS, 0x03);
    card.df(APP, Some(&AID_CONTACTLESS));
    let odf = odf(&[(0xA0, FID_PRKDF), (0xA4, FID_CDF)]);
    card.ef(&fid_path(APP, FID_ODF), "cl-odf.der", odf, open);
    let pan = pan(def.serial);
    let info = token_info(&TokenInfo {
        serial: &pan[2..],
        manufacturer: "ASIP SANTE",
        label: "CPS3v3_CL",
        login_required: false,
        algorithms: cl_algorithms(),
        last_update: def.valid_from.generalized("080000"),
    });
    card.ef(
        &fid_path(APP, FID_TOKEN_INFO),
        "cl-tokeninfo.der",
        info,
        open,
    );
    let key = PrKey {
        label: "CPS_PRIV_TECH_AUT",
        id: id.clone(),
        flags: &[],
        auth_id: None,
        modes: &[access::INT_AUTH],
        usage: &[2],
        key_reference: 0x81,
        user_consent: None,
    };
    card.ef(
        &fid_path(APP, FID_PRKDF),
        "cl-prkdf.der",
        prkdf_entry(&key),
        open,
    );
    let cert = CertEntry {
        label: "Certificat Technique CPS",
        id,
        fid: FID_TECH_CERT,
    };
    card.ef(
        &fid_path(APP, FID_CDF),
        "cl-cdf.der",
        cdf_entry(&cert, style),
        open,
    );
    let tech_cert = tech.card_cert(def);
    card.ef(
        &fid_path(APP, FID_TECH_CERT),
        "tech-cert.der",
        tech_cert,
        open,
    );
}

/// The CPS2ter volet (§11): situations 4010.. and the invoicing situation 7F01/4000.
fn cps2ter_volet(card: &mut Card, def: &PersonaDef) {
    card.cps2ter("3F00", None);
    for s in &def.situations {
        let fid = 0x4010 + u16::from(s.index) - 1;
        let name = format!("cps2ter-{fid:04x}.der");
        card.cps2ter(
            &format!("3F00/{fid:04X}"),
            Some((&name, objects::activity(s))),
        );
    }
    card.cps2ter("3F00/7F01", None);
    card.cps2ter(
        "3F00/7F01/4000",
        Some(("cps2ter-4000.der", objects::sit_fact(def))),
    );
}

// ------------------------------------------------------------------------------------------
// Profiles.
// ------------------------------------------------------------------------------------------

fn pin_and_puk(def: &PersonaDef) -> Vec<ChvSpec> {
    vec![
        ChvSpec {
            reference: 1,
            label: "Code porteur de la carte CPS".into(),
            value: "1234".into(),
            stored_length: 8,
            pad_byte: 0xFF,
            max_tries: 3,
            tries_left: def.pin_tries_left,
            usage_left: None,
            acl: hex(acl::PIN),
        },
        ChvSpec {
            reference: 2,
            label: "Code de déblocage de la carte CPS".into(),
            value: "12345678".into(),
            stored_length: 8,
            pad_byte: 0xFF,
            max_tries: 10,
            tries_left: 10,
            usage_left: Some(def.puk_usage_left),
            acl: hex(acl::PUK),
        },
    ]
}

fn contact_keys(def: &PersonaDef) -> Vec<KeySpec> {
    let refs = key_refs(def.kind);
    let (sig_ops, auth_ops, sig_acl, auth_acl) = match def.kind {
        Kind::Cps4 => (
            vec![KeyOp::Cds],
            vec![KeyOp::Cds, KeyOp::Decipher],
            acl::CPS4_SIG,
            acl::CPS4_AUT,
        ),
        _ => (
            vec![KeyOp::Cds],
            vec![KeyOp::InternalAuth, KeyOp::Decipher],
            acl::CPS3_SIG,
            acl::CPS3_AUT,
        ),
    };
    vec![
        KeySpec {
            label: "CPS_PRIV_SIG".into(),
            df: "3F00/0001".into(),
            sdo_ref: refs.sig_sdo,
            mse_ref: refs.sig_ref,
            file: "sig-key.pk8".into(),
            ops: sig_ops,
            acl: hex(sig_acl),
        },
        KeySpec {
            label: "CPS_PRIV_AUT".into(),
            df: "3F00/0001".into(),
            sdo_ref: refs.auth_sdo,
            mse_ref: refs.auth_ref,
            file: "auth-key.pk8".into(),
            ops: auth_ops,
            acl: hex(auth_acl),
        },
    ]
}

fn tech_key_spec() -> KeySpec {
    KeySpec {
        label: "CPS_PRIV_TECH_AUT".into(),
        df: "3F00/0002".into(),
        sdo_ref: 1,
        mse_ref: 0x81,
        file: "tech-key.pk8".into(),
        ops: vec![KeyOp::InternalAuth],
        acl: hex(acl::TECH),
    }
}

fn generation(kind: Kind) -> (Generation, Protocol, &'static str) {
    match kind {
        Kind::Cps3 => (Generation::Cps3, Protocol::T0, ATR_CPS3),
        Kind::Cps4 => (Generation::Cps4, Protocol::T1, ATR_CPS4),
        Kind::Cps3Cl => (Generation::Cps3Cl, Protocol::T1, ATR_CPS3_CL),
        Kind::Cps2ter => (Generation::Cps2ter, Protocol::T0, ATR_CPS2TER_LEGACY),
    }
}

/// Keys and certificates of one persona, in a fixed order (seed + 0, + 1, + 2).
struct PersonaKeys {
    sig: CardKey,
    auth: CardKey,
    tech: Option<CardKey>,
}

fn persona_keys(pki: &Pki, def: &PersonaDef) -> Res<PersonaKeys> {
    Ok(PersonaKeys {
        sig: card_key(pki, def, 0, Role::Sig)?,
        auth: card_key(pki, def, 1, Role::Auth)?,
        tech: if def.kind == Kind::Cps3Cl {
            Some(card_key(pki, def, 2, Role::Tech)?)
        } else {
            None
        },
    })
}

/// A legacy CPS2ter card: the CLA A0 volet only (situations and invoicing situation), no
/// ISO file system, no PIN or key the module could use.
fn build_legacy_card(def: &PersonaDef) -> (Profile, Card) {
    let mut card = Card::default();
    cps2ter_volet(&mut card, def);
    let (generation, protocol, atr) = generation(def.kind);
    let profile = Profile {
        persona: def.name.into(),
        description: def.description.into(),
        generation,
        protocol,
        atr: hex(atr),
        quirks: Quirks::default(),
        latency: Latency::default(),
        se: Vec::new(),
        chv: Vec::new(),
        key: Vec::new(),
        file: std::mem::take(&mut card.files),
        dir: PathBuf::new(),
    };
    (profile, card)
}

/// Builds the profile and its blobs.
fn build_card(def: &PersonaDef, keys: &PersonaKeys) -> Res<(Profile, Card)> {
    let mut card = Card::default();
    mf_files(&mut card, def);
    contact_application(&mut card, def, &keys.auth, &keys.sig);
    let (chv, se, key) = if let Some(tech) = &keys.tech {
        contactless_application(&mut card, def, tech);
        card.blobs.insert("tech-key.pk8".into(), pkcs8(&tech.key)?);
        (Vec::new(), Vec::new(), vec![tech_key_spec()])
    } else {
        cps2ter_volet(&mut card, def);
        card.blobs
            .insert("sig-key.pk8".into(), pkcs8(&keys.sig.key)?);
        card.blobs
            .insert("auth-key.pk8".into(), pkcs8(&keys.auth.key)?);
        let se = vec![SeSpec { number: 1, chv: 1 }, SeSpec { number: 3, chv: 2 }];
        (pin_and_puk(def), se, contact_keys(def))
    };
    let (generation, protocol, atr) = generation(def.kind);
    let quirks = Quirks {
        cds_needs_fresh_verify: def.fresh_verify,
        ..Quirks::default()
    };
    let profile = Profile {
        persona: def.name.into(),
        description: def.description.into(),
        generation,
        protocol,
        atr: hex(atr),
        quirks,
        latency: Latency::default(),
        se,
        chv,
        key,
        file: std::mem::take(&mut card.files),
        dir: PathBuf::new(),
    };
    Ok((profile, card))
}

fn pkcs8(key: &RsaPrivateKey) -> Res<Vec<u8>> {
    Ok(key.to_pkcs8_der()?.as_bytes().to_vec())
}

// ------------------------------------------------------------------------------------------
// Output.
// ------------------------------------------------------------------------------------------

const TOML_HEADER: &str = "# Generated by examples/gen_fixtures.rs \
                           (cargo run --release --example gen-fixtures --features sim).\n\
                           # Do not edit by hand: change the generator and re-run it.\n\n";

fn write(path: &Path, data: &[u8]) -> Res<()> {
    fs::write(path, data).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Removes generated files (by extension) from a directory we own.
fn clean_dir(dir: &Path, extensions: &[&str]) -> Res<()> {
    fs::create_dir_all(dir)?;
    for entry in fs::read_dir(dir)? {
        let p = entry?.path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if p.is_file() && extensions.contains(&ext) {
            fs::remove_file(&p)?;
        }
    }
    Ok(())
}

fn write_cert(dir: &Path, stem: &str, der: &[u8]) -> Res<()> {
    write(&dir.join(format!("{stem}.der")), der)?;
    write(
        &dir.join(format!("{stem}.pem")),
        pem("CERTIFICATE", der).as_bytes(),
    )
}

fn write_pki(dir: &Path, pki: &Pki) -> Res<()> {
    clean_dir(dir, &["der", "pem", "pk8"])?;
    write_cert(dir, "root-ca", &pki.root_cert)?;
    write_cert(dir, "intermediate-ca", &pki.intermediate_cert)?;
    let chain = pem("CERTIFICATE", &pki.intermediate_cert) + &pem("CERTIFICATE", &pki.root_cert);
    write(&dir.join("ca-chain.pem"), chain.as_bytes())?;
    // Test-only CA keys, for tests that need to issue more certificates.
    write(&dir.join("root-ca.pk8"), &pkcs8(&pki.root_key)?)?;
    write(
        &dir.join("intermediate-ca.pk8"),
        &pkcs8(&pki.intermediate.key)?,
    )
}

fn write_persona_certs(dir: &Path, def: &PersonaDef, keys: &PersonaKeys) -> Res<()> {
    let mut list = vec![(Role::Sig, &keys.sig), (Role::Auth, &keys.auth)];
    if let Some(tech) = &keys.tech {
        list.push((Role::Tech, tech));
    }
    for (role, key) in list {
        write_cert(
            dir,
            &format!("{}-{}", def.name, role.file_stem()),
            &key.cert,
        )?;
    }
    Ok(())
}

fn write_card(dir: &Path, profile: &Profile, card: &Card) -> Res<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    for (name, data) in &card.blobs {
        write(&dir.join(name), data)?;
    }
    let text = format!("{TOML_HEADER}{}", profile.to_toml());
    write(&dir.join("card.toml"), text.as_bytes())?;
    // The simulator must be able to load what we wrote.
    let loaded = Profile::load(dir.to_str().ok_or("non-UTF-8 path")?)?;
    for f in &loaded.file {
        if let Some(name) = &f.content {
            loaded.read_blob(name)?;
        }
    }
    for k in &loaded.key {
        loaded.read_blob(&k.file)?;
    }
    Ok(())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// fixtures/cards/README.md: fixed prose plus a table generated from the definitions.
fn readme(defs: &[PersonaDef]) -> String {
    let mut out = String::from(README_HEAD);
    out.push_str(
        "| persona | card | what it is for | holder (CN, title) | PIN / PUK | EF.SN PAN | \
         token serial (Cryptolib / OpenSC) | token label |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for d in defs {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} {}, `{}`, {} | {} | `{}` | `{}` / `{}` | {} |",
            d.name,
            card_kind(d.kind),
            d.purpose,
            d.holder.given_name,
            d.holder.surname,
            d.holder.id_nat,
            d.holder.title,
            pin_summary(d),
            hex_string(&pan(d.serial)),
            d.serial,
            hex_string(&pan(d.serial)[2..]),
            label_summary(d),
        );
    }
    out.push_str(README_TAIL);
    out
}

fn card_kind(kind: Kind) -> &'static str {
    match kind {
        Kind::Cps3 => "CPS3, T=0",
        Kind::Cps4 => "CPS4, T=1",
        Kind::Cps3Cl => "CPS3 contactless",
        Kind::Cps2ter => "legacy CPS2ter, T=0",
    }
}

fn pin_summary(d: &PersonaDef) -> &'static str {
    match (d.kind, d.pin_tries_left) {
        (Kind::Cps3Cl, _) => "none (contactless)",
        (Kind::Cps2ter, _) => "— (not used: the card is refused)",
        (_, 0) if d.puk_usage_left == 0 => {
            "1234 **blocked** (0 tries) / 12345678 with **0 unblock uses left**"
        }
        (_, 0) => "1234 **blocked** (0 tries) / 12345678",
        _ => "1234 / 12345678",
    }
}

fn label_summary(d: &PersonaDef) -> String {
    if d.kind == Kind::Cps2ter {
        return "— (no PKCS#15 application)".into();
    }
    if d.kind == Kind::Cps3Cl {
        format!("`CPS3v3_CL` (contact application: `{}`)", d.label)
    } else {
        format!("`{}`", d.label)
    }
}

const README_HEAD: &str = r#"# Card personas for the simulator

Generated by `examples/gen_fixtures.rs`; **do not edit by hand**. Regenerate with

```sh
cargo run --release --example gen-fixtures --features sim
```

The run is deterministic (fixed seeds, dates and serial numbers): running it twice gives
byte-identical files. Every key and certificate here is **test material** from the test PKI in
`../pki/` (root "TEST AC RACINE IGC-SANTE FORT", intermediate "TEST AC IGC-SANTE FORT
PERSONNES"); nothing comes from a real card. The private keys (`*.pk8`, PKCS#8 DER) exist only
so that the simulator can compute signatures.

## Personas

"#;

const README_TAIL: &str = r#"
Common to all contact personas: PIN `1234` (ASCII, padded with `FF` to 8 bytes, 3 tries), PUK
`12345678` (8 bytes, 10 tries, 100 unblock uses), CHV access rules `F3 00 00 13 FF 00` (PIN) and
`F3 FF 00 FF FF 00` (PUK), SE #1 → CHV 1, SE #3 → CHV 2. The EF.SN check digit is the real Luhn
digit over the 18 PAN digits (`8025000001` + serial). The TokenInfo label number and the EF.SN
serial are independent values (cpx-cards.md §14 #12).

`cps3-strict` and `cps3-badcert` have the same holder as `cps3-doctor` (a renewed card: own
keys, certificates and serial). `cps3-badcert` stores its two certificates with signatureValue
`03 82 01 01 01 …` (unused-bits byte 01); the well-formed originals are in `../pki/`, so a
patched CKA_VALUE must equal `../pki/cps3-badcert-{auth,sig}.der`.

`cps3-signer` (holder of `cps3-doctor`) sets the simulator quirk `cds_needs_fresh_verify`: the
card forgets the PIN verification after each PSO COMPUTE DIGITAL SIGNATURE, and its PrKDF
declares CommonObjectAttributes.userConsent = 1 on CPS_PRIV_SIG [assume: whether real cards
do either is not published, cryptolib-compat §16 #2]. `cps3-unblock-exhausted` has its PIN
blocked and its PUK's unblock-usage counter (DOCP `9D`) at 0: the card is blocked for good.
`cps2ter-legacy` is a legacy CPS2ter card on its own: ATR `3F 65 25 08 36 04 6C 90 00`
[assume: the real one is not published], only the CLA `A0` volet (the situation and invoicing
files of the `cps3-doctor` holder, PIN-gated), `6E 00` to every ISO-class command; no PIN, key
or certificate (the module refuses the card).

## Files of a persona directory

| file | card file | content |
|---|---|---|
| `card.toml` | — | the profile (`src/sim/profile.rs`) |
| `ef-dir.bin` | `3F00/2F00` | EF.DIR: "CPX IAS" (+ "CPX IAS CL" whose DDO names the contact AID), `00`-padded to 101 bytes |
| `ef-atr.bin` | `3F00/2F01` | the real 57-byte CPS3 EF.ATR (CPS3 only) |
| `ef-sn.bin` | `3F00/D003` | `5A 0A 80 25 00 00 01 <serial BCD> <Luhn>F` |
| `ef-actua.bin` | `3F00/D010` | `EC { 81 <BCD start>, 82 <BCD end> }` |
| `odf.der` | `3F00/0001/5031` | ODF: `[8]` AODF 7001, `[0]` PrKDF 7002, `[4]` CDF 7005, `[7]` DODF 7004 |
| `tokeninfo.der` | `3F00/0001/5032` | TokenInfo |
| `aodf.der` | `3F00/0001/7001` | user PIN and PUK |
| `prkdf.der` | `3F00/0001/7002` | CPS_PRIV_SIG, CPS_PRIV_AUT |
| `dodf.der` | `3F00/0001/7004` | data objects |
| `cdf.der` | `3F00/0001/7005` | signature and authentication certificates |
| `sig-cert.der` / `auth-cert.der` | `3F00/0001/7103` / `7102` | certificates |
| `do-cps-data.bin` | `3F00/0001/A001` | CPS_DATA, 256 bytes of zeros, `size = 256` (the only writable object) |
| `do-cps-id-card.der`, `do-cps-name-ps.der` | `A002`, `A003` | CPS_ID_CARD, CPS_NAME_PS (free read) |
| `do-cps-lang-ps.der`, `do-cps-info-ps.der` | `7104`, `7105` | CPS_LANG_PS, CPS_INFO_PS (free read) |
| `do-cps-activity-NN-ps.der` | `D120` + NN − 1 | CPS_ACTIVITY_NN_PS (PIN) |
| `d107.bin` | `3F00/0001/D107` | role unknown: 32 zero bytes, READ after PIN |
| `do-cps2ter-*.der`, `do-cps-sit-fact.der` | `B001`–`B007`, `B010`+, `B020` | CPS4 only: CPS2TER_* objects and CPS_SIT_FACT |
| `cps2ter-40NN.der`, `cps2ter-4000.der` | volet `3F00/4010`+, `3F00/7F01/4000` | CPS2ter volet situations and invoicing situation (PIN) |
| `sig-key.pk8`, `auth-key.pk8` | key SDOs | test-only private keys |
| `cl-*.der`, `tech-cert.der`, `tech-key.pk8` | `3F00/0002/…` | contactless application (cps3-contactless only) |

## Access rules (8C contact / 9C contactless)

* MF and application DFs `7A FF FF FF FF 45` (the real MF rule).
* EF.DIR, EF.ATR, EF.SN, EF_ACTUA: `7B 45 FF FF FF 45 00` / `7B FF FF FF FF FF 00` (the real
  EF.ATR rules).
* Files of the contact application: READ `00` (`03 FF 00`), CPS_DATA `03 11 00` (UPDATE after
  PIN), situations and D107 `03 FF 11` (READ after PIN); contactless: `03 FF FF` (never), which
  is how the Cryptolib tells contact from contactless (cpx-cards.md §12).
* Contactless application files: `03 FF 00` on both interfaces.
* Keys: CPS3 SIG `C1 11 00`, AUT `B1 11 11 00`; CPS4 SIG `C1 11 00`, AUT `D1 11 11 00`
  (PSO CDS for PSS + DECIPHER); technical key `A1 00 00` (no PIN).

## PKCS#15 encoding

* AODF: byte-for-byte the structure of the real card's dump (OpenSC issue #2224): PIN label
  "Code porteur de la carte CPS", CommonObjectAttributes.authId `02`, authId `01`, flags
  initialized + needs-padding + exchangeRefData, ascii-numeric 4/8/4, reference 1, padChar `FF`;
  PUK "Code de déblocage de la carte CPS", authId `04`, flags unblockDisabled + initialized +
  needs-padding + soPin + exchangeRefData, 8/8/8, reference 2.
* CommonObjectFlags quirk (cpx-cards.md §5.5 #2): AODF `03 01 08`, CDF `03 02 08 00` in every
  CPS3 persona except `cps3-strict` (`03 01 00` there). The CPS4 personas use DER (`03 01 00`)
  [assume].
* PrKDF: flags private (SIG) / private + modifiable + bit 2 (AUT, as OpenSC shows `0x07` for the
  real card); authId `01`; access rules pso_cds (SIG), pso_decrypt + int_auth (CPS3 AUT),
  pso_cds + pso_decrypt (CPS4 AUT); usage nonRepudiation (SIG) / decrypt + sign (AUT);
  accessFlags sensitive + alwaysSensitive + neverExtractable (`0x0D` as on the real card, no
  "local"); keyReference; **Path with an empty OCTET STRING `30 02 04 00`** (OpenSC requires the path element) (keys are SDOs; clients take the application
  AID from the EF.DIR DDO, OpenSC shows `<aid>::`); modulusLength 2048; no algReference.
* CDF: as the real CDF: label, flags, rules read-always / update-with-01, iD, path `04 02 71 0x`.
* DODF: opaque data objects: label, flags (private / modifiable), authId `01` when the PIN
  guards reading or writing, applicationName "CPS" [assume], path.
* TokenInfo: version 0, serialNumber = the last 8 bytes of the EF.SN PAN (so OpenSC's serial is
  the same from TokenInfo or from EF.SN) [assume: the real card likely has none],
  manufacturerID "ASIP SANTE" (also CPS4 [assume]), `[0]` label, flags readOnly + loginRequired
  (contactless: readOnly), `[2]` supportedAlgorithms, `[5]` lastUpdate.
  CPS3 algorithms: SHA-1 hash `10`, SHA-256 hash `40`, SHA1-RSA-PKCS `12`, SHA256-RSA-PKCS `42`,
  RSA-PKCS sign `02`, RSA-PKCS decipher `1A` (cpx-cards.md §5.1). CPS4 [assume]: SHA1-RSA-PKCS
  `0A`, SHA256-RSA-PKCS `28`, SHA1-RSA-PKCS-PSS `15`, SHA256-RSA-PKCS-PSS `2C` (ChipDoc IDs of
  §7.3), RSA-PKCS decipher (no algRef). Contactless [assume]: RSA-PKCS sign `02`.

## CKA_IDs

`AID` = `E8 28 BD 08 0F 80 25 00 00 01 FF 00 10`, `AID_CL` = `… 00 20`.

| object | CPS3 | CPS4 | contactless |
|---|---|---|---|
| CPS_PRIV_SIG, "Certificat de Signature CPS" | AID ‖ `01` (key ref `81`, SDO 1) | AID ‖ `10` (ref `10`) | — |
| CPS_PRIV_AUT, "Certificat d'Authentification CPS" | AID ‖ `02` (key ref `82`, SDO 2) | AID ‖ `20` (ref `20`) | — |
| CPS_PRIV_TECH_AUT, "Certificat Technique CPS" | — | — | AID_CL ‖ `03` (ref `81` in DF 0002) [assume] |

## Test PKI (`../pki/`)

| file | what |
|---|---|
| `root-ca.{der,pem}` | "TEST AC RACINE IGC-SANTE FORT", self-signed, CA:TRUE, 2019-01-01 → 2044-01-01, serial `1001` |
| `intermediate-ca.{der,pem}` | "TEST AC IGC-SANTE FORT PERSONNES", CA:TRUE pathlen 0, 2019-01-02 → 2039-01-01, serial `1002` |
| `ca-chain.pem` | intermediate then root |
| `root-ca.pk8`, `intermediate-ca.pk8` | test-only CA keys (to issue more test certificates) |
| `<persona>-sig.{der,pem}` | signature certificate: keyUsage nonRepudiation (critical), serial = persona seed + 1 |
| `<persona>-auth.{der,pem}` | authentication certificate: keyUsage digitalSignature + keyEncipherment (critical), EKU clientAuth + emailProtection, serial = persona seed + 2 |
| `cps3-contactless-tech.{der,pem}` | technical certificate: keyUsage digitalSignature, EKU clientAuth |

All RSA-2048 (e = 65537), sha256WithRSAEncryption, basicConstraints CA:FALSE (critical) on the
leaves, subject/authority key identifiers. Issuer DN `C=FR, O=ASIP-SANTE, OU=IGC-SANTE TEST,
CN=…`. Subject `C=FR, [O=…,] title=<profession>, CN=<idNat>+SN=<surname>+GN=<given name>` (the
multi-valued RDN in DER SET order). Validity 2024-06-01 → 2027-06-01, `cps3-expired` 2020-01-01
→ 2023-01-01. Check a chain with
`openssl verify -CAfile root-ca.pem -untrusted intermediate-ca.pem cps3-doctor-auth.pem`.

## Invented or assumed values ([assume])

* **Data-object values are invented.** The real format ("ASIP_CPS3_Données-métier v1.0.2") is
  not public. Our layout, raw DER:
  * CPS_ID_CARD: `SEQUENCE { PrintableString cardType ("CPS"/"CPE"), NumericString serial,
    GeneralizedTime validFrom, GeneralizedTime validTo }`
  * CPS_NAME_PS: `SEQUENCE { PrintableString civility, UTF8String surname, UTF8String givenName }`
  * CPS_LANG_PS: `SEQUENCE { PrintableString "fr" }`
  * CPS_INFO_PS: `SEQUENCE { PrintableString idType, PrintableString idNat, PrintableString
    professionCode, UTF8String profession, SEQUENCE { specialtyCode, specialty } OPTIONAL }`
  * CPS_ACTIVITY_NN_PS and the CPS2ter situation files: `SEQUENCE { INTEGER index,
    PrintableString mode, UTF8String structure, PrintableString idType, PrintableString id,
    UTF8String address, PrintableString postcode, UTF8String city }`
  * CPS_SIT_FACT (volet `7F01/4000`): `SEQUENCE { INTEGER situationIndex, PrintableString
    convention, PrintableString tariffZone }`
  * CPS4 CPS2TER_*: small SEQUENCEs reusing the layouts above.
* File IDs of the certificates, data objects, D107, the CPS4 extra objects and the contactless
  application; the roles of 7002 (PrKDF) and 7004 (DODF); 7003 and 7006 do not exist here.
* Situation NN in `D120 + NN − 1` (16 files D120–D12F for situations 1–16) and in the volet at
  `4010 + NN − 1`.
* Key ACLs, SE numbers, CPS4 key references (`10` / `20`) and PIN/PUK parameters, the whole CPS4
  file tree (EF.DIR with one record, EF.SN, EF_ACTUA; no EF.ATR), the contactless key reference
  and CKA_ID (AID_CL ‖ `03`).
* Token label numbers, serials, names, RPPS/FINESS/SIRET numbers (test ranges `8997…`, `99…`;
  RPPS and FINESS carry a Luhn key), certificate contents (IGC-Santé policies and extensions of
  real cards are not reproduced).
"#;

fn main() -> Res<()> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    // Self-checks against the real card's EF.SN (cpx-cards.md §4.5).
    assert_eq!(luhn("802500000199213845"), 0);
    assert_eq!(pan("99213845"), hex("80 25 00 00 01 99 21 38 45 0F").0);
    let pki_dir = fixtures.join("pki");
    let pki = Pki::new()?;
    write_pki(&pki_dir, &pki)?;
    let defs = personas();
    for def in &defs {
        eprintln!("persona {}", def.name);
        if def.kind == Kind::Cps2ter {
            let (profile, card) = build_legacy_card(def);
            write_card(&fixtures.join("cards").join(def.name), &profile, &card)?;
            continue;
        }
        let keys = persona_keys(&pki, def)?;
        write_persona_certs(&pki_dir, def, &keys)?;
        let (profile, card) = build_card(def, &keys)?;
        write_card(&fixtures.join("cards").join(def.name), &profile, &card)?;
    }
    write(&fixtures.join("cards/README.md"), readme(&defs).as_bytes())?;
    Ok(())
}
