//! `cpx`: command-line tool for practitioners and support desks, in French (default) or
//! English. It reads a CPx card through the same card layer as the PKCS#11 module.
//!
//! ```text
//! cpx [--json] [--lang fr|en] readers       readers, card present, ATR, CPx or not
//! cpx info   [--reader NAME]                token, certificates, keys, data objects, PIN
//! cpx certs  [--reader NAME] [--pem|--der WHICH [-o FILE]]   validity, days left; export
//! cpx pin status|change|unblock [--reader NAME] [--pin-stdin]
//! cpx diag   [--reader NAME]                every check, and what fixes each failing one
//! cpx trace  [--reader NAME] [--full]       environment, `info`, redacted APDU exchange
//! cpx register|unregister firefox|chromium|nss|all   the module in the user's NSS databases
//! cpx cache show|clear                      the module's card cache (no card needed)
//! ```
//!
//! Only `pin change` and `pin unblock` send a PIN or PUK (typed without echo, or given on
//! standard input with `--pin-stdin`; never on the command line); everything else reads:
//! the PIN counters come from VERIFY without data, which costs no try.
//!
//! Readers are PC/SC ones; a build with the `sim` feature uses the simulated cards of
//! `CPX_SIM_CARDS` instead when that variable is set (the module's rule,
//! `transport::readers_from_config`).
//!
//! Exit status: `cli::EXIT_*` (0 all well, 1 error, 2 usage, 3 problem found, 4 warnings).
#![forbid(unsafe_code)]

#[path = "cpx/i18n.rs"]
#[macro_use]
mod i18n;
#[path = "cpx/cache.rs"]
mod cache;
#[path = "cpx/card.rs"]
mod card;
#[path = "cpx/certs.rs"]
mod certs;
#[path = "cpx/cli.rs"]
mod cli;
#[path = "cpx/diag.rs"]
mod diag;
#[path = "cpx/json.rs"]
mod json;
#[path = "cpx/pin.rs"]
mod pin;
#[path = "cpx/probes.rs"]
mod probes;
#[path = "cpx/recorder.rs"]
mod recorder;
#[path = "cpx/register.rs"]
mod register;
#[path = "cpx/report.rs"]
mod report;

use std::io::{self, IsTerminal, Write};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use cpx_pkcs11::config::Config;
use cpx_pkcs11::transport::Readers;

use cli::{CardArgs, Cli, Cmd, Export, EXIT_ERROR, EXIT_OK, EXIT_PROBLEM};
use i18n::Lang;
use json::Json;
use recorder::Recording;
use report::{Info, Pin};

/// What a command produced: bytes for stdout, and the exit status.
struct Output {
    stdout: Vec<u8>,
    code: u8,
}

impl Output {
    fn ok(text: String) -> Output {
        Output::with(text, EXIT_OK)
    }

    fn with(text: String, code: u8) -> Output {
        Output {
            stdout: text.into_bytes(),
            code,
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let lang = Lang::from_locale(|k| std::env::var(k).ok());
    i18n::set_lang(lang);
    match Lang::from_args(&args) {
        Some(Ok(l)) => i18n::set_lang(l),
        Some(Err(bad)) => return stop(cli::bad_lang(&bad)),
        None => {}
    }
    let cli = match cli::parse(&args) {
        Ok(cli) => cli,
        Err(s) => return stop(s),
    };
    panic::set_hook(Box::new(|info| {
        eprintln!("cpx: {}: {info}", tr!("erreur interne", "internal error"));
    }));
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        i18n::set_lang(i18n::lang());
        run(&cli)
    }));
    match result {
        Ok(Ok(output)) => match io::stdout().lock().write_all(&output.stdout) {
            Ok(()) => ExitCode::from(output.code),
            // `cpx info | head`: the reader went away; nothing more to say.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(output.code),
            Err(e) => {
                eprintln!(
                    "cpx: {}",
                    tr!(
                        "erreur : écriture de la sortie : {e}",
                        "error: writing the output: {e}"
                    )
                );
                ExitCode::from(EXIT_ERROR)
            }
        },
        Ok(Err(message)) => {
            eprintln!(
                "{}",
                tr!("cpx: erreur : {message}", "cpx: error: {message}")
            );
            ExitCode::from(EXIT_ERROR)
        }
        // The hook already printed the message.
        Err(_) => ExitCode::from(EXIT_ERROR),
    }
}

fn stop(s: cli::Stop) -> ExitCode {
    print!("{}", s.stdout);
    eprint!("{}", s.stderr);
    ExitCode::from(s.code)
}

