//! The only place that turns C pointers into Rust values (`style.md` §5): input slices,
//! the output-length protocol (PKCS#11 2.40 §5.2), attribute templates (§7 of the style
//! guide, PKCS#11 2.40 §5.7 C_GetAttributeValue), structures and padded strings.
//!
//! Every function taking a pointer is `unsafe`: its caller promises what the PKCS#11
//! specification promises us — a non-null pointer points to valid memory of the size the
//! accompanying length (or type) says, for the duration of the call.

use crate::p11::{Attr, AttrLookup, Error, Mechanism, Output, Result};
use cryptoki_sys::*;
use std::slice;

/// Upper bounds on what a caller's number may size (issue 7): anything larger is refused
/// before caller memory is read or anything is allocated.
/// A mechanism parameter (the largest we take, CK_RSA_PKCS_PSS_PARAMS, is 24 bytes).
pub(crate) const MAX_MECHANISM_PARAM: CK_ULONG = 512;
/// Entries of a template.
pub(crate) const MAX_TEMPLATE: CK_ULONG = 256;
/// One attribute value in a search or write template (CPS_DATA is a few hundred bytes).
pub(crate) const MAX_ATTRIBUTE_VALUE: CK_ULONG = 64 * 1024;
/// Input of one cryptographic call (data, signature, cryptogram, part).
pub(crate) const MAX_INPUT: CK_ULONG = 1 << 30;
/// A PIN or PUK (cards take at most 16 bytes).
pub(crate) const MAX_PIN: CK_ULONG = 64;
/// Random bytes in one C_GenerateRandom (8 bytes per GET CHALLENGE).
pub(crate) const MAX_RANDOM: CK_ULONG = 64 * 1024;

/// Input bytes (or template entries): null with `n > 0` → ArgumentsBad; null with `n = 0` →
/// empty; more than `max` elements → ArgumentsBad, without reading.
///
/// # Safety
/// Non-null `p` points to `n` readable `T`s that stay valid and unmodified for `'a`.
pub(crate) unsafe fn in_slice_max<'a, T>(
    p: *const T,
    n: CK_ULONG,
    max: CK_ULONG,
) -> Result<&'a [T]> {
    if p.is_null() {
        return if n == 0 {
            Ok(&[])
        } else {
            Err(Error::ArgumentsBad)
        };
    }
    if n > max {
        return Err(Error::ArgumentsBad);
    }
    let len = usize::try_from(n).map_err(|_| Error::ArgumentsBad)?;
    // SAFETY: p is non-null and, per the caller's contract, points to n readable Ts; n is
    // bounded by `max`, far below isize::MAX bytes.
    Ok(unsafe { slice::from_raw_parts(p, len) })
}

/// Input bytes of a cryptographic call, bounded by [`MAX_INPUT`] (see [`in_slice_max`]).
///
/// # Safety
/// As [`in_slice_max`].
pub(crate) unsafe fn in_slice<'a, T>(p: *const T, n: CK_ULONG) -> Result<&'a [T]> {
    // SAFETY: same contract as ours.
    unsafe { in_slice_max(p, n, MAX_INPUT) }
}

/// Input data that must be present (C_Sign/C_Encrypt/C_Verify/C_Decrypt data: a null
/// pointer is CKR_ARGUMENTS_BAD even with a zero length, as ANS's tests expect).
///
/// # Safety
/// As [`in_slice`].
pub(crate) unsafe fn in_data<'a>(p: *const u8, n: CK_ULONG) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: same contract as ours.
    unsafe { in_slice(p, n) }
}

