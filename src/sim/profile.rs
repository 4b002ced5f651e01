//! Card profiles ("personas"): what a card carries after personalisation.
//!
//! A profile lives in `fixtures/cards/<name>/card.toml` with its binary files beside it
//! (certificates, PKCS#15 files, test-only private keys). The simulator only *loads* a
//! profile; every behaviour is the card operating system's (see `docs/simulator.md`).
//!
//! Every `[assume]` of `cpx-cards.md` §14 that the simulator depends on is a field of
//! [`Quirks`] or of the profile, with the real card's (or the assumed) behaviour as default.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Hex bytes written as a string in TOML ("3B AC 00 …", spaces and colons allowed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

impl Hex {
    pub fn parse(s: &str) -> Result<Hex, String> {
        let digits: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect();
        if digits.len() % 2 != 0 {
            return Err(format!("odd number of hex digits in {s:?}"));
        }
        (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| format!("{s:?}: {e}")))
            .collect::<Result<Vec<u8>, String>>()
            .map(Hex)
    }
}

impl std::fmt::Display for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hex, D::Error> {
        let s = String::deserialize(d)?;
        Hex::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Card generation: decides the command dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Generation {
    /// CPS3, IAS-ECC, contact interface (with the CPS2ter volet, CLA A0).
    Cps3,
    /// CPS3 seen through its contactless interface (PIN-less technical application).
    Cps3Cl,
    /// CPS4: ChipDoc applet on logical channel 1, CPS2ter applet on channel 0.
    Cps4,
    /// A legacy CPS2ter card on its own: only the CLA `A0` dialect; every ISO command
    /// (CLA `00`–`7F`) gets `6E 00` [assume: cpx-cards.md §11, the card is not published].
    Cps2ter,
}

/// Transmission protocol the card answers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Case-4 answers through `61 xx` + GET RESPONSE, wrong Le through `6C xx`.
    T0,
    /// Data returned directly with the status word.
    T1,
}

/// Which file tree a `[[file]]` belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Volet {
    /// The ISO/IAS-ECC file system (CPS3 MF; CPS4 ChipDoc applet).
    #[default]
    Iso,
    /// The CPS2ter-compatible data volet (CLA A0).
    Cps2ter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    Df,
    Ef,
}

/// One DF or transparent EF. Parents come before their children in the list.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileSpec {
    /// Absolute path of 4-hex-digit file IDs from the MF: "3F00/0001/5031".
    pub path: String,
    #[serde(rename = "type")]
    pub kind: FileType,
    #[serde(default)]
    pub volet: Volet,
    /// DF name (AID) of a DF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aid: Option<Hex>,
    /// Short EF identifier (1..30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sfi: Option<u8>,
    /// Contact access rule, the value of FCP tag 8C: AMB then one SCB per AMB bit 40..01.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Hex>,
    /// Contactless access rule, FCP tag 9C (used when the card is read contactless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl_cl: Option<Hex>,
    /// EF content: a file name beside card.toml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// EF content given inline as hex (when `content` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<Hex>,
    /// Allocated EF size; content is zero-padded to it (default: content length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// CPS2ter volet only: readable only after the user PIN was verified.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
}

/// A CHV SDO (class 01): the user PIN or the PUK.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChvSpec {
    /// VERIFY P2 reference (1 = PIN, 2 = PUK).
    pub reference: u8,
    pub label: String,
    /// The secret as ASCII digits (test cards only).
    pub value: String,
    /// Length on the wire: the value is padded with `pad_byte` up to this length.
    pub stored_length: usize,
    #[serde(default = "default_pad")]
    pub pad_byte: u8,
    pub max_tries: u8,
    pub tries_left: u8,
    /// Unblock-usage counter (PUK): DOCP tag 9D; None when the CHV has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_left: Option<u16>,
    /// DOCP access rule (8C value).
    pub acl: Hex,
}

fn default_pad() -> u8 {
    0xFF
}

/// Operations a private key allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyOp {
    /// PSO COMPUTE DIGITAL SIGNATURE.
    Cds,
    /// INTERNAL AUTHENTICATE (CPS3 only).
    InternalAuth,
    /// PSO DECIPHER.
    Decipher,
}

/// An RSA private key SDO (class 10).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeySpec {
    pub label: String,
    /// DF the key is local to ("3F00/0001").
    pub df: String,
    /// SDO reference (GET DATA `BF 90 <ref>`).
    pub sdo_ref: u8,
    /// Reference used in MSE:SET (`84 01 81` on CPS3, `91 02 alg 90` / `83 01 20` on CPS4).
    pub mse_ref: u8,
    /// PKCS#8 DER of the test-only private key, beside card.toml.
    pub file: String,
    pub ops: Vec<KeyOp>,
    /// DOCP access rule (8C value): AMB + SCBs for PSO CDS / INTERNAL AUTH / DECIPHER / …
    pub acl: Hex,
}

/// Security environment: which CHV a `1n` SCB ("user authentication in SE #n") names.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeSpec {
    pub number: u8,
    pub chv: u8,
}

