//! The command line of `cpx`, built at run time in the chosen language (clap's builder:
//! help texts, headings, usage lines and parse errors are all ours, in French or English),
//! and parsed into [`Cli`].

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use crate::register::{RegisterArgs, UnregisterArgs};

#[cfg(test)]
use crate::i18n::Lang;

/// What the user asked for.
#[derive(Debug)]
pub struct Cli {
    pub json: bool,
    pub cmd: Cmd,
}

#[derive(Debug)]
pub enum Cmd {
    Readers,
    Info(CardArgs),
    Certs {
        card: CardArgs,
        export: Option<Export>,
    },
    PinStatus(CardArgs),
    PinChange {
        card: CardArgs,
        stdin: bool,
    },
    PinUnblock {
        card: CardArgs,
        stdin: bool,
    },
    Diag(CardArgs),
    Trace {
        card: CardArgs,
        full: bool,
    },
    Register(RegisterArgs),
    Unregister(UnregisterArgs),
    /// `cpx cache show|clear` (`cache.rs`).
    Cache(crate::cache::Action),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardArgs {
    /// A reader's full name or a unique case-insensitive part of it.
    pub reader: Option<String>,
}

/// `cpx certs --pem|--der WHICH [--out FILE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub der: bool,
    pub which: String,
    pub out: Option<String>,
}

/// Exit statuses (also in `--help` and the README).
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_PROBLEM: u8 = 3;
pub const EXIT_WARNING: u8 = 4;

fn exit_codes_text() -> String {
    tr!(
        "Codes de sortie :
  0  tout va bien
  1  erreur : la commande n'a pas pu aboutir (pas de lecteur, pas de carte, code faux…)
  2  ligne de commande invalide
  3  problème trouvé (diag : un contrôle en échec ; certs : certificat expiré ;
     pin status : code porteur bloqué)
  4  avertissement seulement (diag ; certificat expirant dans moins de 90 jours)",
        "Exit status:
  0  all is well
  1  error: the command could not complete (no reader, no card, wrong PIN…)
  2  invalid command line
  3  problem found (diag: a failing check; certs: an expired certificate;
     pin status: PIN blocked)
  4  warnings only (diag; a certificate expiring within 90 days)"
    )
}

/// A static word in the current language (clap's value names are `&'static str`).
fn word(fr: &'static str, en: &'static str) -> &'static str {
    match crate::i18n::lang() {
        crate::i18n::Lang::Fr => fr,
        crate::i18n::Lang::En => en,
    }
}

fn template(has_subcommands: bool) -> String {
    let usage = tr!("Utilisation :", "Usage:");
    let options = tr!("Options :", "Options:");
    if has_subcommands {
        let commands = tr!("Commandes :", "Commands:");
        format!("{{about}}\n\n{usage} {{usage}}\n\n{commands}\n{{subcommands}}\n\n{options}\n{{options}}{{after-help}}")
    } else {
        format!("{{about}}\n\n{usage} {{usage}}\n\n{options}\n{{options}}{{after-help}}")
    }
}

/// The template of a command with positional arguments.
fn template_with_arguments() -> String {
    let usage = tr!("Utilisation :", "Usage:");
    let arguments = tr!("Arguments :", "Arguments:");
    let options = tr!("Options :", "Options:");
    format!(
        "{{about}}\n\n{usage} {{usage}}\n\n{arguments}\n{{positionals}}\n\n{options}\n{{options}}{{after-help}}"
    )
}

fn help_arg() -> Arg {
    Arg::new("help")
        .short('h')
        .long("help")
        .action(ArgAction::Help)
        .help(tr!("Affiche cette aide", "Print this help"))
}

/// A (sub)command with our template, our help flag and a localized usage line.
fn command(name: &'static str, about: String, usage: String, subcommands: bool) -> Command {
    Command::new(name)
        .about(about)
        .override_usage(usage)
        .help_template(template(subcommands))
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .arg(help_arg())
}

