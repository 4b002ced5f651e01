//! Another application resetting the card (tests/e2e/live.sh): connects to READER in shared
//! mode and disconnects with SCARD_RESET_CARD, as billing software sometimes does.
//!
//! `pcsc-reset READER`

use pcsc::{Context, Disposition, Protocols, Scope, ShareMode};
use std::ffi::CString;

fn main() {
    let reader = std::env::args().nth(1).expect("usage: pcsc-reset READER");
    let ctx = Context::establish(Scope::User).expect("SCardEstablishContext");
    let name = CString::new(reader).expect("reader name");
    let card = ctx
        .connect(&name, ShareMode::Shared, Protocols::ANY)
        .expect("SCardConnect");
    card.disconnect(Disposition::ResetCard)
        .map_err(|(_, e)| e)
        .expect("SCardDisconnect(SCARD_RESET_CARD)");
    println!("reset");
}
