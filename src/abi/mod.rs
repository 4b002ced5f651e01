//! L4: the C ABI — the only code with `extern "C"`, raw pointers, statics and
//! `catch_unwind` (`style.md` §5). Each entry point is one `entry!` line: the body runs
//! under [`guard`] and reaches the state through [`with_module`].

use crate::p11::error::rv_name;
use crate::p11::{Error, Module, Result};
use cryptoki_sys::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

/// Defines an exported PKCS#11 entry point whose body returns `p11::Result<()>`:
/// `Ok` → CKR_OK, `Err(e)` → `e.rv()`, a panic → CKR_GENERAL_ERROR.
macro_rules! entry {
    ($(#[$m:meta])* fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> CK_RV {
            $crate::abi::guard(stringify!($name), || -> $crate::p11::Result<()> { $body })
        }
    };
    // Reachable only through a function list (PKCS#11 3.0 additions): not exported.
    (hidden $(#[$m:meta])* fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        #[allow(non_snake_case)]
        pub(crate) unsafe extern "C" fn $name($($arg: $ty),*) -> CK_RV {
            $crate::abi::guard(stringify!($name), || -> $crate::p11::Result<()> { $body })
        }
    };
}

mod crypto;
mod general;
mod lists;
mod object;
mod out;
mod session;
#[cfg(feature = "sim")]
mod sim_control;
mod unsupported;

/// The simulated cards' handles, for the control hook of `sim` builds (nothing otherwise).
#[cfg(feature = "sim")]
use sim_control::SimCards;
#[cfg(not(feature = "sim"))]
type SimCards = ();

/// The module and the process that initialised it (fork detection).
struct Global {
    module: Module,
    pid: u32,
    /// The simulated cards (`CPX_SIM_CARDS`) the control hook acts on.
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    sim: SimCards,
}

/// The single global (`style.md` §3.5): one lock, held for the whole call.
static MODULE: Mutex<Option<Global>> = Mutex::new(None);

/// Runs a body: catches panics, maps errors, logs `C_Xxx -> CKR_…` at debug (routine
/// failures) or warn.
pub(crate) fn guard(name: &'static str, f: impl FnOnce() -> Result<()>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            log::debug!("{name} -> CKR_OK");
            CKR_OK
        }
        Ok(Err(e)) => {
            let rv = e.rv();
            if e.is_routine() {
                log::debug!("{name} -> {} ({e})", rv_name(rv));
            } else {
                log::warn!("{name} -> {} ({e})", rv_name(rv));
            }
            rv
        }
        Err(_) => {
            log::error!("{name} panicked -> CKR_GENERAL_ERROR");
            CKR_GENERAL_ERROR
        }
    }
}

/// The lock. A poisoned lock (a panic while holding it, outside [`with_module`]'s own
/// recovery) is recovered: the panicking call already answered CKR_GENERAL_ERROR, and the
/// state it may have left half-done is repaired ([`Module::recover_after_panic`]). One bad
/// call never makes every later call fail (`style.md` §5).
fn lock() -> MutexGuard<'static, Option<Global>> {
    MODULE.lock().unwrap_or_else(|poisoned| {
        log::error!("module lock poisoned by a panic: recovering");
        MODULE.clear_poison();
        let mut g = poisoned.into_inner();
        if let Some(global) = g.as_mut() {
            global.module.recover_after_panic();
        }
        g
    })
}

/// Runs `f` on the initialised module (of this process), else CKR_CRYPTOKI_NOT_INITIALIZED.
/// A panic inside `f` is caught here, while the lock is held: the module is repaired, the
/// lock released unpoisoned, and the panic goes on to [`guard`] (CKR_GENERAL_ERROR).
pub(crate) fn with_module<T>(f: impl FnOnce(&mut Module) -> Result<T>) -> Result<T> {
    let mut g = lock();
    let panic = match g.as_mut() {
        Some(global) if global.pid == std::process::id() => {
            match catch_unwind(AssertUnwindSafe(|| f(&mut global.module))) {
                Ok(r) => return r,
                Err(payload) => {
                    global.module.recover_after_panic();
                    payload
                }
            }
        }
        _ => return Err(Error::NotInitialized),
    };
    drop(g);
    std::panic::resume_unwind(panic)
}

#[cfg(all(test, feature = "sim"))]
mod tests;