fn reader_arg() -> Arg {
    Arg::new("reader")
        .long("reader")
        .value_name(word("NOM", "NAME"))
        .help(tr!(
            "Lecteur à utiliser : son nom complet ou une partie unique de son nom (par défaut : \
             le premier lecteur qui contient une carte CPx)",
            "Reader to use: its full name or a unique part of it (default: the first reader \
             holding a CPx card)"
        ))
}

fn pin_stdin_arg() -> Arg {
    Arg::new("pin-stdin")
        .long("pin-stdin")
        .action(ArgAction::SetTrue)
        .help(tr!(
            "Pour les scripts : lit les codes sur l'entrée standard, un par ligne, au lieu du \
             terminal",
            "For scripts: read the codes from standard input, one per line, instead of the \
             terminal"
        ))
}

fn card_command(name: &'static str, about: String, rest: &str) -> Command {
    let opts = tr!("[OPTIONS]", "[OPTIONS]");
    let usage = format!("cpx {name} {opts}{rest}");
    command(name, about, usage, false).arg(reader_arg())
}

/// The whole command line, in the current language.
pub fn build() -> Command {
    let after = format!(
        "\n{}\n\n{}",
        exit_codes_text(),
        tr!(
            "Langue : français par défaut ; anglais avec --lang en ou une locale anglaise \
             (LC_ALL, LC_MESSAGES, LANG).\n--json : sortie pour les scripts (clés en anglais, \
             stables ; voir le README).",
            "Language: French by default; English with --lang en or an English locale \
             (LC_ALL, LC_MESSAGES, LANG).\n--json: output for scripts (English keys, stable; \
             see the README)."
        )
    );
    let pin = command(
        "pin",
        tr!(
            "Code porteur (PIN) : état, changement, déblocage avec le PUK",
            "User PIN: status, change, unblock with the PUK"
        ),
        tr!(
            "cpx pin [OPTIONS] <COMMANDE>",
            "cpx pin [OPTIONS] <COMMAND>"
        ),
        true,
    )
    .subcommand_required(true)
    .arg_required_else_help(true)
    .subcommand(card_command(
        "status",
        tr!(
            "Essais restants et déblocages restants (ne consomme aucun essai)",
            "Tries left and unblock uses left (costs no try)"
        ),
        "",
    ))
    .subcommand(
        card_command(
            "change",
            tr!(
                "Change le code porteur : l'ancien puis deux fois le nouveau, saisis sans écho",
                "Change the PIN: the old one, then the new one twice, typed without echo"
            ),
            "",
        )
        .arg(pin_stdin_arg()),
    )
    .subcommand(
        card_command(
            "unblock",
            tr!(
                "Débloque le code porteur avec le code de déblocage (PUK) et en fixe un nouveau",
                "Unblock the PIN with the unblocking code (PUK) and set a new one"
            ),
            "",
        )
        .arg(pin_stdin_arg()),
    );

    command(
        "cpx",
        tr!(
            "cpx : cartes de professionnel de santé CPx (CPS3, CPS4) — lecteurs, contenu de la \
             carte, certificats, code porteur, diagnostic.",
            "cpx: French health-professional CPx cards (CPS3, CPS4) — readers, card contents, \
             certificates, PIN, diagnosis."
        ),
        tr!("cpx [OPTIONS] <COMMANDE>", "cpx [OPTIONS] <COMMAND>"),
        true,
    )
    .version(env!("CARGO_PKG_VERSION"))
    .disable_version_flag(true)
    .arg(
        Arg::new("version")
            .short('V')
            .long("version")
            .action(ArgAction::Version)
            .help(tr!("Affiche la version", "Print the version")),
    )
    .arg(
        Arg::new("json")
            .long("json")
            .global(true)
            .action(ArgAction::SetTrue)
            .help(tr!(
                "Sortie JSON pour les scripts (clés en anglais, stables)",
                "JSON output for scripts (English keys, stable)"
            )),
    )
    .arg(
        Arg::new("lang")
            .long("lang")
            .global(true)
            .value_name("fr|en")
            .value_parser(["fr", "en"])
            .hide_possible_values(true)
            .help(tr!(
                "Langue des messages (par défaut : la locale, sinon le français)",
                "Language of the messages (default: the locale, else French)"
            )),
    )
    .after_help(after)
    .subcommand_required(true)
    .arg_required_else_help(true)
    .subcommand(command(
        "readers",
        tr!(
            "Liste les lecteurs : carte présente, ATR, carte CPx ou non",
            "List the readers: card present, ATR, whether it is a CPx card"
        ),
        tr!("cpx readers [OPTIONS]", "cpx readers [OPTIONS]"),
        false,
    ))
    .subcommand(card_command(
        "info",
        tr!(
            "Montre la carte : jeton, certificats, clés, objets de données, code porteur",
            "Show the card: token, certificates, keys, data objects, PIN counters"
        ),
        "",
    ))
    .subcommand(
        card_command(
            "certs",
            tr!(
                "Certificats : titulaire, émetteur, validité, jours restants ; export d'un \
                 certificat",
                "Certificates: holder, issuer, validity, days left; export of one certificate"
            ),
            "",
        )
        .arg(export_arg("pem"))
        .arg(export_arg("der"))
        .arg(
            Arg::new("out")
                .long("out")
                .short('o')
                .value_name(word("FICHIER", "FILE"))
                .help(tr!(
                    "Écrit le certificat exporté dans FICHIER (par défaut : la sortie standard)",
                    "Write the exported certificate to FILE (default: standard output)"
                )),
        ),
    )
    .subcommand(pin)
    .subcommand(
        card_command(
            "pin-status",
            tr!(
                "Comme « cpx pin status » (ancien nom)",
                "Same as `cpx pin status` (former name)"
            ),
            "",
        )
        .hide(true),
    )
    .subcommand(card_command(
        "diag",
        tr!(
            "Diagnostic : pcscd, lecteurs, carte, code porteur, certificats, module, \
             navigateurs, cache — et ce qu'il faut faire",
            "Diagnosis: pcscd, readers, card, PIN, certificates, module, browsers, cache — \
             and what to do"
        ),
        "",
    ))
    .subcommand(
        card_command(
            "trace",
            tr!(
                "Trace APDU masquée (PIN, PUK, données à signer) à envoyer au support, avec \
                 l'environnement",
                "Redacted APDU trace (PIN, PUK, data to sign masked) to send to a support \
                 desk, with the environment"
            ),
            "",
        )
        .arg(
            Arg::new("full")
                .long("full")
                .action(ArgAction::SetTrue)
                .help(tr!(
                    "Réponses en entier (par défaut : les 32 premiers octets)",
                    "Responses in full (default: the first 32 bytes)"
                )),
        ),
    )
    .subcommand(registration("register"))
    .subcommand(registration("unregister"))
    .subcommand(
        command(
            "cache",
            tr!(
                "Cache des cartes du module PKCS#11 : show (cartes, âge, taille) ou clear",
                "The PKCS#11 module's card cache: show (cards, age, size) or clear"
            ),
            tr!(
                "cpx cache [OPTIONS] <COMMANDE>",
                "cpx cache [OPTIONS] <COMMAND>"
            ),
            true,
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(command(
            "show",
            tr!(
                "Les cartes en cache : laquelle, depuis quand, quelle taille",
                "The cached cards: which, how old, how big"
            ),
            tr!("cpx cache show [OPTIONS]", "cpx cache show [OPTIONS]"),
            false,
        ))
        .subcommand(command(
            "clear",
            tr!(
                "Vide le cache (le prochain démarrage relit la carte)",
                "Empty the cache (the next start reads the card again)"
            ),
            tr!("cpx cache clear [OPTIONS]", "cpx cache clear [OPTIONS]"),
            false,
        )),
    )
}

/// `cpx register` / `cpx unregister` (arguments defined in `register.rs`), with our help
/// texts in the current language.
fn registration(name: &'static str) -> Command {
    let register = name == "register";
    let about = if register {
        tr!(
            "Enregistre le module PKCS#11 dans les bases NSS de l'utilisateur (Firefox, \
             Chromium)",
            "Register the PKCS#11 module in the user's NSS databases (Firefox, Chromium)"
        )
    } else {
        tr!(
            "Retire le module des bases NSS de l'utilisateur",
            "Remove the module from the user's NSS databases"
        )
    };
    let usage = tr!(
        "cpx {name} [OPTIONS] firefox|chromium|nss|all",
        "cpx {name} [OPTIONS] firefox|chromium|nss|all"
    );
    let base = command(name, about, usage, false).help_template(template_with_arguments());
    let cmd = if register {
        RegisterArgs::augment_args(base)
    } else {
        UnregisterArgs::augment_args(base)
    };
    let mut cmd = cmd
        .mut_arg("target", |a| {
            a.value_name(word("CIBLE", "TARGET"))
                .hide_possible_values(true)
                .help(tr!(
                    "firefox : chaque profil Firefox ; chromium / nss : la base NSS partagée \
                     (celle de Chromium) ; all : les deux",
                    "firefox: every Firefox profile; chromium / nss: the shared NSS database \
                     (Chromium's); all: both"
                ))
        })
        .mut_arg("name", |a| {
            a.value_name(word("NOM", "NAME"))
                .hide_default_value(true)
                .help(tr!(
                    "Nom du module dans les bases NSS (par défaut : cpx-pkcs11)",
                    "The module's name in the NSS databases (default: cpx-pkcs11)"
                ))
        })
        .mut_arg("db", |a| {
            a.value_name(word("RÉP", "DIR")).help(tr!(
                "Une base NSS à utiliser à la place de celles de l'utilisateur (répétable ; \
                 avec nss)",
                "An NSS database directory to use instead of the user's (repeatable; with nss)"
            ))
        });
    if register {
        cmd = cmd.mut_arg("module", |a| {
            a.value_name(word("CHEMIN", "PATH")).help(tr!(
                "La bibliothèque PKCS#11 à enregistrer (par défaut : libcpx_pkcs11.so \
                 installée, ou celle à côté de ce programme)",
                "The PKCS#11 library to register (default: the installed libcpx_pkcs11.so, \
                 or the one next to this program)"
            ))
        });
    }
    cmd
}

fn export_arg(format: &'static str) -> Arg {
    let upper = format.to_uppercase();
    Arg::new(format)
        .long(format)
        .value_name(word("QUEL", "WHICH"))
        .conflicts_with(if format == "pem" { "der" } else { "pem" })
        .help(tr!(
            "Exporte un certificat en {upper} : auth, sign, tech, ou son libellé ou son ID",
            "Export one certificate as {upper}: auth, sign, tech, or its label or ID"
        ))
}

fn card_args(m: &ArgMatches) -> CardArgs {
    CardArgs {
        reader: m.get_one::<String>("reader").cloned(),
    }
}

fn to_cli(m: &ArgMatches) -> Result<Cli, clap::Error> {
    let json = m.get_flag("json");
    let (name, sub) = m.subcommand().unwrap_or(("", m));
    let cmd = match name {
        "readers" => Cmd::Readers,
        "info" => Cmd::Info(card_args(sub)),
        "certs" => {
            let pem = sub.get_one::<String>("pem");
            let der = sub.get_one::<String>("der");
            let export = pem.or(der).map(|which| Export {
                der: der.is_some(),
                which: which.clone(),
                out: sub.get_one::<String>("out").cloned(),
            });
            Cmd::Certs {
                card: card_args(sub),
                export,
            }
        }
        "pin" => match sub.subcommand() {
            Some(("change", s)) => Cmd::PinChange {
                card: card_args(s),
                stdin: s.get_flag("pin-stdin"),
            },
            Some(("unblock", s)) => Cmd::PinUnblock {
                card: card_args(s),
                stdin: s.get_flag("pin-stdin"),
            },
            Some((_, s)) => Cmd::PinStatus(card_args(s)),
            None => Cmd::PinStatus(CardArgs::default()),
        },
        "pin-status" => Cmd::PinStatus(card_args(sub)),
        "diag" => Cmd::Diag(card_args(sub)),
        "cache" => Cmd::Cache(match sub.subcommand() {
            Some(("clear", _)) => crate::cache::Action::Clear,
            _ => crate::cache::Action::Show,
        }),
        "trace" => Cmd::Trace {
            card: card_args(sub),
            full: sub.get_flag("full"),
        },
        "register" => Cmd::Register(RegisterArgs::from_arg_matches(sub)?),
        "unregister" => Cmd::Unregister(UnregisterArgs::from_arg_matches(sub)?),
        _ => Cmd::Readers,
    };
    // `--json` is global: clap records it on the subcommand that saw it.
    let json = json
        || sub.try_get_one::<bool>("json").ok().flatten() == Some(&true)
        || sub
            .subcommand()
            .and_then(|(_, s)| s.try_get_one::<bool>("json").ok().flatten())
            == Some(&true);
    Ok(Cli { json, cmd })
}

/// What `main` does when the command line is not a command to run.
#[derive(Debug, PartialEq, Eq)]
pub struct Stop {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

/// Parses `args` (with the program name first) in the current language.
pub fn parse<I, T>(args: I) -> Result<Cli, Stop>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match build().try_get_matches_from(args) {
        Ok(m) => to_cli(&m).map_err(|e| stop(&e)),
        Err(e) => Err(stop(&e)),
    }
}

fn context(e: &clap::Error, kind: ContextKind) -> String {
    match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Help and version on stdout (status 0); help for a bare `cpx` / `cpx pin` and every parse
/// error on stderr (status 2), the error in our words.
fn stop(e: &clap::Error) -> Stop {
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            return Stop {
                stdout: text,
                stderr: String::new(),
                code: EXIT_OK,
            }
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return Stop {
                stdout: String::new(),
                stderr: text,
                code: EXIT_USAGE,
            }
        }
        _ => {}
    }
    let arg = context(e, ContextKind::InvalidArg);
    let sub = context(e, ContextKind::InvalidSubcommand);
    let value = context(e, ContextKind::InvalidValue);
    let valid = context(e, ContextKind::ValidValue);
    let what = match e.kind() {
        ErrorKind::InvalidSubcommand => {
            tr!("commande inconnue « {sub} »", "unknown command '{sub}'")
        }
        ErrorKind::UnknownArgument => tr!(
            "option inconnue ou inattendue ici : « {arg} »",
            "unknown or unexpected option here: '{arg}'"
        ),
        ErrorKind::InvalidValue if value.is_empty() => tr!(
            "il manque une valeur après {arg}",
            "a value is missing after {arg}"
        ),
        ErrorKind::InvalidValue => tr!(
            "valeur « {value} » invalide pour {arg} (valeurs possibles : {valid})",
            "invalid value '{value}' for {arg} (possible values: {valid})"
        ),
        ErrorKind::ArgumentConflict => {
            let other = context(e, ContextKind::PriorArg);
            tr!(
                "{arg} et {other} ne vont pas ensemble",
                "{arg} cannot be used with {other}"
            )
        }
        ErrorKind::MissingRequiredArgument => tr!(
            "il manque un argument obligatoire : {arg}",
            "a required argument is missing: {arg}"
        ),
        ErrorKind::MissingSubcommand => tr!("il manque la commande", "the command is missing"),
        ErrorKind::TooManyValues => {
            tr!(
                "option répétée ou en trop : {arg}",
                "option repeated or in excess: {arg}"
            )
        }
        _ => tr!("ligne de commande invalide", "invalid command line"),
    };
    let hint = tr!(
        "Voir « cpx --help » (ou « cpx COMMANDE --help »).",
        "See `cpx --help` (or `cpx COMMAND --help`)."
    );
    Stop {
        stdout: String::new(),
        stderr: format!(
            "{}\n{hint}\n",
            tr!("cpx: erreur : {what}", "cpx: error: {what}")
        ),
        code: EXIT_USAGE,
    }
}

