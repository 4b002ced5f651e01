//! `cpx certs`: each certificate's holder, issuer, validity and days left (a warning within
//! 90 days of expiry, an error once expired), and the export of one certificate as PEM or
//! DER.

use cpx_pkcs11::cpx::{CertInfo, KeyRole, TokenContents};

use crate::cli::{EXIT_OK, EXIT_PROBLEM, EXIT_WARNING};
use crate::json::Json;
use crate::report::{self, cert_json_members, cert_view, field, hex, label, Validity};

/// The exit status for these certificates at `now`: expired (or not yet valid) → problem,
/// expiring within 90 days → warning.
pub fn exit_code(c: &TokenContents, now: i64) -> u8 {
    let mut code = EXIT_OK;
    for cert in &c.certs {
        let Ok(v) = cert_view(cert) else {
            return EXIT_PROBLEM;
        };
        match Validity::at(&v, now) {
            Validity::Expired { .. } | Validity::NotYetValid => return EXIT_PROBLEM,
            Validity::ExpiresSoon { .. } => code = EXIT_WARNING,
            Validity::Valid { .. } => {}
        }
    }
    code
}

pub fn text(reader: &str, c: &TokenContents, now: i64) -> String {
    let mut out = String::new();
    let w = 18;
    field(&mut out, 0, w, &label("Lecteur", "Reader"), reader);
    let token = tr!("{} (numéro {})", "{} (serial {})", c.label, c.serial);
    field(&mut out, 0, w, &label("Jeton", "Token"), &token);
    for cert in &c.certs {
        let ca = if cert.authority { " [CA]" } else { "" };
        out.push('\n');
        out.push_str(&format!("{}{ca}\n", cert.label));
        match cert_view(cert) {
            Ok(v) => {
                let validity = Validity::at(&v, now);
                field(&mut out, 2, w, &label("Titulaire", "Holder"), &v.holder);
                field(&mut out, 2, w, &label("Sujet", "Subject"), &v.subject);
                field(&mut out, 2, w, &label("Émetteur", "Issuer"), &v.issuer_cn);
                let from = report::utc(v.not_before);
                let to = report::utc(v.not_after);
                let range = tr!("du {from} au {to}", "from {from} to {to}");
                field(&mut out, 2, w, &label("Validité", "Validity"), &range);
                let days = validity.days_left(&v, now).to_string();
                field(&mut out, 2, w, &label("Jours restants", "Days left"), &days);
                field(&mut out, 2, w, &label("État", "Status"), &validity.text());
            }
            Err(e) => out.push_str(&format!(
                "  {}\n",
                tr!("(illisible : {e})", "(does not parse: {e})")
            )),
        }
    }
    out
}

pub fn json(reader: &str, c: &TokenContents, now: i64) -> Json {
    let certs = c
        .certs
        .iter()
        .map(|cert| {
            let mut m = vec![
                ("label", Json::str(&cert.label)),
                ("id", Json::str(hex(&cert.id))),
                ("authority", Json::Bool(cert.authority)),
            ];
            match cert_view(cert) {
                Ok(v) => m.extend(cert_json_members(&v, now)),
                Err(e) => m.push(("error", Json::str(e))),
            }
            Json::Obj(m)
        })
        .collect();
    Json::Obj(vec![
        ("reader", Json::str(reader)),
        ("label", Json::str(&c.label)),
        ("serial", Json::str(&c.serial)),
        ("certificates", Json::Arr(certs)),
    ])
}

/// The certificate `which` names: `auth`, `sign`, `tech` (by the role of the key with the
/// same ID), or a label (case-insensitive) or a hex ID.
pub fn select<'a>(c: &'a TokenContents, which: &str) -> Result<&'a CertInfo, String> {
    let role = match which.to_ascii_lowercase().as_str() {
        "auth" | "authentication" | "authentification" => Some(KeyRole::Authentication),
        "sign" | "signature" => Some(KeyRole::Signature),
        "tech" | "technical" | "technique" => Some(KeyRole::Technical),
        _ => None,
    };
    let found = match role {
        Some(role) => c
            .keys
            .iter()
            .filter(|k| k.role == role)
            .find_map(|k| c.certs.iter().find(|cert| cert.id == k.id)),
        None => c.certs.iter().find(|cert| {
            cert.label.eq_ignore_ascii_case(which) || hex(&cert.id).eq_ignore_ascii_case(which)
        }),
    };
    found.ok_or_else(|| {
        let labels: Vec<String> = c.certs.iter().map(|x| format!("{:?}", x.label)).collect();
        let labels = labels.join(", ");
        tr!(
            "aucun certificat « {which} » sur cette carte (auth, sign, tech, ou : {labels})",
            "no certificate '{which}' on this card (auth, sign, tech, or: {labels})"
        )
    })
}

/// PEM (RFC 7468) of a DER certificate.
pub fn pem(der: &[u8]) -> String {
    let b64 = base64(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain}");
        }
    }

    #[test]
    fn pem_lines_are_64_wide() {
        let p = pem(&[0u8; 100]);
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
    }
}