/// Runs one command; returns what to print on stdout, or the error message.
fn run(cli: &Cli) -> Result<Output, String> {
    // No card involved: before the readers are opened.
    match &cli.cmd {
        Cmd::Register(args) => return register::register(args).map(Output::ok),
        Cmd::Unregister(args) => return register::unregister(args).map(Output::ok),
        Cmd::Cache(action) => {
            return cache::run(*action, &Config::from_env(), cli.json).map(Output::ok)
        }
        _ => {}
    }
    let config = Config::from_env();
    cpx_pkcs11::log::init(&config);
    let mut readers = card::open_readers(&config)?;
    let readers = readers.as_mut();
    let json = cli.json;
    let render = |j: Json, text: String| if json { j.render() } else { text };
    match &cli.cmd {
        Cmd::Readers => {
            let list = card::list_readers(readers)?;
            Ok(Output::ok(render(
                report::readers_json(&list),
                report::readers_text(&list),
            )))
        }
        Cmd::Info(args) => card_report(json, readers, args, None),
        Cmd::Trace { card: args, full } => card_report(json, readers, args, Some(*full)),
        Cmd::Certs { card: args, export } => {
            let (reader, card) = card::bind(readers, args.reader.as_deref(), None)?;
            let c = card.contents();
            if let Some(export) = export {
                return export_cert(c, export);
            }
            let now = now();
            Ok(Output::with(
                render(certs::json(&reader, c, now), certs::text(&reader, c, now)),
                certs::exit_code(c, now),
            ))
        }
        Cmd::PinStatus(args) => {
            let (reader, mut card) = card::bind(readers, args.reader.as_deref(), None)?;
            let pin = match card::read_pin(&mut card) {
                Pin::Unreadable(e) => {
                    return Err(tr!(
                        "lecture des compteurs du code porteur : {e}",
                        "reading the PIN counters: {e}"
                    ))
                }
                pin => pin,
            };
            let code = if pin.blocked() { EXIT_PROBLEM } else { EXIT_OK };
            Ok(Output::with(
                render(
                    report::pin_status_json(&reader, card.contents(), &pin),
                    report::pin_status_text(&reader, card.contents(), &pin),
                ),
                code,
            ))
        }
        Cmd::PinChange { card: args, stdin } | Cmd::PinUnblock { card: args, stdin } => {
            let (_, mut card) = card::bind(readers, args.reader.as_deref(), None)?;
            let source = if *stdin {
                pin::Source::Stdin
            } else {
                pin::Source::Terminal
            };
            let o = if matches!(cli.cmd, Cmd::PinChange { .. }) {
                pin::change(&mut card, &source)?
            } else {
                pin::unblock(&mut card, &source)?
            };
            Ok(Output::with(render(o.json, o.text), o.code))
        }
        Cmd::Diag(args) => {
            let env = probes::Env::from_process();
            let checks = diag::run(diag::Inputs {
                readers,
                reader: args.reader.as_deref(),
                simulated: card::simulated(&config),
                env: &env,
                cache: &config.cache,
                now: now(),
            });
            Ok(Output::with(
                render(diag::json(&checks), diag::text(&checks)),
                diag::exit_code(&checks),
            ))
        }
        // Handled above, before the readers are opened.
        Cmd::Register(_) | Cmd::Unregister(_) | Cmd::Cache(_) => Ok(Output::ok(String::new())),
    }
}

fn export_cert(c: &cpx_pkcs11::cpx::TokenContents, export: &Export) -> Result<Output, String> {
    let cert = certs::select(c, &export.which)?;
    let bytes = if export.der {
        cert.der.clone()
    } else {
        certs::pem(&cert.der).into_bytes()
    };
    match &export.out {
        Some(path) => {
            std::fs::write(path, &bytes).map_err(|e| {
                tr!(
                    "écriture de {path} impossible : {e}",
                    "cannot write {path}: {e}"
                )
            })?;
            let label = &cert.label;
            eprintln!(
                "{}",
                tr!(
                    "« {label} » écrit dans {path}",
                    "\"{label}\" written to {path}"
                )
            );
            Ok(Output::ok(String::new()))
        }
        None if export.der && io::stdout().is_terminal() => Err(tr!(
            "le DER est binaire : redirigez la sortie (> cert.der) ou utilisez -o FICHIER",
            "DER is binary: redirect the output (> cert.der) or use -o FILE"
        )),
        None => Ok(Output {
            stdout: bytes,
            code: EXIT_OK,
        }),
    }
}

/// `info`: the card's token, objects and PIN counters; with `trace = Some(full)` (`trace`),
/// the environment first, then every APDU exchanged meanwhile, redacted.
fn card_report(
    json: bool,
    readers: &mut dyn Readers,
    args: &CardArgs,
    trace: Option<bool>,
) -> Result<Output, String> {
    let recording = trace.map(|_| Recording::default());
    let (reader, mut card) = card::bind(readers, args.reader.as_deref(), recording.clone())?;
    let pin = card::read_pin(&mut card);
    let info = Info {
        reader: &reader,
        contents: card.contents(),
        pin,
        now: now(),
    };
    let (Some(full), Some(recording)) = (trace, recording) else {
        return Ok(Output::ok(if json {
            info.json().render()
        } else {
            info.text()
        }));
    };
    let events = recording.events();
    let count = card.apdu_count();
    let header = environment();
    if json {
        let mut j = info.json();
        if let Json::Obj(members) = &mut j {
            members.insert(
                0,
                (
                    "environment",
                    Json::Obj(header.iter().map(|(k, _, v)| (*k, Json::str(v))).collect()),
                ),
            );
            members.push(("trace", report::trace_json(&events, count)));
        }
        return Ok(Output::ok(j.render()));
    }
    let mut out = String::new();
    for (_, label, value) in &header {
        report::field(&mut out, 0, 20, label, value);
    }
    out.push('\n');
    out.push_str(&info.text());
    out.push('\n');
    out.push_str(&report::trace_text(&events, count, full));
    Ok(Output::ok(out))
}

/// The trace header: versions and environment a support desk asks for (no secrets: the
/// `CPX_*` variables hold none).
fn environment() -> Vec<(&'static str, String, String)> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let vars: Vec<String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("CPX_") || k == "LANG" || k.starts_with("LC_"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vec![
        (
            "cpx_version",
            report::label("Version de cpx-pkcs11", "cpx-pkcs11 version"),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("date", report::label("Date", "Date"), report::utc(now())),
        (
            "os",
            report::label("Système", "System"),
            format!("{os}, Linux {kernel}, {}", std::env::consts::ARCH),
        ),
        (
            "language",
            report::label("Langue", "Language"),
            i18n::lang().code().to_string(),
        ),
        (
            "variables",
            report::label("Variables", "Variables"),
            if vars.is_empty() {
                "-".into()
            } else {
                vars.join(" ")
            },
        ),
    ]
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