/// `--lang` with a value other than `fr`/`en` (checked before clap, which would otherwise
/// answer in the locale's language only).
pub fn bad_lang(value: &str) -> Stop {
    Stop {
        stdout: String::new(),
        stderr: tr!(
            "cpx: erreur : langue « {value} » inconnue (valeurs possibles : fr, en)\n",
            "cpx: error: unknown language '{value}' (possible values: fr, en)\n"
        ),
        code: EXIT_USAGE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::with_lang;

    #[test]
    fn definition_is_valid_in_both_languages() {
        with_lang(Lang::Fr, || build().debug_assert());
        with_lang(Lang::En, || build().debug_assert());
    }

    #[test]
    fn commands_parse() {
        let p = |a: &[&str]| parse(std::iter::once("cpx").chain(a.iter().copied())).unwrap();
        assert!(matches!(p(&["readers"]).cmd, Cmd::Readers));
        assert!(p(&["--json", "readers"]).json);
        assert!(p(&["readers", "--json"]).json);
        assert!(p(&["pin", "status", "--json"]).json);
        assert!(matches!(
            p(&["pin", "change", "--pin-stdin", "--reader", "x"]).cmd,
            Cmd::PinChange { card: CardArgs { reader: Some(r) }, stdin: true } if r == "x"
        ));
        assert!(matches!(
            p(&["pin-status"]).cmd,
            Cmd::PinStatus(CardArgs { reader: None })
        ));
        let Cmd::Certs {
            export: Some(e), ..
        } = p(&["certs", "--der", "auth", "-o", "a.der"]).cmd
        else {
            panic!("certs");
        };
        assert_eq!(
            e,
            Export {
                der: true,
                which: "auth".into(),
                out: Some("a.der".into())
            }
        );
        assert!(matches!(p(&["register", "firefox"]).cmd, Cmd::Register(_)));
        assert!(matches!(
            p(&["unregister", "all", "--name", "x"]).cmd,
            Cmd::Unregister(_)
        ));
    }

    #[test]
    fn errors_are_in_the_language() {
        let fr = with_lang(Lang::Fr, || parse(["cpx", "frobnicate"]).unwrap_err());
        assert_eq!(fr.code, EXIT_USAGE);
        assert!(
            fr.stderr.contains("commande inconnue « frobnicate »"),
            "{}",
            fr.stderr
        );
        let en = with_lang(Lang::En, || parse(["cpx", "info", "--bogus"]).unwrap_err());
        assert!(
            en.stderr.contains("unexpected option here: '--bogus'"),
            "{}",
            en.stderr
        );
        let both = with_lang(Lang::Fr, || {
            parse(["cpx", "certs", "--pem", "auth", "--der", "sign"]).unwrap_err()
        });
        assert!(
            both.stderr.contains("ne vont pas ensemble"),
            "{}",
            both.stderr
        );
    }

    #[test]
    fn help_is_in_the_language() {
        let fr = with_lang(Lang::Fr, || parse(["cpx", "--help"]).unwrap_err());
        assert_eq!(fr.code, EXIT_OK);
        for w in [
            "Utilisation :",
            "Commandes :",
            "Codes de sortie",
            "diag",
            "certs",
        ] {
            assert!(fr.stdout.contains(w), "{w}: {}", fr.stdout);
        }
        assert!(!fr.stdout.contains("Print help"), "{}", fr.stdout);
        let en = with_lang(Lang::En, || {
            parse(["cpx", "pin", "change", "-h"]).unwrap_err()
        });
        for w in ["Usage:", "--pin-stdin", "without echo"] {
            assert!(en.stdout.contains(w), "{w}: {}", en.stdout);
        }
    }
}
