//! cpx-pkcs11: a PKCS#11 module for the French health-professional CPx smart cards.
//!
//! Layers (calls go down only): `abi → p11 → cpx → apdu → transport`. Only `abi` holds
//! `unsafe` code; the card simulator (`sim`) exists only with the `sim` feature.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod apdu;
pub mod cpx;
pub mod transport;

#[cfg(feature = "sim")]
pub mod sim;
