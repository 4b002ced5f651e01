//! Slots (one per reader, stable IDs) and the token bound to the card in each
//! (`cryptolib-compat.md` §4–5, `style.md` §6).

use super::object::{Object, ObjectKind, ObjectView};
use crate::cpx::{CpxCard, PinStatus, TokenContents};
use crate::locked::LockedSecret;
use crate::x509::{self, CertFields};
use cryptoki_sys::*;
use std::time::Instant;

/// Who is logged in on a token (per token, not per session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginState {
    Public,
    User,
    So,
}

/// A reader and what we know of the card in it.
pub struct Slot {
    pub id: CK_SLOT_ID,
    pub reader: String,
    /// The reader is currently listed.
    pub attached: bool,
    pub card_present: bool,
    pub atr: Vec<u8>,
    /// The reader's PC/SC event counter at the last scan (insertions and removals).
    pub events: u32,
    pub token: Option<Token>,
    /// ATR and event counter of a card that could not be bound (not retried until the card
    /// changes: another ATR, or pulled and put back, however quickly).
    pub unrecognized: Option<(Vec<u8>, u32)>,
    /// What C_WaitForSlotEvent last reported of this slot (`None`: a reader that arrived
    /// since, not reported yet).
    pub event_seen: Option<SlotState>,
}

/// A slot as C_WaitForSlotEvent sees it: a card inserted, removed or swapped, or the reader
/// arriving or leaving, changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    pub attached: bool,
    pub card_present: bool,
    pub events: u32,
    pub atr: Vec<u8>,
}

/// A card bound in a slot: everything read at insertion plus the login state.
pub struct Token {
    pub binding: u64,
    /// The reader's ATR when bound (a different ATR means a different card).
    pub atr: Vec<u8>,
    /// The reader's event counter when bound: once it moves, this card session is over
    /// (the card was pulled, perhaps put back or swapped for another with the same ATR).
    pub events: u32,
    pub card: CpxCard,
    pub objects: Vec<Object>,
    pub cert_fields: Vec<Option<CertFields>>,
    pub login: LoginState,
    /// The user PIN, kept for the Cryptolib's silent re-verification (compat §9): in a
    /// locked page excluded from core dumps, zeroed on drop, dropped on logout, removal and
    /// reset (`locked.rs`, `docs/security.md`).
    pub pin: Option<LockedSecret>,
    /// Last counters read, with when (C_GetTokenInfo coalesces within a second).
    pub pin_status: Option<(Instant, PinStatus)>,
    /// Keep the user PIN for the silent re-verification (`CPX_PKCS11_PIN_CACHE`, never on a
    /// PIN pad). When false, keys with PKCS#15 userConsent have CKA_ALWAYS_AUTHENTICATE and
    /// need C_Login(CKU_CONTEXT_SPECIFIC) before each signature.
    pub keep_pin: bool,
    /// OpenSC's unblock convention: the PUK was verified by C_Login(CKU_CONTEXT_SPECIFIC)
    /// outside any operation; the next C_SetPIN(PUK, new PIN) unblocks the user PIN.
    pub puk_for_unblock: bool,
}

/// CK_SLOT_INFO content, before padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    pub description: String,
    pub flags: CK_FLAGS,
}

/// CK_TOKEN_INFO content, before padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub flags: CK_FLAGS,
    pub min_pin: usize,
    pub max_pin: usize,
    pub sessions: usize,
    pub rw_sessions: usize,
}

impl Slot {
    pub fn new(id: CK_SLOT_ID, reader: String) -> Slot {
        Slot {
            id,
            reader,
            attached: true,
            card_present: false,
            atr: Vec::new(),
            events: 0,
            token: None,
            unrecognized: None,
            event_seen: None,
        }
    }

    pub fn info(&self) -> SlotInfo {
        let mut flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
        if self.card_present {
            flags |= CKF_TOKEN_PRESENT;
        }
        SlotInfo {
            description: slot_description(&self.reader),
            flags,
        }
    }

    /// What C_WaitForSlotEvent compares.
    pub fn event_state(&self) -> Option<SlotState> {
        Some(SlotState {
            attached: self.attached,
            card_present: self.card_present,
            events: self.events,
            atr: self.atr.clone(),
        })
    }
}

/// Reader names longer than 64 characters: first 30 + "..." + last 31 (compat §4, 1530).
pub fn slot_description(reader: &str) -> String {
    let chars: Vec<char> = reader.chars().collect();
    if chars.len() <= 64 {
        return reader.to_string();
    }
    let head: String = chars[..30].iter().collect();
    let tail: String = chars[chars.len() - 31..].iter().collect();
    format!("{head}...{tail}")
}