/// Behaviour switches. Defaults are the real card's behaviour, or our `[assume]` where the
/// real behaviour is unknown (cpx-cards.md §14); docs/simulator.md lists them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Quirks {
    /// §5.5 #13: SELECT by file ID with P2=00 is refused with 6A86.
    pub select_fid_p2_00_refused: bool,
    /// §5.5 #12: SELECT of the MF by path answers 90 00 without FCP.
    pub select_mf_path_no_fcp: bool,
    /// §5.5 #14: a P1=09 path not starting with 3F00 is refused (6A82) when the MF is current.
    pub relative_path_from_mf_refused: bool,
    /// §5.5 #15: READ BINARY answers at most this many bytes.
    pub read_binary_max: usize,
    /// §5.5 #10: SE GET DATA answers 6A88 unless the MF is the current DF.
    pub se_get_data_needs_mf: bool,
    /// §5.5 #11: key SDOs readable only with their DF current, CHV SDOs only with the MF.
    pub sdo_needs_current_df: bool,
    /// [assume §14 #7] SELECT of the MF AID resets the security status.
    pub mf_aid_select_resets_security: bool,
    /// [assume §14 #3] status word for the SDO public-part probes (7F41 / 7F48).
    pub sdo_public_part_sw: u16,
    /// [assume §14 #6] every PSO CDS needs a fresh PIN verification (userConsent).
    pub cds_needs_fresh_verify: bool,
    /// [assume §14 #9] status word for bad PKCS#1 padding in PSO DECIPHER.
    pub bad_padding_sw: u16,
    /// [assume §14 #9] INTERNAL AUTHENTICATE accepts input up to this percentage of the modulus.
    pub internal_auth_max_percent: usize,
    /// [assume §14 #14] the contactless application AID is selectable over the contact interface.
    pub cl_aid_selectable_on_contact: bool,
    /// [assume §14 #13] CPS4: commands on a channel that was not opened answer 69 85 after a
    /// reset until ChipDoc is selected again on channel 1.
    pub chipdoc_needs_select: bool,
}

// Note: `cds_needs_fresh_verify` drops the verification of the CHV named by the key's PSO CDS
// rule after each signature; a persona that sets it should also declare the key's PKCS#15
// userConsent so that clients can know (the `cps3-signer` persona does).

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            select_fid_p2_00_refused: true,
            select_mf_path_no_fcp: true,
            relative_path_from_mf_refused: true,
            read_binary_max: 0xE7,
            se_get_data_needs_mf: true,
            sdo_needs_current_df: true,
            mf_aid_select_resets_security: true,
            sdo_public_part_sw: 0x6A86,
            cds_needs_fresh_verify: false,
            bad_padding_sw: 0x6A80,
            internal_auth_max_percent: 40,
            cl_aid_selectable_on_contact: false,
            chipdoc_needs_select: true,
        }
    }
}

/// Latency model (off by default): seconds are computed, and slept only when `sleep` is set.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    pub enabled: bool,
    /// Actually sleep (otherwise the time is only accounted in the trace).
    pub sleep: bool,
    /// Fixed cost of one APDU exchange, microseconds.
    pub per_apdu_us: u64,
    /// Line rate in bit/s; 0 = derive from the ATR's TA1 (Fi/Di at 3.571 MHz).
    pub baud: u64,
    /// On-card RSA private-key operation, microseconds.
    pub per_rsa_us: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            enabled: false,
            sleep: false,
            per_apdu_us: 2_000,
            baud: 0,
            per_rsa_us: 250_000,
        }
    }
}

/// A whole card.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profile {
    pub persona: String,
    pub description: String,
    pub generation: Generation,
    pub protocol: Protocol,
    pub atr: Hex,
    #[serde(default)]
    pub quirks: Quirks,
    #[serde(default)]
    pub latency: Latency,
    #[serde(default)]
    pub se: Vec<SeSpec>,
    #[serde(default)]
    pub chv: Vec<ChvSpec>,
    #[serde(default)]
    pub key: Vec<KeySpec>,
    #[serde(default)]
    pub file: Vec<FileSpec>,
    /// Directory the profile was loaded from (binary files are resolved against it).
    #[serde(skip)]
    pub dir: PathBuf,
}

/// Where persona directories live: `$CPX_SIM_FIXTURES` or this crate's `fixtures/cards`.
pub fn cards_dir() -> PathBuf {
    std::env::var_os("CPX_SIM_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cards"))
}

impl Profile {
    /// Loads a persona by name (`cps3-doctor`) or by directory path.
    pub fn load(name_or_path: &str) -> Result<Profile, String> {
        let as_path = Path::new(name_or_path);
        let dir = if as_path.join("card.toml").is_file() {
            as_path.to_path_buf()
        } else {
            cards_dir().join(name_or_path)
        };
        let toml_path = dir.join("card.toml");
        let text = std::fs::read_to_string(&toml_path)
            .map_err(|e| format!("persona {name_or_path:?}: {}: {e}", toml_path.display()))?;
        let mut p: Profile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", toml_path.display()))?;
        p.dir = dir;
        Ok(p)
    }

    /// Reads a binary file named in the profile.
    pub fn read_blob(&self, name: &str) -> Result<Vec<u8>, String> {
        let p = self.dir.join(name);
        std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = Hex::parse("3B ac:00 40").unwrap();
        assert_eq!(h.0, vec![0x3B, 0xAC, 0x00, 0x40]);
        assert_eq!(h.to_string(), "3B AC 00 40");
        assert!(Hex::parse("3B A").is_err());
        assert!(Hex::parse("ZZ").is_err());
    }
}