/// The caller's output capacity: null `pul` → ArgumentsBad; null `p` → `None` (a length
/// query); else `Some(*pul)`.
///
/// # Safety
/// Non-null `pul` points to a readable `CK_ULONG`.
pub(crate) unsafe fn out_capacity(p: *const u8, pul: *const CK_ULONG) -> Result<Option<usize>> {
    if pul.is_null() {
        return Err(Error::ArgumentsBad);
    }
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: pul is non-null and points to a CK_ULONG (caller's contract).
    Ok(Some(unsafe { pul.read_unaligned() } as usize))
}

/// The length protocol for bytes: null `pul` → ArgumentsBad; null `p` → write the length,
/// OK; buffer too small → write the length, BufferTooSmall; else copy and write the length.
///
/// # Safety
/// Non-null `pul` points to a writable `CK_ULONG`; non-null `p` points to `*pul` writable
/// bytes.
pub(crate) unsafe fn out_bytes(data: &[u8], p: *mut u8, pul: *mut CK_ULONG) -> Result<()> {
    // SAFETY: caller's contract.
    let cap = unsafe { out_capacity(p, pul) }?;
    // SAFETY: pul checked non-null by out_capacity; writable per the caller's contract.
    unsafe { pul.write_unaligned(data.len() as CK_ULONG) };
    match cap {
        None => Ok(()),
        Some(c) if c < data.len() => Err(Error::BufferTooSmall),
        Some(_) => {
            // SAFETY: p is non-null with at least data.len() writable bytes (c ≥ len);
            // the caller's buffer cannot overlap our own `data`.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
            Ok(())
        }
    }
}

/// Writes an [`Output`] of the PKCS#11 layer with the length protocol.
///
/// # Safety
/// As [`out_bytes`].
pub(crate) unsafe fn put(output: Output, p: *mut u8, pul: *mut CK_ULONG) -> Result<()> {
    match output {
        // SAFETY: caller's contract.
        Output::Bytes(v) => unsafe { out_bytes(&v, p, pul) },
        Output::Len(n) => {
            if pul.is_null() {
                return Err(Error::ArgumentsBad);
            }
            // SAFETY: pul is non-null and writable (caller's contract).
            unsafe { pul.write_unaligned(n as CK_ULONG) };
            if p.is_null() {
                Ok(())
            } else {
                Err(Error::BufferTooSmall)
            }
        }
    }
}

/// The length protocol for arrays (slot lists, mechanism lists, interfaces).
///
/// # Safety
/// Non-null `pul` points to a writable `CK_ULONG`; non-null `p` points to `*pul` writable
/// elements of `T`.
pub(crate) unsafe fn out_list<T: Copy>(items: &[T], p: *mut T, pul: *mut CK_ULONG) -> Result<()> {
    if pul.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: pul is non-null and readable/writable (caller's contract).
    let cap = unsafe { pul.read_unaligned() } as usize;
    // SAFETY: as above.
    unsafe { pul.write_unaligned(items.len() as CK_ULONG) };
    if p.is_null() {
        return Ok(());
    }
    if cap < items.len() {
        return Err(Error::BufferTooSmall);
    }
    // SAFETY: p is non-null with room for cap ≥ items.len() elements (caller's contract).
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), p, items.len()) };
    Ok(())
}

/// Writes one value; null → ArgumentsBad.
///
/// # Safety
/// Non-null `p` points to writable memory for a `T`.
pub(crate) unsafe fn write<T>(p: *mut T, value: T) -> Result<()> {
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-null and writable per the caller's contract; unaligned write for safety
    // against C callers with packed structures.
    unsafe { p.write_unaligned(value) };
    Ok(())
}

/// Reads one value; `None` for null.
///
/// # Safety
/// Non-null `p` points to a readable `T`.
pub(crate) unsafe fn read<T: Copy>(p: *const T) -> Option<T> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-null and readable per the caller's contract.
        Some(unsafe { p.read_unaligned() })
    }
}

/// What stands for a PIN longer than [`MAX_PIN`]: longer than any card's PIN, so the PKCS#11
/// layer answers as for any over-long PIN (after its own session checks), and the caller's
/// buffer is not read.
static OVERLONG_PIN: [u8; MAX_PIN as usize + 1] = [b'0'; MAX_PIN as usize + 1];

