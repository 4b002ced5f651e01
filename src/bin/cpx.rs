//! `cpx`: command-line tool for people and support desks (readers, card info, objects, PIN
//! status). Grows with the module.

fn main() {
    println!("cpx {}", env!("CARGO_PKG_VERSION"));
}
