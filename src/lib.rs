//! cpx-pkcs11: a PKCS#11 module for the French health-professional CPx smart cards.
//!
//! Layers (calls go down only): `abi → p11 → cpx → apdu → transport`. Only `abi` and the
//! `locked` leaf (locked memory for the kept PIN) hold `unsafe` code; the card simulator
//! (`sim`) exists only with the `sim` feature.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

#[allow(unsafe_code)]
mod abi;
pub mod apdu;
pub mod config;
pub mod cpx;
/// Locked, non-dumped memory for the kept PIN: four libc calls, each with its `SAFETY` line.
#[allow(unsafe_code)]
pub mod locked;
pub mod log;
pub mod p11;
pub mod soft;
pub mod transport;
pub mod x509;

#[cfg(feature = "sim")]
pub mod sim;