/// A PIN argument: NULL → `None` (typed on the PIN pad); NULL is fine whatever the length.
///
/// # Safety
/// A non-NULL `p` with `n ≤ MAX_PIN` points to `n` readable bytes.
pub(crate) unsafe fn in_pin<'a>(p: *const u8, n: CK_ULONG) -> Option<&'a [u8]> {
    if p.is_null() {
        return None;
    }
    if n > MAX_PIN {
        return Some(&OVERLONG_PIN);
    }
    // SAFETY: p is non-null with n ≤ MAX_PIN readable bytes (caller's contract).
    Some(unsafe { slice::from_raw_parts(p, n as usize) })
}

/// The fixed-size part of a `CK_MECHANISM` (type, parameter pointer and length); `None` for
/// null. The parameter is not read.
///
/// # Safety
/// Non-null `p` points to a readable `CK_MECHANISM`.
pub(crate) unsafe fn mechanism_header(p: *const CK_MECHANISM) -> Option<CK_MECHANISM> {
    // SAFETY: caller's contract.
    unsafe { read(p) }
}

/// The mechanism with its parameter copied, once the module has accepted its type: a
/// parameterless mechanism with a parameter, a parameter longer than
/// [`MAX_MECHANISM_PARAM`] or a NULL parameter with a length → MechanismParamInvalid, read
/// nothing.
///
/// # Safety
/// When `takes_param` and `0 < ulParameterLen ≤ MAX_MECHANISM_PARAM`, a non-null
/// `pParameter` points to `ulParameterLen` readable bytes.
pub(crate) unsafe fn mechanism(m: &CK_MECHANISM, takes_param: bool) -> Result<Mechanism> {
    let n = m.ulParameterLen;
    if n == 0 {
        return Ok(Mechanism::new(m.mechanism));
    }
    if !takes_param || n > MAX_MECHANISM_PARAM {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: pParameter/ulParameterLen describe the parameter (caller's contract), n is
    // bounded.
    let param = unsafe { in_slice_max(m.pParameter as *const u8, n, MAX_MECHANISM_PARAM) }
        .map_err(|_| Error::MechanismParamInvalid)?;
    Ok(Mechanism {
        ty: m.mechanism,
        param: param.to_vec(),
    })
}

/// The template entries of C_FindObjectsInit / C_SetAttributeValue (type and value
/// copied): null with `n > 0` or more than [`MAX_TEMPLATE`] entries → `too_many`; a value
/// longer than [`MAX_ATTRIBUTE_VALUE`] or null with a length → AttributeValueInvalid.
///
/// # Safety
/// Non-null `p` points to `n` `CK_ATTRIBUTE`s whose `pValue` point to `ulValueLen` bytes.
pub(crate) unsafe fn read_template(
    p: *const CK_ATTRIBUTE,
    n: CK_ULONG,
    too_many: Error,
) -> Result<Vec<Attr>> {
    if p.is_null() && n > 0 {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: caller's contract; n is bounded.
    let entries = unsafe { in_slice_max(p, n, MAX_TEMPLATE) }.map_err(|_| too_many)?;
    entries
        .iter()
        .map(|a| {
            // SAFETY: pValue/ulValueLen describe the value (caller's contract), bounded.
            let v =
                unsafe { in_slice_max(a.pValue as *const u8, a.ulValueLen, MAX_ATTRIBUTE_VALUE) }
                    .map_err(|_| Error::AttributeValueInvalid)?;
            Ok(Attr::new(a.type_, v))
        })
        .collect()
}

/// The attribute types of a template.
///
/// # Safety
/// Non-null `p` points to `n` readable `CK_ATTRIBUTE`s.
pub(crate) unsafe fn template_types(
    p: *const CK_ATTRIBUTE,
    n: CK_ULONG,
) -> Result<Vec<CK_ATTRIBUTE_TYPE>> {
    // SAFETY: caller's contract; n is bounded.
    Ok(unsafe { in_slice_max(p, n, MAX_TEMPLATE) }?
        .iter()
        .map(|a| a.type_)
        .collect())
}

/// Applies C_GetAttributeValue's rules to every entry (`style.md` §7):
/// Sensitive/Invalid → CK_UNAVAILABLE_INFORMATION; null pValue → exact length; large
/// enough → copy + exact length; too small → CK_UNAVAILABLE_INFORMATION, nothing written.
/// Return precedence: SENSITIVE > TYPE_INVALID > BUFFER_TOO_SMALL > OK.
///
/// # Safety
/// Non-null `p` points to `n` writable `CK_ATTRIBUTE`s whose non-null `pValue` point to
/// `ulValueLen` writable bytes.
pub(crate) unsafe fn fill_template(
    p: *mut CK_ATTRIBUTE,
    n: CK_ULONG,
    values: &[AttrLookup],
) -> Result<()> {
    if p.is_null() {
        return if n == 0 {
            Ok(())
        } else {
            Err(Error::ArgumentsBad)
        };
    }
    if n > MAX_TEMPLATE {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-null, n writable entries (caller's contract); n is bounded.
    let entries = unsafe { slice::from_raw_parts_mut(p, n as usize) };
    let (mut sensitive, mut invalid, mut small) = (false, false, false);
    for (a, v) in entries.iter_mut().zip(values) {
        match v {
            AttrLookup::Sensitive => {
                a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                sensitive = true;
            }
            AttrLookup::Invalid => {
                a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                invalid = true;
            }
            AttrLookup::Value(bytes) => {
                if a.pValue.is_null() {
                    a.ulValueLen = bytes.len() as CK_ULONG;
                } else if (a.ulValueLen as usize) >= bytes.len() {
                    // SAFETY: pValue is non-null with ulValueLen ≥ bytes.len() writable
                    // bytes (caller's contract).
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            bytes.as_ptr(),
                            a.pValue as *mut u8,
                            bytes.len(),
                        )
                    };
                    a.ulValueLen = bytes.len() as CK_ULONG;
                } else {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    small = true;
                }
            }
        }
    }
    if sensitive {
        Err(Error::AttributeSensitive)
    } else if invalid {
        Err(Error::AttributeTypeInvalid)
    } else if small {
        Err(Error::BufferTooSmall)
    } else {
        Ok(())
    }
}

/// A NUL-terminated string (C_GetInterface's name); `None` for null.
///
/// # Safety
/// Non-null `p` points to a NUL-terminated string.
pub(crate) unsafe fn c_string(p: *const CK_UTF8CHAR) -> Option<Vec<u8>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated (caller's contract).
    Some(
        unsafe { std::ffi::CStr::from_ptr(p as *const std::ffi::c_char) }
            .to_bytes()
            .to_vec(),
    )
}

/// Blank-padded fixed-size field, truncated on a UTF-8 character boundary.
pub(crate) fn pad<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&s.as_bytes()[..end]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn pad_truncates_on_char_boundary() {
        assert_eq!(&pad::<8>("ab"), b"ab      ");
        // "é" is 2 bytes: 5 × é = 10 bytes, cut at 8 keeps 4 characters.
        let p = pad::<9>("ééééé");
        assert_eq!(&p[..8], "éééé".as_bytes());
        assert_eq!(p[8], b' ');
        assert_eq!(&pad::<4>("abcdef"), b"abcd");
    }

    #[test]
    fn length_protocol() {
        let mut len: CK_ULONG = 0;
        // SAFETY: test buffers and lengths are valid for the call.
        unsafe { out_bytes(b"abc", ptr::null_mut(), &mut len) }.unwrap();
        assert_eq!(len, 3);
        let mut buf = [0u8; 2];
        len = 2;
        assert!(matches!(
            // SAFETY: test buffers and lengths are valid for the call.
            unsafe { out_bytes(b"abc", buf.as_mut_ptr(), &mut len) },
            Err(Error::BufferTooSmall)
        ));
        assert_eq!((len, buf), (3, [0, 0]));
        let mut buf = [0u8; 4];
        len = 4;
        // SAFETY: test buffers and lengths are valid for the call.
        unsafe { out_bytes(b"abc", buf.as_mut_ptr(), &mut len) }.unwrap();
        assert_eq!((len, &buf[..3]), (3, &b"abc"[..]));
        assert!(matches!(
            // SAFETY: test buffers and lengths are valid for the call.
            unsafe { out_bytes(b"abc", buf.as_mut_ptr(), ptr::null_mut()) },
            Err(Error::ArgumentsBad)
        ));
        assert!(matches!(
            // SAFETY: test buffers and lengths are valid for the call.
            unsafe { in_slice(ptr::null::<u8>(), 1) },
            Err(Error::ArgumentsBad)
        ));
        // SAFETY: test buffers and lengths are valid for the call.
        assert_eq!(unsafe { in_slice(ptr::null::<u8>(), 0) }.unwrap(), b"");
        assert!(matches!(
            // SAFETY: test buffers and lengths are valid for the call.
            unsafe { in_data(ptr::null(), 0) },
            Err(Error::ArgumentsBad)
        ));
    }

    fn attr(ty: CK_ATTRIBUTE_TYPE, buf: &mut [u8]) -> CK_ATTRIBUTE {
        CK_ATTRIBUTE {
            type_: ty,
            pValue: buf.as_mut_ptr() as *mut _,
            ulValueLen: buf.len() as CK_ULONG,
        }
    }

    #[test]
    fn template_rules() {
        let mut a = [0u8; 4];
        let mut b = [0u8; 2];
        let mut c = [0u8; 8];
        let mut t = [
            attr(1, &mut a),
            attr(2, &mut b),
            attr(3, &mut c),
            CK_ATTRIBUTE {
                type_: 4,
                pValue: ptr::null_mut(),
                ulValueLen: 0,
            },
        ];
        let values = [
            AttrLookup::Value(b"abc".to_vec()),
            AttrLookup::Value(b"toolong".to_vec()),
            AttrLookup::Invalid,
            AttrLookup::Value(b"12345".to_vec()),
        ];
        // SAFETY: test buffers and lengths are valid for the call.
        let r = unsafe { fill_template(t.as_mut_ptr(), 4, &values) };
        assert!(matches!(r, Err(Error::AttributeTypeInvalid)));
        assert_eq!(t[0].ulValueLen, 3);
        assert_eq!(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(t[3].ulValueLen, 5);
        assert_eq!(&a[..3], b"abc");
        assert_eq!(b, [0, 0], "too small is not written");

        let mut d = [0u8; 1];
        let mut e = [0u8; 0];
        let mut t = [attr(1, &mut d), attr(2, &mut e)];
        let values = [AttrLookup::Value(b"xy".to_vec()), AttrLookup::Sensitive];
        // SAFETY: test buffers and lengths are valid for the call.
        let r = unsafe { fill_template(t.as_mut_ptr(), 2, &values) };
        assert!(matches!(r, Err(Error::AttributeSensitive)));
        let mut t = [attr(1, &mut d)];
        // SAFETY: test buffers and lengths are valid for the call.
        let r = unsafe { fill_template(t.as_mut_ptr(), 1, &values[..1]) };
        assert!(matches!(r, Err(Error::BufferTooSmall)));
    }

    #[test]
    fn lists() {
        let mut n: CK_ULONG = 0;
        // SAFETY: test buffers and lengths are valid for the call.
        unsafe { out_list(&[1u64, 2, 3], ptr::null_mut(), &mut n) }.unwrap();
        assert_eq!(n, 3);
        let mut buf = [0u64; 2];
        n = 2;
        assert!(matches!(
            // SAFETY: test buffers and lengths are valid for the call.
            unsafe { out_list(&[1u64, 2, 3], buf.as_mut_ptr(), &mut n) },
            Err(Error::BufferTooSmall)
        ));
        assert_eq!(n, 3);
    }
}
