//! Object functions (PKCS#11 2.40 §5.7): searches and attributes, served from memory.

use super::out;
use super::with_module;
use crate::p11::Error;
use cryptoki_sys::*;

entry!(
    /// C_FindObjectsInit (PKCS#11 2.40 §5.7): unknown attribute types match nothing;
    /// private objects are invisible before login.
    fn C_FindObjectsInit(
        h_session: CK_SESSION_HANDLE,
        p_template: CK_ATTRIBUTE_PTR,
        ul_count: CK_ULONG,
    ) {
        with_module(|m| {
            m.find_init_check(h_session)?;
            // SAFETY: p_template points to ul_count CK_ATTRIBUTEs (spec §5.7).
            let template =
                unsafe { out::read_template(p_template, ul_count, Error::ArgumentsBad) }?;
            m.find_init(h_session, &template)
        })
    }
);

entry!(
    /// C_FindObjects (PKCS#11 2.40 §5.7).
    fn C_FindObjects(
        h_session: CK_SESSION_HANDLE,
        ph_object: CK_OBJECT_HANDLE_PTR,
        ul_max_object_count: CK_ULONG,
        pul_object_count: CK_ULONG_PTR,
    ) {
        let found = with_module(|m| {
            m.session_check(h_session)?;
            if pul_object_count.is_null() || (ph_object.is_null() && ul_max_object_count > 0) {
                return Err(Error::ArgumentsBad);
            }
            let max = usize::try_from(ul_max_object_count).unwrap_or(usize::MAX);
            m.find_next(h_session, max)
        })?;
        let mut n = found.len() as CK_ULONG;
        // SAFETY: ph_object has room for ul_max_object_count ≥ found.len() handles and
        // pul_object_count points to a CK_ULONG (spec §5.7); out_list writes both.
        unsafe {
            if found.is_empty() {
                out::write(pul_object_count, 0)
            } else {
                let r = out::out_list(&found, ph_object, &mut n);
                out::write(pul_object_count, n)?;
                r
            }
        }
    }
);

entry!(
    /// C_FindObjectsFinal (PKCS#11 2.40 §5.7).
    fn C_FindObjectsFinal(h_session: CK_SESSION_HANDLE) {
        with_module(|m| m.find_final(h_session))
    }
);

entry!(
    /// C_GetAttributeValue (PKCS#11 2.40 §5.7, `style.md` §7): the whole template is
    /// always processed; SENSITIVE > TYPE_INVALID > BUFFER_TOO_SMALL > OK. Size queries
    /// never touch the card.
    fn C_GetAttributeValue(
        h_session: CK_SESSION_HANDLE,
        h_object: CK_OBJECT_HANDLE,
        p_template: CK_ATTRIBUTE_PTR,
        ul_count: CK_ULONG,
    ) {
        let values = with_module(|m| {
            m.object_check(h_session, h_object)?;
            // SAFETY: p_template points to ul_count CK_ATTRIBUTEs (spec §5.7).
            let types = unsafe { out::template_types(p_template, ul_count) }?;
            m.get_attributes(h_session, h_object, &types)
        })?;
        // SAFETY: as above, with writable pValue buffers of ulValueLen bytes.
        unsafe { out::fill_template(p_template, ul_count, &values) }
    }
);

entry!(
    /// C_SetAttributeValue (PKCS#11 2.40 §5.7, cryptolib-compat §8): CKA_VALUE of
    /// CPS_DATA only, in a R/W session.
    fn C_SetAttributeValue(
        h_session: CK_SESSION_HANDLE,
        h_object: CK_OBJECT_HANDLE,
        p_template: CK_ATTRIBUTE_PTR,
        ul_count: CK_ULONG,
    ) {
        with_module(|m| {
            m.object_check(h_session, h_object)?;
            // SAFETY: p_template points to ul_count CK_ATTRIBUTEs (spec §5.7).
            let template =
                unsafe { out::read_template(p_template, ul_count, Error::TemplateInconsistent) }?;
            m.set_attributes(h_session, h_object, &template)
        })
    }
);
