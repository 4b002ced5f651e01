//! L3: PKCS#11 semantics in safe Rust — no pointers, no statics (`style.md` §3).
//! `Module` is a plain struct over a `Readers`; the ABI layer holds the only global.

mod card_op;
mod checks;
mod crypto;
pub mod error;
mod login;
pub mod mechanism;
mod module;
pub mod object;
mod objects;
pub mod session;
pub mod slot;

#[cfg(all(test, feature = "sim"))]
mod test_util;
#[cfg(all(test, feature = "sim"))]
mod tests;
#[cfg(all(test, feature = "sim"))]
mod tests_cache;
#[cfg(all(test, feature = "sim"))]
mod tests_events;
#[cfg(all(test, feature = "sim"))]
mod tests_pin;
#[cfg(all(test, feature = "sim"))]
mod tests_profile;
#[cfg(all(test, feature = "sim"))]
mod tests_security;

pub use crypto::InitOp;
pub use error::{card_rv, Error, Result};
pub use mechanism::Mechanism;
pub use module::Module;
pub use object::{Attr, AttrLookup};
pub use session::Output;
pub use slot::{SlotInfo, TokenInfo};
