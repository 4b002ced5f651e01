//! General-purpose, slot and token functions (PKCS#11 2.40 §5.4–5.5) and the 3.0
//! interface functions (PKCS#11 3.0 §5.4).

use super::lists::{FUNCTION_LIST, INTERFACES};
use super::out::{self, pad};
use super::{with_module, Global};
use crate::config::Config;
use crate::p11::{Error, Module, Result};
use crate::transport::{readers_from_config, Readers};
use cryptoki_sys::*;

const NO_VERSION: CK_VERSION = CK_VERSION { major: 0, minor: 0 };

/// The readers the module drives (`transport::readers_from_config`), and in a `sim` build
/// the handles of the simulated cards (for the control hook).
fn readers(config: &Config) -> Result<(Box<dyn Readers>, super::SimCards)> {
    let failed = |e: String| {
        log::error!("{e}");
        Error::Internal("CPX_SIM_CARDS names an unknown card")
    };
    #[cfg(feature = "sim")]
    if let Some(r) = crate::transport::sim_readers_from_config(config).map_err(failed)? {
        let cards = r.cards().into_iter().map(|(_, card)| card).collect();
        return Ok((Box::new(r), cards));
    }
    Ok((
        readers_from_config(config).map_err(failed)?,
        Default::default(),
    ))
}

entry!(
    /// C_Initialize (PKCS#11 2.40 §5.4): the four-way CK_C_INITIALIZE_ARGS table; we
    /// always lock with our own mutex. A non-NULL pReserved (p11-kit `x-init-reserved`,
    /// Cryptolib keywords) is logged and ignored (cryptolib-compat §12). After a fork the
    /// child starts afresh (the parent's state is leaked, never touched).
    fn C_Initialize(p_init_args: CK_VOID_PTR) {
        // SAFETY: a non-NULL argument points to a CK_C_INITIALIZE_ARGS (spec §5.4).
        let args = unsafe { out::read(p_init_args as *const CK_C_INITIALIZE_ARGS) };
        let config = Config::from_env();
        crate::log::init(&config);
        if let Some(a) = args {
            let fns = [
                a.CreateMutex.is_some(),
                a.DestroyMutex.is_some(),
                a.LockMutex.is_some(),
                a.UnlockMutex.is_some(),
            ];
            if fns.iter().any(|&x| x) && !fns.iter().all(|&x| x) {
                return Err(Error::ArgumentsBad);
            }
            if !a.pReserved.is_null() {
                log::debug!("C_Initialize: non-NULL pReserved ignored");
            }
            log::debug!(
                "C_Initialize: flags {:#x}, mutex functions {}",
                a.flags,
                fns[0]
            );
        }
        let mut g = super::lock();
        let pid = std::process::id();
        if let Some(old) = g.take() {
            if old.pid == pid {
                *g = Some(old);
                log::info!(
                    "C_Initialize while initialized: this process loads the module twice \
                     (e.g. directly and through p11-kit-proxy); the first loader keeps serving \
                     the card, this one gets CKR_CRYPTOKI_ALREADY_INITIALIZED (PKCS#11 §5.4)"
                );
                return Err(Error::AlreadyInitialized);
            }
            log::info!("C_Initialize after fork: dropping the parent's state unused");
            std::mem::forget(old);
        }
        let (readers, sim) = readers(&config)?;
        let mut module = Module::new(readers);
        module.pin_cache = config.pin_cache;
        module.card_cache = crate::cpx::cache::CardCache::from_settings(&config.cache);
        // Re-list readers at most every 100 ms (pcscd itself polls cards every 400 ms).
        module.scan_ttl = std::time::Duration::from_millis(100);
        *g = Some(Global { module, pid, sim });
        Ok(())
    }
);

entry!(
    /// C_Finalize (PKCS#11 2.40 §5.4): pReserved must be NULL. Clears a poisoned lock.
    fn C_Finalize(p_reserved: CK_VOID_PTR) {
        if !p_reserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let mut g = super::lock();
        match g.take() {
            Some(old) if old.pid == std::process::id() => Ok(()),
            Some(old) => {
                std::mem::forget(old);
                Err(Error::NotInitialized)
            }
            None => Err(Error::NotInitialized),
        }
    }
);

entry!(
    /// C_GetInfo (PKCS#11 2.40 §5.4): Cryptoki 2.40, our own strings (cryptolib-compat §3).
    fn C_GetInfo(p_info: CK_INFO_PTR) {
        with_module(|_| Ok(()))?;
        let info = CK_INFO {
            cryptokiVersion: CK_VERSION {
                major: 2,
                minor: 40,
            },
            manufacturerID: pad("cpx-pkcs11 project"),
            flags: 0,
            libraryDescription: pad("cpx-pkcs11 CPx PKCS#11 module"),
            libraryVersion: CK_VERSION {
                major: env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0),
                minor: env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0),
            },
        };
        // SAFETY: p_info points to a CK_INFO (spec §5.4).
        unsafe { out::write(p_info, info) }
    }
);

