//! What is where on the CPx cards, as data: ATR patterns, AIDs, file IDs, key and PIN
//! references, algorithm references, labels. Sources: cpx-cards.md §2–§7, §10–§12 and
//! cryptolib-compat.md §5–§7; `[assume]` values are the simulator's documented choices.

use super::types::Generation;

// ---------------------------------------------------------------------------------------
// Recognition (cpx-cards.md §2)
// ---------------------------------------------------------------------------------------

/// An ATR pattern: `(atr & mask) == (value & mask)`, lengths equal.
pub struct AtrPattern {
    pub value: &'static [u8],
    pub mask: &'static [u8],
    pub generation: Generation,
    pub name: &'static str,
}

const EXACT_17: &[u8] = &[0xFF; 17];

/// Patterns tried in order; the first match wins. The three CPS4 ATRs come first because
/// the CPS4 "T=0 only" ATR also matches the CPS3 contact mask.
pub const ATR_PATTERNS: &[AtrPattern] = &[
    AtrPattern {
        value: &[
            0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00,
            0x00, 0x90, 0x44,
        ],
        mask: EXACT_17,
        generation: Generation::Cps4,
        name: "CPS4",
    },
    AtrPattern {
        value: &[
            0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01,
            0x00, 0x90, 0x44,
        ],
        mask: EXACT_17,
        generation: Generation::Cps4,
        name: "CPS4 release candidate",
    },
    AtrPattern {
        value: &[
            0x3B, 0xDC, 0x18, 0xFF, 0x00, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01,
            0x00, 0x90, 0x00,
        ],
        mask: EXACT_17,
        generation: Generation::Cps4,
        name: "CPS4 T=0 only",
    },
    // Windows registration "Carte de Professionnel de Sante CPS3" (Cryptolib installer).
    AtrPattern {
        value: &[
            0x3B, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x00, 0x00,
            0x00, 0x90, 0x00,
        ],
        mask: &[
            0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00,
            0xFF, 0xFF, 0xFF,
        ],
        generation: Generation::Cps3,
        name: "CPS3 contact",
    },
    // Windows registration "… CPS3 - CL".
    AtrPattern {
        value: &[
            0x3B, 0x8F, 0x80, 0x01, 0x00, 0x31, 0xB8, 0x64, 0x00, 0x00, 0xEC, 0xC0, 0x73, 0x94,
            0x01, 0x80, 0x82, 0x90, 0x00, 0x0E,
        ],
        mask: &[
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xC0, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ],
        generation: Generation::Cps3Cl,
        name: "CPS3 contactless",
    },
];

/// The generation an ATR announces, or `None` for a card we do not drive.
pub fn match_atr(atr: &[u8]) -> Option<&'static AtrPattern> {
    ATR_PATTERNS.iter().find(|p| {
        p.value.len() == atr.len()
            && atr
                .iter()
                .zip(p.value)
                .zip(p.mask)
                .all(|((a, v), m)| a & m == v & m)
    })
}

/// EF.SN: 12 bytes `5A 0A <PAN>`, PAN starting with the ANS issuer prefix (§4.5).
pub const EF_SN_LEN: usize = 12;
/// Issuer prefix of the PAN (digits 8025000001), bytes 2–6 of EF.SN.
pub const ISSUER_PREFIX: [u8; 5] = [0x80, 0x25, 0x00, 0x00, 0x01];

// ---------------------------------------------------------------------------------------
// Applications, files (cpx-cards.md §3, §4, §10, §11)
// ---------------------------------------------------------------------------------------

/// DF name of the CPS3 MF; CPS4: the ChipDoc applet (logical channel 1).
pub const MF_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00];
/// PKCS#15 application "CPX IAS" (contact).
pub const AID_CONTACT: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];
/// PKCS#15 application "CPX IAS CL" (contactless).
pub const AID_CONTACTLESS: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x20,
];
/// CPS4: the CPS2ter-compatible applet (basic channel).
pub const CPS2TER_APPLET_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x02];
/// CPS4: GlobalPlatform issuer security domain.
pub const ISD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00];

/// The MF.
pub const MF: u16 = 0x3F00;
/// EF.SN in the MF.
pub const FID_EF_SN: u16 = 0xD003;
/// EF.SN's short file identifier (cpx-cards §4.5).
pub const SFI_EF_SN: u8 = 0x1C;
/// EF_ACTUA: card-update dates (CPS3, cpx-cards §4.6).
pub const FID_EF_ACTUA: u16 = 0xD010;
/// PKCS#15 ODF and TokenInfo (standard FIDs, relative to the application DF).
pub const FID_ODF: u16 = 0x5031;
pub const FID_TOKEN_INFO: u16 = 0x5032;

/// Where the PKCS#15 application of each generation lives (absolute path, FIDs).
/// CPS3 contact `3F00/0001` and contactless `3F00/0002` [card]; CPS4 [assume] the same as
/// CPS3 contact (its file layout is not published).
pub fn application_df(generation: Generation) -> &'static [u16] {
    match generation {
        Generation::Cps3 | Generation::Cps4 => &[MF, 0x0001],
        Generation::Cps3Cl => &[MF, 0x0002],
    }
}

/// The PKCS#15 application AID of each generation.
pub fn application_aid(generation: Generation) -> &'static [u8] {
    match generation {
        Generation::Cps3 | Generation::Cps4 => &AID_CONTACT,
        Generation::Cps3Cl => &AID_CONTACTLESS,
    }
}

