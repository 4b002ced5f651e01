//! Domain types the card layer hands to the PKCS#11 layer. No CK_* here.

use zeroize::Zeroizing;

/// Card generation and interface, decided at bind time (ATR mask + EF.SN issuer prefix,
/// confirmed by a ChipDoc SELECT on channel 1 for CPS4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// CPS3 contact: IAS-ECC, T=0.
    Cps3,
    /// CPS3 contactless side: PIN-less technical application.
    Cps3Cl,
    /// CPS4: ChipDoc on logical channel 1.
    Cps4,
}

/// What a key is for (decides the signing path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// CPS_PRIV_AUT: authentication and decryption.
    Authentication,
    /// CPS_PRIV_SIG: non-repudiation signature.
    Signature,
    /// CPS_PRIV_TECH_AUT: contactless technical key.
    Technical,
}

/// A certificate of the bound card, read once at bind time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub label: String,
    /// CKA_ID: the PKCS#15 iD (application AID ‖ key number).
    pub id: Vec<u8>,
    /// DER, with the signatureValue BIT STRING unused-bits byte already patched to 00.
    pub der: Vec<u8>,
    /// PKCS#15 CommonCertificateAttributes.authority.
    pub authority: bool,
}

/// A private key of the bound card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub label: String,
    pub id: Vec<u8>,
    pub role: KeyRole,
    /// Reference used in MSE:SET (CPS3 81/82, CPS4 10/20, contactless 81).
    pub key_ref: u8,
    pub bits: usize,
    /// Public key, from the matching certificate (big-endian, no leading zeros).
    pub modulus: Vec<u8>,
    pub public_exponent: Vec<u8>,
    pub can_sign: bool,
    pub can_decrypt: bool,
    pub non_repudiation: bool,
    /// Needs the user PIN verified (false on the contactless technical key).
    pub needs_login: bool,
    /// PKCS#15 userConsent: the card wants the PIN verified again before each use.
    pub user_consent: bool,
}

/// Live PIN counters, read from the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinStatus {
    pub tries_left: u8,
    pub max_tries: u8,
    /// Unblock uses left on the PUK (CPS3 DOCP tag 9D), when the card reports it.
    pub unblock_left: Option<u16>,
    /// The card says the PIN is verified in this card session.
    pub verified: bool,
}

/// A PIN or PUK as the AODF describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinInfo {
    pub label: String,
    pub reference: u8,
    pub min_len: usize,
    pub max_len: usize,
    pub stored_len: usize,
    pub pad_char: Option<u8>,
}

/// A PKCS#15 data object (DODF entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataObject {
    pub label: String,
    pub application: String,
    pub private: bool,
    pub modifiable: bool,
    /// File path (absolute, from 3F00) of the value.
    pub path: Vec<u8>,
    /// The value when already read (public objects are read at bind time; private ones
    /// after login).
    pub value: Option<Vec<u8>>,
}

/// Everything read from the card at bind time; PKCS#11 answers object questions from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenContents {
    pub generation: Generation,
    pub atr: Vec<u8>,
    /// The EF.SN PAN digits (without Luhn digit and filler), e.g. "802500000199213845".
    pub pan: String,
    /// CK_TOKEN_INFO.serialNumber per cryptolib-compat §5 (PAN without "8025000001").
    pub serial: String,
    /// TokenInfo label, verbatim (CPS3v3-…, CPS4v1-…, CPS3v3_CL).
    pub label: String,
    pub manufacturer: String,
    /// "IAS ECC" or "ChipDoc".
    pub model: String,
    pub certs: Vec<CertInfo>,
    pub keys: Vec<KeyInfo>,
    pub data_objects: Vec<DataObject>,
    /// None on the contactless token (no PIN).
    pub user_pin: Option<PinInfo>,
    pub so_pin: Option<PinInfo>,
}

/// Hash algorithms the cards sign with (defined in the `soft` leaf, which hashes).
pub use crate::soft::HashAlg;

/// What to sign, in card terms (the PKCS#11 layer maps mechanisms onto these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInput {
    /// PKCS#1 v1.5 over a DigestInfo (or, on a signature key, a bare 20/32-byte hash).
    Pkcs1 { data: Vec<u8> },
    /// PKCS#1 v1.5 with the hash computed from the message (CPS3 signature key: the last
    /// block is hashed on the card).
    Pkcs1Message { alg: HashAlg, message: Vec<u8> },
    /// RSA-PSS over a hash (CPS4 only), salt length = hash length.
    Pss { alg: HashAlg, hash: Vec<u8> },
    /// Raw RSA on a full modulus-size block (CKM_RSA_X_509, CPS4 authentication key only).
    Raw { block: Vec<u8> },
}

/// The form of a signing input, without its data: what is known at C_SignInit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignForm {
    Pkcs1,
    Pkcs1Message(HashAlg),
    Pss(HashAlg),
    Raw,
}

impl SignInput {
    pub fn form(&self) -> SignForm {
        match self {
            SignInput::Pkcs1 { .. } => SignForm::Pkcs1,
            SignInput::Pkcs1Message { alg, .. } => SignForm::Pkcs1Message(*alg),
            SignInput::Pss { alg, .. } => SignForm::Pss(*alg),
            SignInput::Raw { .. } => SignForm::Raw,
        }
    }
}

/// A PIN or PUK value in a buffer zeroed on drop.
pub type Secret = Zeroizing<Vec<u8>>;
