//! Shared pieces of the fuzz targets: a card whose every answer comes from the fuzz input
//! (and the recorder that turns a simulated card's session into such an input), and the
//! interpreter that turns an input into a sequence of PKCS#11 calls through the C ABI.

pub mod abi;
pub mod card;
