//! `cpx diag`: one line per check, each failing check followed by what fixes it; the exit
//! status says whether something is wrong (`cli::EXIT_*`).
//!
//! Check ids (stable, in the JSON): `pcscd_installed`, `pcscd_running`, `pcscd_reachable`
//! (skipped with simulated cards: `pcscd`), `readers`, `card_present`, `card_recognised`,
//! `pin`, `certificates`, `module_installed`, `p11kit`, `nss` (one per NSS database),
//! `module_conflict`, `cache`.

use std::fmt::Write;

use cpx_pkcs11::apdu::CardError;
use cpx_pkcs11::config::CacheSettings;
use cpx_pkcs11::cpx::{CpxCard, CpxError};
use cpx_pkcs11::transport::{Readers, TransportError};

use crate::card;
use crate::cli::{EXIT_OK, EXIT_PROBLEM, EXIT_WARNING};
use crate::json::Json;
use crate::probes::{self, Env, ModuleKind, Registered, Service};
use crate::report::{self, Pin, Validity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Info,
    Warn,
    Fail,
}

impl Status {
    fn id(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "warning",
            Status::Fail => "error",
        }
    }

    fn tag(self) -> String {
        match self {
            Status::Ok => "[ OK  ]".into(),
            Status::Info => "[INFO ]".into(),
            Status::Warn => tr!("[ATTN ]", "[WARN ]"),
            Status::Fail => tr!("[ÉCHEC]", "[FAIL ]"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    pub message: String,
    /// The command or action that fixes it.
    pub fix: Option<String>,
}

fn check(id: &'static str, status: Status, message: String) -> Check {
    Check {
        id,
        status,
        message,
        fix: None,
    }
}

impl Check {
    fn fix(mut self, fix: String) -> Check {
        self.fix = Some(fix);
        self
    }
}

/// What diag needs from outside.
pub struct Inputs<'a> {
    pub readers: &'a mut dyn Readers,
    pub reader: Option<&'a str>,
    pub simulated: bool,
    pub env: &'a Env,
    /// The card cache's settings (`Config::cache`).
    pub cache: &'a CacheSettings,
    pub now: i64,
}

pub fn run(inp: Inputs<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    let pcscd_ok = if inp.simulated {
        out.push(check(
            "pcscd",
            Status::Info,
            tr!(
                "pcscd : non utilisé (cartes simulées, CPX_SIM_CARDS)",
                "pcscd: not used (simulated cards, CPX_SIM_CARDS)"
            ),
        ));
        true
    } else {
        pcscd_checks(inp.env, &mut out)
    };
    card_checks(inp.readers, inp.reader, inp.now, pcscd_ok, &mut out);
    module_checks(inp.env, &mut out);
    out.push(cache_check(inp.cache));
    out
}

fn pcscd_checks(env: &Env, out: &mut Vec<Check>) -> bool {
    let installed = probes::find_program(env, "pcscd");
    out.push(match &installed {
        Some(p) => check(
            "pcscd_installed",
            Status::Ok,
            tr!("pcscd installé : {}", "pcscd installed: {}", p.display()),
        ),
        None => check(
            "pcscd_installed",
            Status::Fail,
            tr!("pcscd n'est pas installé", "pcscd is not installed"),
        )
        .fix("sudo apt install pcscd libccid".into()),
    });
    let running = probes::process_running("pcscd");
    let socket = probes::pcscd_socket();
    out.push(match (running, &socket) {
        (true, _) => check(
            "pcscd_running",
            Status::Ok,
            tr!("pcscd est lancé", "pcscd is running"),
        ),
        (false, Some(s)) => check(
            "pcscd_running",
            Status::Ok,
            tr!(
                "pcscd démarre à la demande (socket {})",
                "pcscd starts on demand (socket {})",
                s.display()
            ),
        ),
        (false, None) => check(
            "pcscd_running",
            Status::Fail,
            tr!("pcscd n'est pas lancé", "pcscd is not running"),
        )
        .fix(tr!(
            "sudo systemctl enable --now pcscd.socket   (sans systemd : sudo pcscd)",
            "sudo systemctl enable --now pcscd.socket   (without systemd: sudo pcscd)"
        )),
    });
    let service = probes::pcsc_service();
    let ok = service == Service::Reachable;
    out.push(match service {
        Service::Reachable => check(
            "pcscd_reachable",
            Status::Ok,
            tr!("pcscd répond", "pcscd answers"),
        ),
        Service::Absent => check(
            "pcscd_reachable",
            Status::Fail,
            tr!(
                "pcscd ne répond pas (service PC/SC absent)",
                "pcscd does not answer (no PC/SC service)"
            ),
        )
        .fix(if running || socket.is_some() {
            tr!(
                "redémarrez-le : sudo systemctl restart pcscd ; vérifiez les droits \
                 (polkit) : journalctl -u pcscd",
                "restart it: sudo systemctl restart pcscd; check the permissions (polkit): \
                 journalctl -u pcscd"
            )
        } else {
            tr!("lancez pcscd (voir ci-dessus)", "start pcscd (see above)")
        }),
        Service::Failed(e) => check(
            "pcscd_reachable",
            Status::Fail,
            tr!("pcscd : erreur {e}", "pcscd: error {e}"),
        )
        .fix(tr!(
            "sudo systemctl restart pcscd ; journalctl -u pcscd",
            "sudo systemctl restart pcscd; journalctl -u pcscd"
        )),
    });
    ok
}

fn card_checks(
    readers: &mut dyn Readers,
    wanted: Option<&str>,
    now: i64,
    pcscd_ok: bool,
    out: &mut Vec<Check>,
) {
    let list = match readers.list() {
        Ok(l) => l,
        Err(e) => {
            out.push(
                check(
                    "readers",
                    Status::Fail,
                    tr!(
                        "liste des lecteurs impossible : {}",
                        "cannot list the readers: {}",
                        card::transport_error(&e)
                    ),
                )
                .fix(tr!(
                    "sudo systemctl restart pcscd",
                    "sudo systemctl restart pcscd"
                )),
            );
            return;
        }
    };
    if list.is_empty() {
        let c = check(
            "readers",
            Status::Fail,
            tr!("aucun lecteur de carte", "no smart-card reader"),
        );
        out.push(if pcscd_ok {
            c.fix(tr!(
                "branchez le lecteur (USB) ; vérifiez qu'il apparaît : lsusb ; pilote CCID : \
                 sudo apt install libccid",
                "plug in the reader (USB); check that it shows: lsusb; CCID driver: sudo apt \
                 install libccid"
            ))
        } else {
            c.fix(tr!(
                "réparez d'abord pcscd (ci-dessus)",
                "fix pcscd first (above)"
            ))
        });
        return;
    }
    let names: Vec<&str> = list.iter().map(|r| r.name.as_str()).collect();
    out.push(check(
        "readers",
        Status::Ok,
        tr!("lecteur(s) : {}", "reader(s): {}", names.join(", ")),
    ));
    let reader = match card::pick_reader(&list, wanted) {
        Ok(r) => r,
        Err(e) => {
            out.push(check("card_present", Status::Fail, e).fix(tr!(
                "insérez la carte CPS dans le lecteur, puce en premier",
                "insert the CPS card into the reader, chip first"
            )));
            return;
        }
    };
    out.push(check(
        "card_present",
        Status::Ok,
        tr!(
            "carte présente dans {:?}",
            "card present in {:?}",
            reader.name
        ),
    ));
    let mut card = match card::bind_reader(readers, &reader.name, None) {
        Ok(c) => c,
        Err(e) => {
            out.push(recognition_failure(&reader.name, &e));
            return;
        }
    };
    let c = card.contents();
    out.push(check(
        "card_recognised",
        Status::Ok,
        tr!(
            "carte {} reconnue : jeton {}, numéro {}",
            "{} card recognised: token {}, serial {}",
            report::generation_name(c.generation),
            c.label,
            c.serial
        ),
    ));
    out.push(pin_check(&mut card));
    out.push(certificates_check(&card, now));
}

fn recognition_failure(reader: &str, e: &CpxError) -> Check {
    let what = card::card_error(e);
    let msg = tr!("lecteur {reader:?} : {what}", "reader {reader:?}: {what}");
    match e.card() {
        Some(CardError::UnsupportedCard { .. }) => {
            check("card_recognised", Status::Fail, msg).fix(tr!(
                "insérez votre carte CPS3 ou CPS4 (une carte Vitale ou bancaire ne convient pas)",
                "insert your CPS3 or CPS4 card (a Vitale or bank card will not do)"
            ))
        }
        Some(CardError::LegacyCps2ter { .. }) => {
            check("card_recognised", Status::Fail, msg).fix(tr!(
                "cette carte n'est plus utilisable pour s'authentifier ou signer : commandez une \
             carte CPS3/CPS4 (votre ordre, ou l'ANS : esante.gouv.fr)",
                "this card can no longer authenticate or sign: order a CPS3/CPS4 card (from your \
             professional body, or ANS: esante.gouv.fr)"
            ))
        }
        Some(CardError::Transport(TransportError::Sharing)) => {
            check("card_recognised", Status::Fail, msg).fix(tr!(
                "fermez l'application qui garde la carte (logiciel de facturation, navigateur), \
                 puis relancez cpx diag",
                "close the application holding the card (billing software, browser), then run \
                 cpx diag again"
            ))
        }
        _ => check("card_recognised", Status::Fail, msg).fix(tr!(
            "retirez et réinsérez la carte ; si cela persiste : cpx trace > trace.txt, à \
             envoyer au support",
            "remove and reinsert the card; if it persists: cpx trace > trace.txt, to send to \
             the support desk"
        )),
    }
}

fn pin_check(card: &mut CpxCard) -> Check {
    let pin = card::read_pin(card);
    let line = report::pin_line(&pin);
    match &pin {
        Pin::Absent => check(
            "pin",
            Status::Info,
            tr!("code porteur : {line}", "PIN: {line}"),
        ),
        Pin::Unreadable(_) => check(
            "pin",
            Status::Warn,
            tr!("code porteur : {line}", "PIN: {line}"),
        )
        .fix(tr!(
            "retirez et réinsérez la carte",
            "remove and reinsert the card"
        )),
        Pin::Status(s) => {
            let unblock = report::unblock_line(&pin)
                .map(|u| format!(", {u}"))
                .unwrap_or_default();
            let msg = tr!("code porteur : {line}{unblock}", "PIN: {line}{unblock}");
            if pin.blocked_for_good() {
                check("pin", Status::Fail, msg).fix(tr!(
                    "la carte ne peut plus être débloquée : commandez une nouvelle carte \
                     (votre ordre, ou l'ANS : esante.gouv.fr)",
                    "the card can no longer be unblocked: order a new card (from your \
                     professional body, or ANS: esante.gouv.fr)"
                ))
            } else if pin.blocked() {
                check("pin", Status::Fail, msg).fix(tr!(
                    "cpx pin unblock   (avec le code de déblocage PUK reçu avec la carte ; \
                     sans PUK : commandez une nouvelle carte)",
                    "cpx pin unblock   (with the unblocking code PUK sent with the card; \
                     without it: order a new card)"
                ))
            } else if s.tries_left < s.max_tries {
                check("pin", Status::Warn, msg).fix(tr!(
                    "attention au prochain essai : le compteur revient au maximum après un \
                     code correct",
                    "careful with the next try: the counter goes back to the maximum after a \
                     right PIN"
                ))
            } else {
                check("pin", Status::Ok, msg)
            }
        }
    }
}

fn certificates_check(card: &CpxCard, now: i64) -> Check {
    let certs: Vec<_> = card
        .contents()
        .certs
        .iter()
        .filter(|c| !c.authority)
        .collect();
    if certs.is_empty() {
        return check(
            "certificates",
            Status::Fail,
            tr!(
                "aucun certificat sur la carte",
                "no certificate on the card"
            ),
        )
        .fix(tr!(
            "cpx trace > trace.txt, à envoyer au support",
            "cpx trace > trace.txt, to send to the support desk"
        ));
    }
    let mut worst: Option<(Validity, String, i64)> = None;
    for c in &certs {
        let Ok(v) = report::cert_view(c) else {
            return check(
                "certificates",
                Status::Fail,
                tr!(
                    "certificat illisible : {}",
                    "unreadable certificate: {}",
                    c.label
                ),
            );
        };
        let validity = Validity::at(&v, now);
        let rank = |x: Validity| match x {
            Validity::Valid { .. } => 0,
            Validity::ExpiresSoon { .. } => 1,
            Validity::NotYetValid => 2,
            Validity::Expired { .. } => 3,
        };
        let replace = match &worst {
            None => true,
            Some((w, _, end)) => {
                rank(validity) > rank(*w) || (rank(validity) == rank(*w) && v.not_after < *end)
            }
        };
        if replace {
            worst = Some((validity, c.label.clone(), v.not_after));
        }
    }
    let Some((validity, label, end)) = worst else {
        unreachable!("certs is not empty")
    };
    let n = certs.len();
    let end_date = report::utc(end);
    let end_day = &end_date[..10];
    match validity {
        Validity::Valid { days_left } => check(
            "certificates",
            Status::Ok,
            tr!(
                "{n} certificats valides ; le premier expire le {end_day} (dans {days_left} jours)",
                "{n} valid certificates; the first expires on {end_day} (in {days_left} days)"
            ),
        ),
        Validity::ExpiresSoon { days_left } => check(
            "certificates",
            Status::Warn,
            tr!(
                "« {label} » expire le {end_day}, dans {days_left} jours",
                "\"{label}\" expires on {end_day}, in {days_left} days"
            ),
        )
        .fix(tr!(
            "commandez dès maintenant le renouvellement de la carte (ANS : esante.gouv.fr)",
            "order the card's renewal now (ANS: esante.gouv.fr)"
        )),
        Validity::Expired { days_ago } => check(
            "certificates",
            Status::Fail,
            tr!(
                "« {label} » a EXPIRÉ le {end_day} (il y a {days_ago} jours)",
                "\"{label}\" EXPIRED on {end_day} ({days_ago} days ago)"
            ),
        )
        .fix(tr!(
            "la carte ne permet plus de s'authentifier ni de signer : commandez une nouvelle \
             carte (ANS : esante.gouv.fr)",
            "the card can no longer authenticate or sign: order a new card (ANS: \
             esante.gouv.fr)"
        )),
        Validity::NotYetValid => check(
            "certificates",
            Status::Fail,
            tr!(
                "« {label} » n'est pas encore valide",
                "\"{label}\" is not valid yet"
            ),
        )
        .fix(tr!(
            "vérifiez la date et l'heure de l'ordinateur : timedatectl",
            "check the computer's date and time: timedatectl"
        )),
    }
}

/// `cpx register` for that database's application.
fn register_fix(app: &str) -> String {
    if app == "firefox" {
        "cpx register firefox".into()
    } else {
        "cpx register chromium".into()
    }
}

fn module_checks(env: &Env, out: &mut Vec<Check>) {
    let installed = probes::installed_module();
    out.push(match &installed {
        Some(p) => check(
            "module_installed",
            Status::Ok,
            tr!("module installé : {}", "module installed: {}", p.display()),
        ),
        None => check(
            "module_installed",
            Status::Fail,
            tr!(
                "le module cpx-pkcs11 n'est pas installé",
                "the cpx-pkcs11 module is not installed"
            ),
        )
        .fix(tr!(
            "installez le paquet : sudo apt install ./cpx-pkcs11_*.deb",
            "install the package: sudo apt install ./cpx-pkcs11_*.deb"
        )),
    });

    let p11kit = probes::p11kit_modules(env);
    let ours_in_p11kit = p11kit.iter().find(|m| m.kind == ModuleKind::Ours);
    out.push(match ours_in_p11kit {
        Some(m) => check(
            "p11kit",
            Status::Ok,
            tr!(
                "p11-kit : module enregistré ({})",
                "p11-kit: module registered ({})",
                m.name
            ),
        ),
        None => check(
            "p11kit",
            Status::Fail,
            tr!(
                "p11-kit : module non enregistré (GnuTLS, p11-kit-proxy ne voient pas la carte)",
                "p11-kit: module not registered (GnuTLS, p11-kit-proxy do not see the card)"
            ),
        )
        .fix(tr!(
            "réinstallez le paquet (il fournit /usr/share/p11-kit/modules/cpx-pkcs11.module)",
            "reinstall the package (it ships /usr/share/p11-kit/modules/cpx-pkcs11.module)"
        )),
    });

    let dbs = probes::nss_dbs(env);
    if dbs.is_empty() {
        out.push(check(
            "nss",
            Status::Info,
            tr!(
                "aucun profil Firefox ni base NSS de Chromium pour cet utilisateur",
                "no Firefox profile and no Chromium NSS database for this user"
            ),
        ));
    }
    let mut conflicts = Vec::new();
    for db in &dbs {
        let app = if db.app == "firefox" {
            tr!("Firefox (profil {})", "Firefox (profile {})", db.label)
        } else {
            tr!("Chromium ({})", "Chromium ({})", db.label)
        };
        let modules = match &db.modules {
            Ok(m) => m,
            Err(e) => {
                out.push(
                    check(
                        "nss",
                        Status::Warn,
                        tr!(
                            "{app} : base NSS illisible ({e})",
                            "{app}: unreadable NSS database ({e})"
                        ),
                    )
                    .fix(tr!(
                        "fermez le navigateur, puis relancez cpx diag",
                        "close the browser, then run cpx diag again"
                    )),
                );
                continue;
            }
        };
        let direct = modules.iter().find(|m| m.kind == ModuleKind::Ours);
        let proxy = modules.iter().any(|m| m.kind == ModuleKind::P11KitProxy);
        out.push(match (direct, proxy && ours_in_p11kit.is_some()) {
            (Some(m), _) => check(
                "nss",
                Status::Ok,
                tr!(
                    "{app} : module enregistré (« {} »)",
                    "{app}: module registered (\"{}\")",
                    m.name
                ),
            ),
            (None, true) => check(
                "nss",
                Status::Ok,
                tr!(
                    "{app} : module vu par p11-kit-proxy",
                    "{app}: module seen through p11-kit-proxy"
                ),
            ),
            (None, false) => check(
                "nss",
                Status::Fail,
                tr!(
                    "{app} : module non enregistré, le navigateur ne voit pas la carte",
                    "{app}: module not registered, the browser does not see the card"
                ),
            )
            .fix(register_fix(db.app)),
        });
        for m in modules {
            if matches!(m.kind, ModuleKind::Cryptolib | ModuleKind::OpenSc) {
                conflicts.push((app.clone(), Some(db.dir.clone()), m.clone()));
            }
        }
    }
    for m in &p11kit {
        if matches!(m.kind, ModuleKind::Cryptolib | ModuleKind::OpenSc) {
            conflicts.push(("p11-kit".to_string(), None, m.clone()));
        }
    }
    out.push(conflict_check(&conflicts));
}

fn conflict_check(conflicts: &[(String, Option<std::path::PathBuf>, Registered)]) -> Check {
    let cryptolib: Vec<_> = conflicts
        .iter()
        .filter(|(_, _, m)| m.kind == ModuleKind::Cryptolib)
        .collect();
    if let Some((place, dir, m)) = cryptolib.first() {
        let lib = m.library.display();
        let c = check(
            "module_conflict",
            Status::Fail,
            tr!(
                "la Cryptolib CPS ({lib}) est aussi enregistrée dans {place} : deux modules se \
                 disputent la même carte",
                "the Cryptolib CPS ({lib}) is registered too in {place}: two modules claim the \
                 same card"
            ),
        );
        let name = &m.name;
        return c.fix(match dir {
            Some(d) => format!("modutil -dbdir sql:{} -delete \"{name}\"", d.display()),
            None => tr!(
                "désinstallez la Cryptolib, ou retirez son fichier {name}.module de p11-kit",
                "uninstall the Cryptolib, or remove its {name}.module file from p11-kit"
            ),
        });
    }
    if let Some((place, _, m)) = conflicts.first() {
        let name = &m.name;
        return check(
            "module_conflict",
            Status::Warn,
            tr!(
                "OpenSC ({name}, dans {place}) reconnaît aussi les CPS3 : deux jetons pour la \
                 même carte",
                "OpenSC ({name}, in {place}) also claims CPS3 cards: two tokens for the same \
                 card"
            ),
        )
        .fix(tr!(
            "choisissez le jeton « CPS3v3-… » de cpx-pkcs11 ; si une application se trompe : \
             sudo apt remove opensc-pkcs11",
            "pick cpx-pkcs11's \"CPS3v3-…\" token; if an application picks the wrong one: \
             sudo apt remove opensc-pkcs11"
        ));
    }
    let files = probes::cryptolib_files();
    if let Some(f) = files.first() {
        return check(
            "module_conflict",
            Status::Info,
            tr!(
                "la Cryptolib est installée ({}) mais enregistrée nulle part",
                "the Cryptolib is installed ({}) but registered nowhere",
                f.display()
            ),
        );
    }
    check(
        "module_conflict",
        Status::Ok,
        tr!(
            "aucun autre module ne revendique la carte",
            "no other module claims the card"
        ),
    )
}

fn cache_check(settings: &CacheSettings) -> Check {
    let Some(state) = probes::cache_state(settings) else {
        return check(
            "cache",
            Status::Info,
            tr!(
                "cache : pas de répertoire personnel",
                "cache: no home directory"
            ),
        );
    };
    let dir = state.dir.display().to_string();
    if state.disabled {
        return check(
            "cache",
            Status::Info,
            tr!(
                "cache désactivé (CPX_PKCS11_CACHE=off ou réglage de l'administrateur)",
                "cache disabled (CPX_PKCS11_CACHE=off or the administrator's setting)"
            ),
        );
    }
    if !state.exists {
        return check(
            "cache",
            Status::Ok,
            tr!("cache vide ({dir})", "cache empty ({dir})"),
        );
    }
    if !state.private || !state.owned {
        return check(
            "cache",
            Status::Fail,
            tr!(
                "cache {dir} : droits incorrects (doit appartenir à l'utilisateur, mode 0700)",
                "cache {dir}: wrong permissions (must belong to the user, mode 0700)"
            ),
        )
        .fix(tr!(
            "cpx cache clear, puis : chmod 700 {dir}",
            "cpx cache clear, then: chmod 700 {dir}"
        ));
    }
    let (n, kib) = (state.entries, state.bytes.div_ceil(1024));
    if state.damaged > 0 {
        let d = state.damaged;
        return check(
            "cache",
            Status::Warn,
            tr!(
                "cache : {d} entrée(s) abîmée(s), que le module relira sur la carte ({dir})",
                "cache: {d} damaged entry(ies), which the module will read from the card again \
                 ({dir})"
            ),
        )
        .fix("cpx cache clear".into());
    }
    check(
        "cache",
        Status::Ok,
        tr!(
            "cache : {n} carte(s), {kib} Kio ({dir})",
            "cache: {n} card(s), {kib} KiB ({dir})"
        ),
    )
}

pub fn text(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let _ = writeln!(out, "{} {}", c.status.tag(), c.message);
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "        → {fix}");
        }
    }
    let errors = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warnings = checks.iter().filter(|c| c.status == Status::Warn).count();
    let _ = writeln!(
        out,
        "\n{}",
        match (errors, warnings) {
            (0, 0) => tr!("Tout va bien.", "All is well."),
            (0, w) => tr!(
                "{w} avertissement(s), aucun problème bloquant.",
                "{w} warning(s), nothing blocking."
            ),
            (e, w) => tr!(
                "{e} problème(s), {w} avertissement(s) : suivez les flèches →.",
                "{e} problem(s), {w} warning(s): follow the arrows →."
            ),
        }
    );
    out
}

pub fn json(checks: &[Check]) -> Json {
    let errors = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warnings = checks.iter().filter(|c| c.status == Status::Warn).count();
    Json::Obj(vec![
        (
            "checks",
            Json::Arr(
                checks
                    .iter()
                    .map(|c| {
                        Json::Obj(vec![
                            ("id", Json::str(c.id)),
                            ("status", Json::str(c.status.id())),
                            ("message", Json::str(&c.message)),
                            ("fix", Json::opt(c.fix.as_ref().map(Json::str))),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("errors", Json::uint(errors)),
        ("warnings", Json::uint(warnings)),
    ])
}

pub fn exit_code(checks: &[Check]) -> u8 {
    match checks.iter().map(|c| c.status).max() {
        Some(Status::Fail) => EXIT_PROBLEM,
        Some(Status::Warn) => EXIT_WARNING,
        _ => EXIT_OK,
    }
}
