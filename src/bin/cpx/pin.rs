//! `cpx pin change` and `cpx pin unblock`: the PIN and PUK are read from the terminal
//! without echo (never from the command line; `--pin-stdin` reads them from standard input
//! for scripts), checked for length and digits before anything reaches the card, and sent
//! once: a wrong PIN costs exactly one try, and the tool says how many are left.

use std::io::BufRead;

use cpx_pkcs11::apdu::CardError;
use cpx_pkcs11::cpx::{CpxCard, CpxError, PinInfo};
use zeroize::Zeroizing;

use crate::card;
use crate::cli::{EXIT_ERROR, EXIT_OK};
use crate::json::Json;
use crate::report::{self, capitalize, Pin};

/// Where the codes come from.
pub enum Source {
    /// The controlling terminal (`/dev/tty`), without echo.
    Terminal,
    /// Standard input, one code per line.
    Stdin,
}

/// A secret typed by the user, wiped from memory when dropped.
type Secret = Zeroizing<String>;

fn read_secret(source: &Source, prompt: &str) -> Result<Secret, String> {
    match source {
        Source::Terminal => rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| {
                tr!(
                    "pas de terminal pour saisir le code ({e}) : dans un script, utilisez \
                     --pin-stdin",
                    "no terminal to type the code ({e}): in a script, use --pin-stdin"
                )
            }),
        Source::Stdin => {
            let mut line = Zeroizing::new(String::new());
            let n = std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                tr!(
                    "lecture de l'entrée standard : {e}",
                    "reading standard input: {e}"
                )
            })?;
            if n == 0 {
                return Err(tr!(
                    "entrée standard terminée avant tous les codes attendus",
                    "standard input ended before all the expected codes"
                ));
            }
            let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
            Ok(trimmed)
        }
    }
}

/// Length and digits as the card's AODF says (checked before the card sees anything, so a
/// typing mistake costs no try).
fn check_format(code: &str, info: Option<&PinInfo>, what: &str) -> Result<(), String> {
    let (min, max) = info.map_or((4, 8), |i| (i.min_len, i.max_len));
    let n = code.chars().count();
    if !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(tr!(
            "le {what} ne contient que des chiffres (rien n'a été envoyé à la carte)",
            "the {what} has digits only (nothing was sent to the card)"
        ));
    }
    if n < min || n > max {
        let len = if min == max {
            tr!("{min} chiffres", "{min} digits")
        } else {
            tr!("{min} à {max} chiffres", "{min} to {max} digits")
        };
        return Err(tr!(
            "le {what} a {len}, pas {n} (rien n'a été envoyé à la carte)",
            "the {what} has {len}, not {n} (nothing was sent to the card)"
        ));
    }
    Ok(())
}

fn pin_word() -> String {
    tr!("code porteur", "PIN")
}

fn puk_word() -> String {
    tr!("code de déblocage (PUK)", "unblocking code (PUK)")
}

/// Asks the new PIN twice (once with `--pin-stdin`).
fn read_new_pin(source: &Source, info: Option<&PinInfo>) -> Result<Secret, String> {
    let new = read_secret(source, &tr!("Nouveau code porteur : ", "New PIN: "))?;
    check_format(&new, info, &pin_word())?;
    if let Source::Terminal = source {
        let again = read_secret(
            source,
            &tr!("Nouveau code porteur (encore) : ", "New PIN (again): "),
        )?;
        if *again != *new {
            return Err(tr!(
                "les deux saisies du nouveau code diffèrent (rien n'a été envoyé à la carte)",
                "the two entries of the new PIN differ (nothing was sent to the card)"
            ));
        }
    }
    Ok(new)
}

/// The outcome of a change or unblock: what to print, the JSON, the exit status.
pub struct Outcome {
    pub text: String,
    pub json: Json,
    pub code: u8,
}

fn outcome(result: &str, message: String, pin: &Pin, code: u8) -> Outcome {
    let mut text = capitalize(&message);
    text.push('\n');
    if let Some(advice) = report::blocked_advice(pin) {
        text.push_str(&capitalize(&advice));
        text.push('\n');
    }
    let json = Json::Obj(vec![
        ("result", Json::str(result)),
        ("message", Json::str(&message)),
        ("pin", report::pin_json(pin)),
    ]);
    Outcome { text, json, code }
}

/// The counters after an operation (costs no try).
fn after(card: &mut CpxCard) -> Pin {
    card::read_pin(card)
}

fn left_text(pin: &Pin) -> String {
    match pin {
        Pin::Status(s) => {
            let t = report::tries(s.tries_left);
            let max = s.max_tries;
            tr!("{t} restant(s) sur {max}", "{t} left out of {max}")
        }
        other => report::pin_line(other),
    }
}

/// A refused code: how many tries are left, or what to do when none is.
fn wrong(card: &mut CpxCard, what: &str, e: &CpxError) -> Outcome {
    let pin = after(card);
    match e.card() {
        Some(CardError::PinIncorrect { tries_left }) if *tries_left > 0 => {
            let t = report::tries(*tries_left);
            outcome(
                "wrong_code",
                tr!("{what} incorrect : il reste {t}", "wrong {what}: {t} left"),
                &pin,
                EXIT_ERROR,
            )
        }
        Some(CardError::PinIncorrect { .. } | CardError::PinBlocked) => outcome(
            "blocked",
            tr!(
                "{what} incorrect : il est maintenant bloqué",
                "wrong {what}: it is now blocked"
            ),
            &pin,
            EXIT_ERROR,
        ),
        _ => outcome("error", card::card_error(e), &pin, EXIT_ERROR),
    }
}