/// CK_TOKEN_INFO.model (cryptolib-compat §5).
pub fn model(generation: Generation) -> &'static str {
    match generation {
        Generation::Cps3 | Generation::Cps3Cl => "IAS ECC",
        Generation::Cps4 => "ChipDoc",
    }
}

/// READ BINARY answers at most this many bytes (§5.5 #15); UPDATE BINARY uses the same
/// chunk size.
pub const MAX_READ_CHUNK: usize = 0xE7;

/// CPS2ter volet (CPS3, CLA A0): situation n (1..=16) is `3F00/(4010 + n - 1)`.
pub const VOLET_SITUATION_BASE: u16 = 0x4010;
/// CPS2ter volet: the invoicing situation `3F00/7F01/4000`.
pub const VOLET_SIT_FACT: [u16; 3] = [MF, 0x7F01, 0x4000];

// ---------------------------------------------------------------------------------------
// PINs, keys, algorithms (cpx-cards.md §6, §7, §10)
// ---------------------------------------------------------------------------------------

/// User PIN reference (VERIFY P2).
pub const PIN_REF: u8 = 0x01;
/// PUK reference.
pub const PUK_REF: u8 = 0x02;
/// CPS4: maximum PIN tries, hard-coded in the Cryptolib (no DOCP on ChipDoc).
pub const CPS4_MAX_TRIES: u8 = 3;
/// Defaults when the AODF says nothing: PIN 4 digits padded with FF to 8, PUK 8 digits.
pub const DEFAULT_PIN_LEN: (usize, usize, usize) = (4, 4, 8);
pub const DEFAULT_PUK_LEN: (usize, usize, usize) = (8, 8, 8);
/// Padding byte of the user PIN (AODF padChar, §5.2).
pub const DEFAULT_PAD: u8 = 0xFF;

/// INTERNAL AUTHENTICATE input limit: 40 % of the modulus (§8.11).
pub const INTERNAL_AUTH_MAX_PERCENT: usize = 40;

/// CPS3 algorithm references (MSE tag 80, §7.2). Read from TokenInfo when present; these
/// are the values of the real card's TokenInfo and the Cryptolib's hard-coded ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cps3AlgRefs {
    pub hash_sha1: u8,
    pub hash_sha256: u8,
    pub sign_sha1: u8,
    pub sign_sha256: u8,
    pub sign_raw: u8,
    pub decipher: u8,
}

pub const CPS3_ALG_REFS: Cps3AlgRefs = Cps3AlgRefs {
    hash_sha1: 0x10,
    hash_sha256: 0x40,
    sign_sha1: 0x12,
    sign_sha256: 0x42,
    sign_raw: 0x02,
    decipher: 0x1A,
};

/// PKCS#11 mechanism numbers found in TokenInfo.supportedAlgorithms (no CK_* types here,
/// just the numbers the card stores).
pub mod mechanism {
    pub const RSA_PKCS: u64 = 0x01;
    pub const SHA1_RSA_PKCS: u64 = 0x06;
    pub const SHA256_RSA_PKCS: u64 = 0x40;
    pub const SHA_1: u64 = 0x220;
    pub const SHA256: u64 = 0x250;
}

/// CPS4 ChipDoc algorithm IDs (MSE tag 91, §7.3).
pub mod chipdoc_alg {
    pub const PKCS1_SHA1: u8 = 0x0A;
    pub const PKCS1_SHA256: u8 = 0x28;
    pub const PSS_SHA1: u8 = 0x15;
    pub const PSS_SHA256: u8 = 0x2C;
}

/// CPS4 authentication key reference (hard-coded in the Cryptolib's MSE B8, §10.2).
pub const CPS4_AUTH_KEY_REF: u8 = 0x20;

/// Labels (cryptolib-compat §6.1).
pub mod label {
    pub const PRIV_SIG: &str = "CPS_PRIV_SIG";
    pub const PRIV_AUT: &str = "CPS_PRIV_AUT";
    pub const PRIV_TECH_AUT: &str = "CPS_PRIV_TECH_AUT";
    pub const ACTIVITY_PREFIX: &str = "CPS_ACTIVITY_";
    pub const ACTIVITY_SUFFIX: &str = "_PS";
    pub const CPS2TER_ACTIVITY_PREFIX: &str = "CPS2TER_ACTIVITY_";
    pub const SIT_FACT: &str = "CPS_SIT_FACT";
    /// CKA_APPLICATION of objects the library synthesises.
    pub const APPLICATION: &str = "CPS";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::hex_bytes as h;

    #[test]
    fn known_atrs() {
        let cases = [
            (
                "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00",
                Some(Generation::Cps3),
            ),
            // The older variant is accepted by the mask (not by the Cryptolib's exact match).
            (
                "3B AC 00 40 2A 00 12 25 00 64 80 82 02 12 00 90 00",
                Some(Generation::Cps3),
            ),
            (
                "3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E",
                Some(Generation::Cps3Cl),
            ),
            (
                "3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44",
                Some(Generation::Cps4),
            ),
            (
                "3B 9B 18 80 01 00 12 25 00 64 80 00 04 01 00 90 44",
                Some(Generation::Cps4),
            ),
            // Also matches the CPS3 mask: the CPS4 entry must win.
            (
                "3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00",
                Some(Generation::Cps4),
            ),
            // Wrong country code, wrong length, another card.
            ("3B AC 00 40 2A 00 12 26 00 64 80 00 03 10 00 90 00", None),
            ("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90", None),
            (
                "3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A",
                None,
            ),
        ];
        for (atr, expected) in cases {
            assert_eq!(match_atr(&h(atr)).map(|p| p.generation), expected, "{atr}");
        }
    }
}