entry!(
    /// C_GetFunctionList (PKCS#11 2.40 §5.4): the static 2.40 list; no initialisation
    /// needed.
    fn C_GetFunctionList(pp_function_list: CK_FUNCTION_LIST_PTR_PTR) {
        let list = &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST;
        // SAFETY: the argument points to a writable CK_FUNCTION_LIST_PTR (spec §5.4).
        unsafe { out::write(pp_function_list, list) }
    }
);

entry!(
    /// C_GetInterfaceList (PKCS#11 3.0 §5.4): "PKCS 11" 3.0, then "PKCS 11" 2.40.
    fn C_GetInterfaceList(p_interfaces_list: CK_INTERFACE_PTR, pul_count: CK_ULONG_PTR) {
        // SAFETY: spec §5.4 length protocol: pul_count is a CK_ULONG, the list has room
        // for *pul_count interfaces when non-NULL.
        unsafe { out::out_list(&INTERFACES.snapshot(), p_interfaces_list, pul_count) }
    }
);

entry!(
    /// C_GetInterface (PKCS#11 3.0 §5.4): by name (NULL = default), version (NULL = any)
    /// and flags (must be offered). No match → CKR_ARGUMENTS_BAD.
    fn C_GetInterface(
        p_interface_name: CK_UTF8CHAR_PTR,
        p_version: CK_VERSION_PTR,
        pp_interface: CK_INTERFACE_PTR_PTR,
        flags: CK_FLAGS,
    ) {
        if pp_interface.is_null() {
            return Err(Error::ArgumentsBad);
        }
        // SAFETY: a non-NULL name is NUL-terminated (spec §5.4).
        let name = unsafe { out::c_string(p_interface_name) };
        // SAFETY: a non-NULL version points to a CK_VERSION.
        let version = unsafe { out::read(p_version as *const CK_VERSION) };
        let found = INTERFACES
            .snapshot()
            .iter()
            .zip(INTERFACE_VERSIONS)
            .position(|(i, v)| {
                name.as_deref().map_or(true, |n| n == b"PKCS 11")
                    && version.map_or(true, |w| w.major == v.major && w.minor == v.minor)
                    && flags & !i.flags == 0
            });
        let p = INTERFACES.ptr(found.ok_or(Error::ArgumentsBad)?);
        // SAFETY: pp_interface is non-NULL and writable (spec §5.4).
        unsafe { out::write(pp_interface, p) }
    }
);

/// Versions of the lists in `INTERFACES`, in the same order.
const INTERFACE_VERSIONS: [CK_VERSION; 2] = [
    CK_VERSION { major: 3, minor: 0 },
    CK_VERSION {
        major: 2,
        minor: 40,
    },
];

entry!(
    /// C_GetSlotList (PKCS#11 2.40 §5.5): re-scans readers; one slot per reader, IDs
    /// stable per reader name (cryptolib-compat §4).
    fn C_GetSlotList(
        token_present: CK_BBOOL,
        p_slot_list: CK_SLOT_ID_PTR,
        pul_count: CK_ULONG_PTR,
    ) {
        let ids = with_module(|m| Ok(m.slot_list(token_present != CK_FALSE)))?;
        // SAFETY: spec §5.5 length protocol.
        unsafe { out::out_list(&ids, p_slot_list, pul_count) }
    }
);

entry!(
    /// C_GetSlotInfo (PKCS#11 2.40 §5.5): reader name, removable hardware slot.
    fn C_GetSlotInfo(slot_id: CK_SLOT_ID, p_info: CK_SLOT_INFO_PTR) {
        let s = with_module(|m| m.slot_info(slot_id))?;
        let info = CK_SLOT_INFO {
            slotDescription: pad(&s.description),
            manufacturerID: pad(""),
            flags: s.flags,
            hardwareVersion: NO_VERSION,
            firmwareVersion: NO_VERSION,
        };
        // SAFETY: p_info points to a CK_SLOT_INFO (spec §5.5).
        unsafe { out::write(p_info, info) }
    }
);

