//! `p11::Error`: every CKR the PKCS#11 layer decides itself, plus card errors mapped through
//! one table (`style.md` §4, `cryptolib-compat.md` §10). Context-dependent mappings are done
//! at the call site with `.map_err` (see `Module`), never with `From<CK_RV>`.

use crate::apdu::{CardError, StatusWord};
use crate::cpx::{CpxError, Missing, Refusal};
use crate::transport::TransportError;
use cryptoki_sys::*;

/// An error of the PKCS#11 layer. `rv()` is the only way to a `CK_RV`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("arguments bad")]
    ArgumentsBad,
    #[error("Cryptoki not initialized")]
    NotInitialized,
    #[error("Cryptoki already initialized")]
    AlreadyInitialized,
    #[error("invalid slot {0}")]
    SlotIdInvalid(CK_SLOT_ID),
    #[error("token not present")]
    TokenNotPresent,
    #[error("token not recognized")]
    TokenNotRecognized,
    #[error("token write protected")]
    TokenWriteProtected,
    #[error("invalid session handle {0}")]
    SessionHandleInvalid(CK_SESSION_HANDLE),
    #[error("CKF_SERIAL_SESSION not set")]
    SessionParallelNotSupported,
    #[error("session is read-only")]
    SessionReadOnly,
    #[error("a read-only session exists")]
    SessionReadOnlyExists,
    #[error("a read/write SO session exists")]
    SessionReadWriteSoExists,
    #[error("invalid object handle {0}")]
    ObjectHandleInvalid(CK_OBJECT_HANDLE),
    #[error("invalid key handle {0}")]
    KeyHandleInvalid(CK_OBJECT_HANDLE),
    #[error("key type inconsistent with the mechanism or the operation")]
    KeyTypeInconsistent,
    #[error("invalid mechanism {0:#x}")]
    MechanismInvalid(CK_MECHANISM_TYPE),
    #[error("invalid mechanism parameter")]
    MechanismParamInvalid,
    #[error("operation active")]
    OperationActive,
    #[error("operation not initialized")]
    OperationNotInitialized,
    #[error("user not logged in")]
    UserNotLoggedIn,
    #[error("user already logged in")]
    UserAlreadyLoggedIn,
    #[error("another user already logged in")]
    UserAnotherAlreadyLoggedIn,
    #[error("invalid user type {0}")]
    UserTypeInvalid(CK_USER_TYPE),
    #[error("token has no user PIN")]
    UserPinNotInitialized,
    #[error("PIN incorrect")]
    PinIncorrect,
    #[error("PIN locked")]
    PinLocked,
    #[error("PIN length out of range")]
    PinLenRange,
    #[error("data length out of range")]
    DataLenRange,
    #[error("data invalid")]
    DataInvalid,
    #[error("encrypted data length out of range")]
    EncryptedDataLenRange,
    #[error("encrypted data invalid")]
    EncryptedDataInvalid,
    #[error("signature invalid")]
    SignatureInvalid,
    #[error("signature length out of range")]
    SignatureLenRange,
    #[error("buffer too small")]
    BufferTooSmall,
    #[error("attribute type invalid")]
    AttributeTypeInvalid,
    #[error("attribute sensitive")]
    AttributeSensitive,
    #[error("attribute read-only")]
    AttributeReadOnly,
    #[error("attribute value invalid")]
    AttributeValueInvalid,
    #[error("action prohibited")]
    ActionProhibited,
    #[error("function not supported")]
    FunctionNotSupported,
    #[error("template inconsistent")]
    TemplateInconsistent,
    #[error("random seed not supported")]
    RandomSeedNotSupported,
    #[error("function not parallel")]
    FunctionNotParallel,
    #[error("no slot event")]
    NoEvent,
    #[error("device error: {0}")]
    DeviceError(&'static str),
    #[error(transparent)]
    Card(#[from] CardError),
    /// The card layer refused the request without sending anything (a rule of the card).
    #[error("refused before reaching the card: {0}")]
    Refused(Refusal),
    /// The token has no such key, PIN or data object.
    #[error("this token has no {0}")]
    Missing(Missing),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<CpxError> for Error {
    fn from(e: CpxError) -> Self {
        match e {
            CpxError::Card(e) => Error::Card(e),
            CpxError::Refused(r) => Error::Refused(r),
            CpxError::Missing(m) => Error::Missing(m),
        }
    }
}

impl Error {
    /// The one mapping to `CK_RV`: exhaustive on purpose (a new variant must be placed here).
    pub fn rv(&self) -> CK_RV {
        match self {
            Error::ArgumentsBad => CKR_ARGUMENTS_BAD,
            Error::NotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
            Error::AlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
            Error::SlotIdInvalid(_) => CKR_SLOT_ID_INVALID,
            Error::TokenNotPresent => CKR_TOKEN_NOT_PRESENT,
            Error::TokenNotRecognized => CKR_TOKEN_NOT_RECOGNIZED,
            Error::TokenWriteProtected => CKR_TOKEN_WRITE_PROTECTED,
            Error::SessionHandleInvalid(_) => CKR_SESSION_HANDLE_INVALID,
            Error::SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            Error::SessionReadOnly => CKR_SESSION_READ_ONLY,
            Error::SessionReadOnlyExists => CKR_SESSION_READ_ONLY_EXISTS,
            Error::SessionReadWriteSoExists => CKR_SESSION_READ_WRITE_SO_EXISTS,
            Error::ObjectHandleInvalid(_) => CKR_OBJECT_HANDLE_INVALID,
            Error::KeyHandleInvalid(_) => CKR_KEY_HANDLE_INVALID,
            Error::KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
            Error::MechanismInvalid(_) => CKR_MECHANISM_INVALID,
            Error::MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
            Error::OperationActive => CKR_OPERATION_ACTIVE,
            Error::OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
            Error::UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
            Error::UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
            Error::UserAnotherAlreadyLoggedIn => CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
            Error::UserTypeInvalid(_) => CKR_USER_TYPE_INVALID,
            Error::UserPinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
            Error::PinIncorrect => CKR_PIN_INCORRECT,
            Error::PinLocked => CKR_PIN_LOCKED,
            Error::PinLenRange => CKR_PIN_LEN_RANGE,
            Error::DataLenRange => CKR_DATA_LEN_RANGE,
            Error::DataInvalid => CKR_DATA_INVALID,
            Error::EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
            Error::EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
            Error::SignatureInvalid => CKR_SIGNATURE_INVALID,
            Error::SignatureLenRange => CKR_SIGNATURE_LEN_RANGE,
            Error::BufferTooSmall => CKR_BUFFER_TOO_SMALL,
            Error::AttributeTypeInvalid => CKR_ATTRIBUTE_TYPE_INVALID,
            Error::AttributeSensitive => CKR_ATTRIBUTE_SENSITIVE,
            Error::AttributeReadOnly => CKR_ATTRIBUTE_READ_ONLY,
            Error::AttributeValueInvalid => CKR_ATTRIBUTE_VALUE_INVALID,
            Error::ActionProhibited => CKR_ACTION_PROHIBITED,
            Error::FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
            Error::TemplateInconsistent => CKR_TEMPLATE_INCONSISTENT,
            Error::RandomSeedNotSupported => CKR_RANDOM_SEED_NOT_SUPPORTED,
            Error::FunctionNotParallel => CKR_FUNCTION_NOT_PARALLEL,
            Error::NoEvent => CKR_NO_EVENT,
            Error::DeviceError(_) => CKR_DEVICE_ERROR,
            Error::Card(e) => card_rv(e),
            Error::Refused(r) => match r {
                Refusal::InputLength => CKR_DATA_LEN_RANGE,
                Refusal::InputForm => CKR_DATA_INVALID,
                Refusal::KeyCannot => CKR_KEY_TYPE_INCONSISTENT,
                Refusal::PinLength => CKR_PIN_LEN_RANGE,
                Refusal::ReadOnly => CKR_ATTRIBUTE_READ_ONLY,
            },
            Error::Missing(m) => match m {
                Missing::Key => CKR_KEY_HANDLE_INVALID,
                Missing::UserPin => CKR_USER_PIN_NOT_INITIALIZED,
                Missing::Puk => CKR_USER_TYPE_INVALID,
                Missing::DataObject => CKR_OBJECT_HANDLE_INVALID,
            },
            Error::Internal(_) => CKR_GENERAL_ERROR,
        }
    }

    /// Codes that are part of normal use (logged at debug, not warn).
    pub fn is_routine(&self) -> bool {
        matches!(
            self.rv(),
            CKR_BUFFER_TOO_SMALL
                | CKR_ATTRIBUTE_TYPE_INVALID
                | CKR_ATTRIBUTE_SENSITIVE
                | CKR_PIN_INCORRECT
                | CKR_NO_EVENT
                | CKR_SIGNATURE_INVALID
                | CKR_PIN_LOCKED
                | CKR_USER_NOT_LOGGED_IN
                | CKR_USER_ALREADY_LOGGED_IN
                | CKR_CRYPTOKI_ALREADY_INITIALIZED
                | CKR_FUNCTION_NOT_SUPPORTED
                | CKR_RANDOM_SEED_NOT_SUPPORTED
                | CKR_FUNCTION_NOT_PARALLEL
                | CKR_TOKEN_NOT_PRESENT
                | CKR_MECHANISM_INVALID
                // Explained once, at warn, when the card is looked at (Module::ensure_token).
                | CKR_TOKEN_NOT_RECOGNIZED
                | CKR_FUNCTION_CANCELED
        )
    }

    /// Whether the card went away (the binding must be dropped).
    pub fn is_removal(&self) -> bool {
        matches!(
            self,
            Error::Card(CardError::Transport(
                TransportError::Removed
                    | TransportError::NoCard
                    | TransportError::NoReader
                    | TransportError::NoService
            ))
        )
    }

    /// Whether the card was reset by someone else (its security state is gone).
    pub fn is_reset(&self) -> bool {
        matches!(
            self,
            Error::Card(CardError::Transport(TransportError::Reset))
        )
    }
}

/// The default card-error → CKR table (`cryptolib-compat.md` §10). Per-call overrides are
/// applied by the caller before this (e.g. bind: `FileNotFound` → TOKEN_NOT_RECOGNIZED).
pub fn card_rv(e: &CardError) -> CK_RV {
    match e {
        CardError::Transport(t) => match t {
            TransportError::NoReader
            | TransportError::NoCard
            | TransportError::Removed
            | TransportError::NoService => CKR_TOKEN_NOT_PRESENT,
            // The card-side security state is gone: the token is logged out (style.md §6).
            TransportError::Reset => CKR_USER_NOT_LOGGED_IN,
            TransportError::Timeout | TransportError::Sharing | TransportError::Io(_) => {
                CKR_DEVICE_ERROR
            }
            TransportError::Unsupported => CKR_FUNCTION_NOT_SUPPORTED,
        },
        CardError::PinIncorrect { .. } => CKR_PIN_INCORRECT,
        CardError::PinBlocked => CKR_PIN_LOCKED,
        CardError::SecurityNotSatisfied => CKR_USER_NOT_LOGGED_IN,
        // "Not allowed" (incl. 69 85, key cannot be used) as the Cryptolib maps it.
        CardError::ConditionsNotSatisfied => CKR_KEY_TYPE_INCONSISTENT,
        CardError::FileNotFound => CKR_DEVICE_ERROR,
        CardError::WrongLength => CKR_DATA_LEN_RANGE,
        // "Invalid data, incorrect parameters" as the Cryptolib maps them.
        CardError::Status(
            StatusWord::IncorrectData | StatusWord::IncorrectP1P2 | StatusWord::WrongP1P2,
        ) => CKR_DATA_INVALID,
        CardError::Status(_) => CKR_DEVICE_ERROR,
        CardError::Malformed(_) => CKR_DEVICE_ERROR,
        CardError::UnsupportedCard { .. } | CardError::LegacyCps2ter { .. } => {
            CKR_TOKEN_NOT_RECOGNIZED
        }
        // "Keypad cancelled / timeout" and "keypad PIN mismatch" (compat §10).
        CardError::PinEntryCancelled => CKR_FUNCTION_CANCELED,
        CardError::PinEntryInvalid => CKR_PIN_INVALID,
        // What the card did is unknown (a PIN operation interrupted by a reset): the token
        // is logged out; the caller may look at the PIN counters and try again.
        CardError::ResetDuringCommand => CKR_DEVICE_ERROR,
    }
}

/// The name of a return code, for logs and docs (`CKR_0x…` for codes we never produce).
pub fn rv_name(rv: CK_RV) -> String {
    let name = match rv {
        CKR_OK => "CKR_OK",
        CKR_ARGUMENTS_BAD => "CKR_ARGUMENTS_BAD",
        CKR_GENERAL_ERROR => "CKR_GENERAL_ERROR",
        CKR_CRYPTOKI_NOT_INITIALIZED => "CKR_CRYPTOKI_NOT_INITIALIZED",
        CKR_CRYPTOKI_ALREADY_INITIALIZED => "CKR_CRYPTOKI_ALREADY_INITIALIZED",
        CKR_SLOT_ID_INVALID => "CKR_SLOT_ID_INVALID",
        CKR_TOKEN_NOT_PRESENT => "CKR_TOKEN_NOT_PRESENT",
        CKR_TOKEN_NOT_RECOGNIZED => "CKR_TOKEN_NOT_RECOGNIZED",
        CKR_TOKEN_WRITE_PROTECTED => "CKR_TOKEN_WRITE_PROTECTED",
        CKR_SESSION_HANDLE_INVALID => "CKR_SESSION_HANDLE_INVALID",
        CKR_SESSION_PARALLEL_NOT_SUPPORTED => "CKR_SESSION_PARALLEL_NOT_SUPPORTED",
        CKR_SESSION_READ_ONLY => "CKR_SESSION_READ_ONLY",
        CKR_SESSION_READ_ONLY_EXISTS => "CKR_SESSION_READ_ONLY_EXISTS",
        CKR_SESSION_READ_WRITE_SO_EXISTS => "CKR_SESSION_READ_WRITE_SO_EXISTS",
        CKR_OBJECT_HANDLE_INVALID => "CKR_OBJECT_HANDLE_INVALID",
        CKR_KEY_HANDLE_INVALID => "CKR_KEY_HANDLE_INVALID",
        CKR_KEY_TYPE_INCONSISTENT => "CKR_KEY_TYPE_INCONSISTENT",
        CKR_MECHANISM_INVALID => "CKR_MECHANISM_INVALID",
        CKR_MECHANISM_PARAM_INVALID => "CKR_MECHANISM_PARAM_INVALID",
        CKR_OPERATION_ACTIVE => "CKR_OPERATION_ACTIVE",
        CKR_OPERATION_NOT_INITIALIZED => "CKR_OPERATION_NOT_INITIALIZED",
        CKR_USER_NOT_LOGGED_IN => "CKR_USER_NOT_LOGGED_IN",
        CKR_USER_ALREADY_LOGGED_IN => "CKR_USER_ALREADY_LOGGED_IN",
        CKR_USER_ANOTHER_ALREADY_LOGGED_IN => "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
        CKR_USER_TYPE_INVALID => "CKR_USER_TYPE_INVALID",
        CKR_USER_PIN_NOT_INITIALIZED => "CKR_USER_PIN_NOT_INITIALIZED",
        CKR_PIN_INCORRECT => "CKR_PIN_INCORRECT",
        CKR_PIN_INVALID => "CKR_PIN_INVALID",
        CKR_PIN_LOCKED => "CKR_PIN_LOCKED",
        CKR_PIN_LEN_RANGE => "CKR_PIN_LEN_RANGE",
        CKR_DATA_LEN_RANGE => "CKR_DATA_LEN_RANGE",
        CKR_DATA_INVALID => "CKR_DATA_INVALID",
        CKR_ENCRYPTED_DATA_LEN_RANGE => "CKR_ENCRYPTED_DATA_LEN_RANGE",
        CKR_ENCRYPTED_DATA_INVALID => "CKR_ENCRYPTED_DATA_INVALID",
        CKR_SIGNATURE_INVALID => "CKR_SIGNATURE_INVALID",
        CKR_SIGNATURE_LEN_RANGE => "CKR_SIGNATURE_LEN_RANGE",
        CKR_BUFFER_TOO_SMALL => "CKR_BUFFER_TOO_SMALL",
        CKR_ATTRIBUTE_TYPE_INVALID => "CKR_ATTRIBUTE_TYPE_INVALID",
        CKR_ATTRIBUTE_SENSITIVE => "CKR_ATTRIBUTE_SENSITIVE",
        CKR_ATTRIBUTE_READ_ONLY => "CKR_ATTRIBUTE_READ_ONLY",
        CKR_ATTRIBUTE_VALUE_INVALID => "CKR_ATTRIBUTE_VALUE_INVALID",
        CKR_ACTION_PROHIBITED => "CKR_ACTION_PROHIBITED",
        CKR_FUNCTION_NOT_SUPPORTED => "CKR_FUNCTION_NOT_SUPPORTED",
        CKR_FUNCTION_CANCELED => "CKR_FUNCTION_CANCELED",
        CKR_TEMPLATE_INCONSISTENT => "CKR_TEMPLATE_INCONSISTENT",
        CKR_RANDOM_SEED_NOT_SUPPORTED => "CKR_RANDOM_SEED_NOT_SUPPORTED",
        CKR_FUNCTION_NOT_PARALLEL => "CKR_FUNCTION_NOT_PARALLEL",
        CKR_NO_EVENT => "CKR_NO_EVENT",
        CKR_DEVICE_ERROR => "CKR_DEVICE_ERROR",
        CKR_DEVICE_REMOVED => "CKR_DEVICE_REMOVED",
        _ => return format!("CKR_{rv:#x}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::StatusWord;

    /// Every p11 error variant with its CKR (`docs/errors.md` is generated from it).
    fn error_table() -> Vec<(Error, CK_RV)> {
        vec![
            (Error::ArgumentsBad, CKR_ARGUMENTS_BAD),
            (Error::NotInitialized, CKR_CRYPTOKI_NOT_INITIALIZED),
            (Error::AlreadyInitialized, CKR_CRYPTOKI_ALREADY_INITIALIZED),
            (Error::SlotIdInvalid(9), CKR_SLOT_ID_INVALID),
            (Error::TokenNotPresent, CKR_TOKEN_NOT_PRESENT),
            (Error::TokenNotRecognized, CKR_TOKEN_NOT_RECOGNIZED),
            (Error::TokenWriteProtected, CKR_TOKEN_WRITE_PROTECTED),
            (Error::SessionHandleInvalid(1), CKR_SESSION_HANDLE_INVALID),
            (
                Error::SessionParallelNotSupported,
                CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            ),
            (Error::SessionReadOnly, CKR_SESSION_READ_ONLY),
            (Error::SessionReadOnlyExists, CKR_SESSION_READ_ONLY_EXISTS),
            (
                Error::SessionReadWriteSoExists,
                CKR_SESSION_READ_WRITE_SO_EXISTS,
            ),
            (Error::ObjectHandleInvalid(1), CKR_OBJECT_HANDLE_INVALID),
            (Error::KeyHandleInvalid(1), CKR_KEY_HANDLE_INVALID),
            (Error::KeyTypeInconsistent, CKR_KEY_TYPE_INCONSISTENT),
            (Error::MechanismInvalid(1), CKR_MECHANISM_INVALID),
            (Error::MechanismParamInvalid, CKR_MECHANISM_PARAM_INVALID),
            (Error::OperationActive, CKR_OPERATION_ACTIVE),
            (
                Error::OperationNotInitialized,
                CKR_OPERATION_NOT_INITIALIZED,
            ),
            (Error::UserNotLoggedIn, CKR_USER_NOT_LOGGED_IN),
            (Error::UserAlreadyLoggedIn, CKR_USER_ALREADY_LOGGED_IN),
            (
                Error::UserAnotherAlreadyLoggedIn,
                CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
            ),
            (Error::UserTypeInvalid(7), CKR_USER_TYPE_INVALID),
            (Error::UserPinNotInitialized, CKR_USER_PIN_NOT_INITIALIZED),
            (Error::PinIncorrect, CKR_PIN_INCORRECT),
            (Error::PinLocked, CKR_PIN_LOCKED),
            (Error::PinLenRange, CKR_PIN_LEN_RANGE),
            (Error::DataLenRange, CKR_DATA_LEN_RANGE),
            (Error::DataInvalid, CKR_DATA_INVALID),
            (Error::EncryptedDataLenRange, CKR_ENCRYPTED_DATA_LEN_RANGE),
            (Error::EncryptedDataInvalid, CKR_ENCRYPTED_DATA_INVALID),
            (Error::SignatureInvalid, CKR_SIGNATURE_INVALID),
            (Error::SignatureLenRange, CKR_SIGNATURE_LEN_RANGE),
            (Error::BufferTooSmall, CKR_BUFFER_TOO_SMALL),
            (Error::AttributeTypeInvalid, CKR_ATTRIBUTE_TYPE_INVALID),
            (Error::AttributeSensitive, CKR_ATTRIBUTE_SENSITIVE),
            (Error::AttributeReadOnly, CKR_ATTRIBUTE_READ_ONLY),
            (Error::AttributeValueInvalid, CKR_ATTRIBUTE_VALUE_INVALID),
            (Error::ActionProhibited, CKR_ACTION_PROHIBITED),
            (Error::FunctionNotSupported, CKR_FUNCTION_NOT_SUPPORTED),
            (Error::TemplateInconsistent, CKR_TEMPLATE_INCONSISTENT),
            (Error::RandomSeedNotSupported, CKR_RANDOM_SEED_NOT_SUPPORTED),
            (Error::FunctionNotParallel, CKR_FUNCTION_NOT_PARALLEL),
            (Error::NoEvent, CKR_NO_EVENT),
            (Error::DeviceError("x"), CKR_DEVICE_ERROR),
            (Error::Internal("x"), CKR_GENERAL_ERROR),
            // Decided by the card layer without card I/O (cpx::Refusal, cpx::Missing).
            (Error::Refused(Refusal::InputLength), CKR_DATA_LEN_RANGE),
            (Error::Refused(Refusal::InputForm), CKR_DATA_INVALID),
            (
                Error::Refused(Refusal::KeyCannot),
                CKR_KEY_TYPE_INCONSISTENT,
            ),
            (Error::Refused(Refusal::PinLength), CKR_PIN_LEN_RANGE),
            (Error::Refused(Refusal::ReadOnly), CKR_ATTRIBUTE_READ_ONLY),
            (Error::Missing(Missing::Key), CKR_KEY_HANDLE_INVALID),
            (
                Error::Missing(Missing::UserPin),
                CKR_USER_PIN_NOT_INITIALIZED,
            ),
            (Error::Missing(Missing::Puk), CKR_USER_TYPE_INVALID),
            (
                Error::Missing(Missing::DataObject),
                CKR_OBJECT_HANDLE_INVALID,
            ),
        ]
    }

    /// Every card-layer error with the CKR it becomes when no call overrides it.
    fn card_error_table() -> Vec<(CardError, CK_RV)> {
        let t = |e: TransportError| CardError::Transport(e);
        vec![
            (t(TransportError::NoReader), CKR_TOKEN_NOT_PRESENT),
            (t(TransportError::NoCard), CKR_TOKEN_NOT_PRESENT),
            (t(TransportError::Removed), CKR_TOKEN_NOT_PRESENT),
            (t(TransportError::NoService), CKR_TOKEN_NOT_PRESENT),
            (t(TransportError::Reset), CKR_USER_NOT_LOGGED_IN),
            (t(TransportError::Timeout), CKR_DEVICE_ERROR),
            (t(TransportError::Sharing), CKR_DEVICE_ERROR),
            (t(TransportError::Io("x".into())), CKR_DEVICE_ERROR),
            (CardError::PinIncorrect { tries_left: 2 }, CKR_PIN_INCORRECT),
            (CardError::PinBlocked, CKR_PIN_LOCKED),
            (CardError::SecurityNotSatisfied, CKR_USER_NOT_LOGGED_IN),
            (CardError::ConditionsNotSatisfied, CKR_KEY_TYPE_INCONSISTENT),
            (CardError::FileNotFound, CKR_DEVICE_ERROR),
            (CardError::WrongLength, CKR_DATA_LEN_RANGE),
            (
                CardError::Status(StatusWord::Other(0x6F00)),
                CKR_DEVICE_ERROR,
            ),
            (
                CardError::Status(StatusWord::IncorrectData),
                CKR_DATA_INVALID,
            ),
            (CardError::Status(StatusWord::WrongP1P2), CKR_DATA_INVALID),
            (CardError::Malformed("x"), CKR_DEVICE_ERROR),
            (
                CardError::UnsupportedCard { atr: vec![] },
                CKR_TOKEN_NOT_RECOGNIZED,
            ),
            (
                CardError::LegacyCps2ter { atr: vec![] },
                CKR_TOKEN_NOT_RECOGNIZED,
            ),
            (CardError::PinEntryCancelled, CKR_FUNCTION_CANCELED),
            (CardError::PinEntryInvalid, CKR_PIN_INVALID),
            (CardError::ResetDuringCommand, CKR_DEVICE_ERROR),
            (t(TransportError::Unsupported), CKR_FUNCTION_NOT_SUPPORTED),
        ]
    }

    #[test]
    fn every_variant_maps() {
        for (e, rv) in &error_table() {
            assert_eq!(e.rv(), *rv, "{e:?}");
        }
    }

    #[test]
    fn every_card_error_maps() {
        for (e, rv) in card_error_table() {
            assert_eq!(Error::Card(e.clone()).rv(), rv, "{e:?}");
        }
    }

    /// The markdown of `docs/errors.md`, from the two tables.
    fn errors_doc() -> String {
        let mut s = String::from(
            "# Errors and return codes\n\n\
             Generated from the tables of `src/p11/error.rs` (tests `every_variant_maps`,\n\
             `every_card_error_maps`); regenerate with\n\
             `CPX_UPDATE_DOCS=1 cargo test --features sim --lib errors_doc`.\n\n\
             ## Decided by the PKCS#11 layer\n\n| error | CK_RV |\n|---|---|\n",
        );
        for (e, rv) in error_table() {
            s.push_str(&format!("| {e} | `{}` |\n", rv_name(rv)));
        }
        s.push_str(
            "\n## Card errors (unless a call maps them otherwise, e.g. a missing file while \
             binding is CKR_TOKEN_NOT_RECOGNIZED)\n\n| card error | CK_RV |\n|---|---|\n",
        );
        for (e, rv) in card_error_table() {
            s.push_str(&format!("| {e} | `{}` |\n", rv_name(rv)));
        }
        s
    }

    /// docs/errors.md must match the tables: a change of mapping shows up in the docs.
    #[test]
    fn errors_doc_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/errors.md");
        let doc = errors_doc();
        if std::env::var_os("CPX_UPDATE_DOCS").is_some() {
            std::fs::write(path, &doc).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == doc,
            "docs/errors.md is stale: CPX_UPDATE_DOCS=1 cargo test --features sim --lib errors_doc"
        );
    }
}