/// `cpx pin change`: old PIN, new PIN twice, one CHANGE REFERENCE DATA (CPS4: VERIFY then
/// CHANGE) — a wrong old PIN costs one try.
pub fn change(card: &mut CpxCard, source: &Source) -> Result<Outcome, String> {
    let info = card.contents().user_pin.clone();
    let Some(info) = info else {
        return Err(tr!(
            "ce jeton n'a pas de code porteur",
            "this token has no user PIN"
        ));
    };
    let before = after(card);
    if before.blocked() {
        return Ok(outcome(
            "blocked",
            tr!("le code porteur est bloqué", "the PIN is blocked"),
            &before,
            EXIT_ERROR,
        ));
    }
    let old = read_secret(source, &tr!("Code porteur actuel : ", "Current PIN: "))?;
    check_format(&old, Some(&info), &pin_word())?;
    let new = read_new_pin(source, Some(&info))?;
    match card.change_pin(old.as_bytes(), new.as_bytes()) {
        Ok(()) => {
            let pin = after(card);
            let left = left_text(&pin);
            Ok(outcome(
                "changed",
                tr!("code porteur changé ({left})", "PIN changed ({left})"),
                &pin,
                EXIT_OK,
            ))
        }
        Err(e) => Ok(wrong(card, &pin_word(), &e)),
    }
}

/// `cpx pin unblock`: PUK, new PIN twice; VERIFY of the PUK, then RESET RETRY COUNTER with
/// the new PIN (CPS4: then CHANGE REFERENCE DATA), as the Cryptolib does (C_Login(CKU_SO)
/// + C_InitPIN).
pub fn unblock(card: &mut CpxCard, source: &Source) -> Result<Outcome, String> {
    let Some(info) = card.contents().user_pin.clone() else {
        return Err(tr!(
            "ce jeton n'a pas de code porteur",
            "this token has no user PIN"
        ));
    };
    let puk_info = card.contents().so_pin.clone();
    let before = after(card);
    if before.blocked_for_good() {
        return Ok(outcome(
            "exhausted",
            tr!(
                "le code de déblocage est épuisé (0 déblocage restant)",
                "the unblocking code is used up (0 unblock uses left)"
            ),
            &before,
            EXIT_ERROR,
        ));
    }
    let puk = read_secret(
        source,
        &tr!("Code de déblocage (PUK) : ", "Unblocking code (PUK): "),
    )?;
    check_format(&puk, puk_info.as_ref(), &puk_word())?;
    let new = read_new_pin(source, Some(&info))?;
    if let Err(e) = card.login_so(puk.as_bytes()) {
        let mut o = wrong(card, &puk_word(), &e);
        if matches!(
            e.card(),
            Some(CardError::PinBlocked | CardError::PinIncorrect { tries_left: 0 })
        ) {
            o.text.push_str(&tr!(
                "Sans PUK valide, la carte ne peut plus être débloquée : commandez une nouvelle \
                 carte.\n",
                "Without a valid PUK the card can no longer be unblocked: order a new card.\n"
            ));
        }
        return Ok(o);
    }
    match card.unblock_pin(new.as_bytes()) {
        Ok(()) => {
            let pin = after(card);
            let left = left_text(&pin);
            let uses = report::unblock_line(&pin).unwrap_or_default();
            Ok(outcome(
                "unblocked",
                tr!(
                    "code porteur débloqué et remplacé ({left} ; {uses})",
                    "PIN unblocked and replaced ({left}; {uses})"
                ),
                &pin,
                EXIT_OK,
            ))
        }
        Err(CpxError::Card(CardError::PinBlocked)) => {
            let pin = after(card);
            Ok(outcome(
                "exhausted",
                tr!(
                    "la carte refuse le déblocage : plus aucun déblocage possible",
                    "the card refuses the unblock: no unblock use left"
                ),
                &pin,
                EXIT_ERROR,
            ))
        }
        Err(e) => {
            let pin = after(card);
            Ok(outcome("error", card::card_error(&e), &pin, EXIT_ERROR))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{with_lang, Lang};

    fn info(min: usize, max: usize) -> PinInfo {
        PinInfo {
            label: "PIN".into(),
            reference: 1,
            min_len: min,
            max_len: max,
            stored_len: 8,
            pad_char: Some(0xFF),
        }
    }

    #[test]
    fn format_is_checked_before_the_card() {
        with_lang(Lang::En, || {
            assert!(check_format("1234", Some(&info(4, 4)), "PIN").is_ok());
            let e = check_format("12345", Some(&info(4, 4)), "PIN").unwrap_err();
            assert!(e.contains("has 4 digits, not 5"), "{e}");
            let e = check_format("12a4", Some(&info(4, 4)), "PIN").unwrap_err();
            assert!(e.contains("digits only"), "{e}");
        });
        with_lang(Lang::Fr, || {
            let e = check_format("123", Some(&info(4, 8)), "code").unwrap_err();
            assert!(e.contains("4 à 8 chiffres, pas 3"), "{e}");
        });
    }
}