entry!(
    /// C_GetTokenInfo (PKCS#11 2.40 §5.5, cryptolib-compat §5): label, model, serial as
    /// the Cryptolib shows them; PIN flags from live counters.
    fn C_GetTokenInfo(slot_id: CK_SLOT_ID, p_info: CK_TOKEN_INFO_PTR) {
        let t = with_module(|m| m.token_info(slot_id))?;
        let info = CK_TOKEN_INFO {
            label: pad(&t.label),
            manufacturerID: pad(&t.manufacturer),
            model: pad(&t.model),
            serialNumber: pad(&t.serial),
            flags: t.flags,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: t.sessions as CK_ULONG,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: t.rw_sessions as CK_ULONG,
            ulMaxPinLen: t.max_pin as CK_ULONG,
            ulMinPinLen: t.min_pin as CK_ULONG,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: NO_VERSION,
            firmwareVersion: NO_VERSION,
            utcTime: [b' '; 16],
        };
        // SAFETY: p_info points to a CK_TOKEN_INFO (spec §5.5).
        unsafe { out::write(p_info, info) }
    }
);

entry!(
    /// C_WaitForSlotEvent (PKCS#11 2.40 §5.5). With CKF_DONT_BLOCK: the slot of a card
    /// inserted, removed or swapped or of a reader that arrived since the last report, else
    /// CKR_NO_EVENT. Without it: the same, waiting for such an event outside the module's
    /// lock (every other call goes on meanwhile); C_Finalize from another thread wakes the
    /// waiter, which then answers CKR_CRYPTOKI_NOT_INITIALIZED (how NSS stops its thread).
    fn C_WaitForSlotEvent(flags: CK_FLAGS, p_slot: CK_SLOT_ID_PTR, _p_reserved: CK_VOID_PTR) {
        if p_slot.is_null() {
            with_module(|_| Ok(()))?;
            return Err(Error::ArgumentsBad);
        }
        let id = if flags & CKF_DONT_BLOCK != 0 {
            with_module(|m| m.poll_slot_event())?
        } else {
            wait_for_slot_event()?
        };
        // SAFETY: p_slot is non-NULL and points to a CK_SLOT_ID (spec §5.5).
        unsafe { out::write(p_slot, id) }
    }
);

/// The blocking C_WaitForSlotEvent: poll under the lock; if nothing happened, wait for the
/// readers to change without the lock, then poll again.
fn wait_for_slot_event() -> Result<CK_SLOT_ID> {
    use crate::transport::WaitError;
    const STEP: std::time::Duration = std::time::Duration::from_millis(500);
    let mut watch = None;
    let outcome = loop {
        let polled = with_module(|m| {
            let event = match m.poll_slot_event() {
                Ok(id) => return Ok(Ok(id)),
                Err(Error::NoEvent) => m.listing().to_vec(),
                Err(e) => return Err(e),
            };
            if watch.is_none() {
                watch = Some(m.slot_watch()?);
            }
            Ok(Err(event))
        });
        let known = match polled {
            Ok(Ok(id)) => break Ok(id),
            Ok(Err(known)) => known,
            Err(e) => break Err(e),
        };
        let Some((_, w)) = watch.as_mut() else {
            break Err(Error::Internal("no reader watch"));
        };
        match w.wait(&known, STEP) {
            Ok(()) => {}
            Err(WaitError::Cancelled) => break Err(Error::NotInitialized),
            Err(WaitError::Unavailable(e)) => {
                // No PC/SC service (pcscd restarting): a new watch in a moment.
                log::debug!("C_WaitForSlotEvent: readers not watchable: {e}");
                if let Some((id, _)) = watch.take() {
                    let _ = with_module(|m| {
                        m.end_watch(id);
                        Ok(())
                    });
                }
                std::thread::sleep(STEP);
            }
        }
    };
    if let Some((id, _)) = watch {
        // The module may be gone (C_Finalize): nothing to forget then.
        let _ = with_module(|m| {
            m.end_watch(id);
            Ok(())
        });
    }
    outcome
}

entry!(
    /// C_GetMechanismList (PKCS#11 2.40 §5.5): per card generation (cryptolib-compat §7.1).
    fn C_GetMechanismList(
        slot_id: CK_SLOT_ID,
        p_mechanism_list: CK_MECHANISM_TYPE_PTR,
        pul_count: CK_ULONG_PTR,
    ) {
        let list = with_module(|m| m.mechanism_list(slot_id))?;
        // SAFETY: spec §5.5 length protocol.
        unsafe { out::out_list(&list, p_mechanism_list, pul_count) }
    }
);

entry!(
    /// C_GetMechanismInfo (PKCS#11 2.40 §5.5): key sizes and flags per generation.
    fn C_GetMechanismInfo(
        slot_id: CK_SLOT_ID,
        ty: CK_MECHANISM_TYPE,
        p_info: CK_MECHANISM_INFO_PTR,
    ) {
        let info = with_module(|m| m.mechanism_info(slot_id, ty))?;
        // SAFETY: p_info points to a CK_MECHANISM_INFO (spec §5.5).
        unsafe { out::write(p_info, info) }
    }
);