impl Token {
    /// Builds the object list of a freshly bound card; handles come from `next_handle`.
    pub fn new(
        binding: u64,
        atr: Vec<u8>,
        events: u32,
        card: CpxCard,
        mut next_handle: impl FnMut() -> CK_OBJECT_HANDLE,
    ) -> Token {
        let contents = card.contents();
        let cert_fields: Vec<Option<CertFields>> = contents
            .certs
            .iter()
            .map(|c| x509::parse(&c.der).ok())
            .collect();
        let mut objects = Vec::new();
        let mut push = |kind| {
            objects.push(Object {
                handle: next_handle(),
                kind,
            })
        };
        for i in 0..contents.certs.len() {
            push(ObjectKind::Certificate(i));
        }
        for i in 0..contents.keys.len() {
            push(ObjectKind::PrivateKey(i));
        }
        for (i, f) in cert_fields.iter().enumerate() {
            if f.as_ref().is_some_and(|f| !f.modulus.is_empty()) {
                push(ObjectKind::PublicKey(i));
            }
        }
        for i in 0..contents.data_objects.len() {
            push(ObjectKind::Data(i));
        }
        push(ObjectKind::Profile(CKP_PUBLIC_CERTIFICATES_TOKEN));
        Token {
            binding,
            atr,
            events,
            card,
            objects,
            cert_fields,
            login: LoginState::Public,
            pin: None,
            pin_status: None,
            keep_pin: true,
            puk_for_unblock: false,
        }
    }

    /// The reader has a PIN pad: PINs are typed on it (CKF_PROTECTED_AUTHENTICATION_PATH).
    pub fn protected_path(&self) -> bool {
        self.card.reader_features().pin_pad()
    }

    pub fn contents(&self) -> &TokenContents {
        self.card.contents()
    }

    pub fn view(&self) -> ObjectView<'_> {
        ObjectView {
            contents: self.card.contents(),
            certs: &self.cert_fields,
            context_login: !self.keep_pin,
        }
    }

    pub fn object(&self, handle: CK_OBJECT_HANDLE) -> Option<Object> {
        self.objects.iter().find(|o| o.handle == handle).copied()
    }

    /// Whether `o` can be seen in the current login state.
    pub fn visible(&self, o: &Object) -> bool {
        self.login == LoginState::User || !o.is_private(&self.view())
    }

    /// Forget the login: state, cached PIN, counters.
    pub fn forget_login(&mut self) {
        self.login = LoginState::Public;
        self.pin = None;
        self.pin_status = None;
        self.puk_for_unblock = false;
    }

    /// Token info with the given live counters (`None` when they could not be read).
    pub fn info(&self, status: Option<PinStatus>, sessions: usize, rw: usize) -> TokenInfo {
        let c = self.contents();
        let mut flags = CKF_TOKEN_INITIALIZED | CKF_RNG;
        if self.protected_path() {
            flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
        }
        if c.user_pin.is_some() {
            flags |= CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED;
            if let Some(s) = status {
                flags |= pin_flags(&s);
            }
        }
        let (min_pin, max_pin) = c
            .user_pin
            .as_ref()
            .map_or((4, 8), |p| (p.min_len, p.max_len));
        TokenInfo {
            label: c.label.clone(),
            manufacturer: c.manufacturer.clone(),
            model: c.model.clone(),
            serial: serial_field(&c.serial),
            flags,
            min_pin,
            max_pin,
            sessions,
            rw_sessions: rw,
        }
    }
}

/// COUNT_LOW / FINAL_TRY / LOCKED from live counters (compat §5, §15 #6).
pub fn pin_flags(s: &PinStatus) -> CK_FLAGS {
    let mut f = 0;
    if s.tries_left == 0 {
        f |= CKF_USER_PIN_LOCKED;
    } else {
        if s.tries_left < s.max_tries {
            f |= CKF_USER_PIN_COUNT_LOW;
        }
        if s.tries_left == 1 {
            f |= CKF_USER_PIN_FINAL_TRY;
        }
    }
    if s.unblock_left == Some(0) && s.tries_left == 0 {
        f |= CKF_USER_PIN_LOCKED;
    }
    f
}

/// serialNumber holds 16 characters: the last 16 when longer (compat §5).
fn serial_field(serial: &str) -> String {
    let chars: Vec<char> = serial.chars().collect();
    if chars.len() <= 16 {
        serial.to_string()
    } else {
        chars[chars.len() - 16..].iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reader_names_are_shortened() {
        let short = "Gemalto PC Twin Reader 00 00";
        assert_eq!(slot_description(short), short);
        let long: String = "é".repeat(40) + &"x".repeat(40);
        let d = slot_description(&long);
        assert_eq!(d.chars().count(), 64);
        assert!(d.starts_with(&"é".repeat(30)));
        assert!(d.ends_with(&"x".repeat(31)));
        assert!(d.contains("..."));
    }

    #[test]
    fn pin_counter_flags() {
        let s = |t, u| PinStatus {
            tries_left: t,
            max_tries: 3,
            unblock_left: u,
            verified: false,
        };
        assert_eq!(pin_flags(&s(3, None)), 0);
        assert_eq!(pin_flags(&s(2, None)), CKF_USER_PIN_COUNT_LOW);
        assert_eq!(
            pin_flags(&s(1, None)),
            CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY
        );
        assert_eq!(pin_flags(&s(0, Some(0))), CKF_USER_PIN_LOCKED);
        assert_eq!(pin_flags(&s(0, Some(5))), CKF_USER_PIN_LOCKED);
    }

    #[test]
    fn serial_keeps_last_16() {
        assert_eq!(serial_field("99700011"), "99700011");
        assert_eq!(serial_field("0123456789ABCDEFGH"), "23456789ABCDEFGH");
    }
}
