//! The `herald` command: parses arguments, loads the config, and wires the library's steps
//! together for `serve`, `build` and `check`. Holds no logic the steps need.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use herald::config::{self, Settings};
use herald::diagnostic::show;
use herald::engine::{self, Hooks};
use herald::http::{self, HttpSettings, Ops};
use herald::metrics::Metrics;
use herald::site::{Handles, Site};
use herald::{logging, output, persist, systemd};

/// Exit status for a configuration error (sysexits EX_CONFIG), as systemd units expect.
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "herald",
    version,
    about = "Publishes a Markdown content directory as RSS, Atom and JSON feeds"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the settings come from, on every subcommand.
#[derive(clap::Args)]
struct Sources {
    /// Config file [default: config/herald.yaml, unless --hugo-site is given].
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Root of a Hugo site: its own configuration is read (the config file's keys override
    /// it); no config file is needed.
    #[arg(long, value_name = "DIR")]
    hugo_site: Option<PathBuf>,
    /// Keep the list of feeds as DIR/herald.json (e.g. the Hugo site's `data/`), for the
    /// site's templates to link each page's feeds (integrations/hugo).
    #[arg(long, value_name = "DIR")]
    hugo_data: Option<PathBuf>,
}

impl Sources {
    fn load(&self) -> Result<Settings, config::ConfigError> {
        let default = PathBuf::from("config/herald.yaml");
        let file = match (&self.config, &self.hugo_site) {
            (Some(c), _) => Some(c.as_path()),
            (None, Some(_)) => None,
            (None, None) => Some(default.as_path()),
        };
        let mut settings = config::load_with(file, self.hugo_site.as_deref())?;
        settings.hugo_data = self.hugo_data.clone();
        Ok(settings)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Build every feed and serve them over HTTP.
    Serve {
        #[command(flatten)]
        sources: Sources,
        /// Listen on this address instead of the config's `listen` (e.g. 127.0.0.1:0).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Write every feed (and its .gz/.br variants) to a folder, atomically.
    Build {
        #[command(flatten)]
        sources: Sources,
        /// Output folder; replaced as a whole.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Report every problem in the content as path:line: message; exit 1 if there is any.
    Check {
        #[command(flatten)]
        sources: Sources,
    },
}

// `herald generate DIR`, for packaging (deploy/debian/build): not part of `Cli`, so that
// `--help`, the man pages and the completions it writes show only the public commands.
#[derive(Parser)]
#[command(
    name = "herald-generate",
    bin_name = "herald generate",
    about = "Write the man pages and shell completions of herald (for packaging)"
)]
struct Generate {
    /// Output folder: man/*.1 and completions/{herald.bash,_herald,herald.fish}.
    out: PathBuf,
}

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "generate")
    {
        let args = Generate::parse_from(std::env::args_os().skip(1));
        return match generate(&args.out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("herald: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    let sources = match &cli.command {
        Command::Serve { sources, .. }
        | Command::Build { sources, .. }
        | Command::Check { sources } => sources,
    };
    let settings = match sources.load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("herald: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    logging::init(settings.log_format);
    let result = match cli.command {
        Command::Serve { listen, .. } => serve(settings, listen),
        Command::Build { out, .. } => build(&settings, &out),
        Command::Check { .. } => check(&settings),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("herald: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// What a site shares with the process. `serving` keeps state across restarts (a build has
/// none: its output must depend on the content alone).
fn handles(settings: &Settings, serving: bool) -> Handles {
    let dir = if serving { state_dir(settings) } else { None };
    let state = std::sync::Arc::new(match dir {
        Some(dir) => herald::state::State::open(&dir),
        None if !serving => herald::state::State::memory(),
        None => {
            tracing::info!("no state directory (set state_dir, or run under systemd's StateDirectory=): Last-Modified and known feeds start from the content on each start");
            herald::state::State::in_process()
        }
    });
    Handles::new(herald::clock::Clock::from_env(), state)
}

/// Loads the content and publishes its first snapshot into `handles`.
fn load_site(settings: &Settings, handles: Handles) -> anyhow::Result<Site> {
    for warning in &settings.warnings {
        tracing::warn!("Hugo site setting: {warning}");
    }
    let site = Site::load_into(settings, handles).context("cannot load the content")?;
    site.log_problems(&settings.content.dir);
    Ok(site)
}

/// Where `serve` keeps its state: `state_dir`, else systemd's `$STATE_DIRECTORY` (its first
/// entry), else `/var/lib/herald` when that folder exists (systemd makes it for the
/// packaged unit's `StateDirectory=herald` on its first start).
fn state_dir(settings: &Settings) -> Option<std::path::PathBuf> {
    if let Some(dir) = &settings.state_dir {
        return Some(dir.clone());
    }
    if let Some(dirs) = std::env::var_os("STATE_DIRECTORY") {
        let first = dirs
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_owned();
        if !first.is_empty() {
            return Some(first.into());
        }
    }
    let default = std::path::Path::new("/var/lib/herald");
    default.is_dir().then(|| default.to_owned())
}

/// Writes the man pages (`herald.1` and one per subcommand) and the shell
/// completions, from the same definition the arguments are parsed with, so they cannot
/// drift from the binary they ship with.
fn generate(out: &Path) -> anyhow::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    use clap_mangen::roff::{bold, roman, Roff};

    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    let man_dir = out.join("man");
    let completions_dir = out.join("completions");
    for dir in [&man_dir, &completions_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }

    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    // herald.1: clap's sections, then what a man page reader looks for and clap has no
    // field for (exit status, files, the environment, where to read on).
    let man = clap_mangen::Man::new(cmd.clone()).manual("Herald manual");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    let mut extra = Roff::new();
    extra.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "success; for check, no problems in the content (warnings do not count)"),
        ("1", "check found problems, or a command failed"),
        ("78", "the configuration does not load or validate (EX_CONFIG; the systemd unit does not restart on it)"),
    ] {
        extra.control("TP", []).text([bold(code)]).text([roman(meaning)]);
    }
    extra.control("SH", ["FILES"]);
    for (path, meaning) in [
        ("/etc/herald/herald.yaml", "the configuration the packaged service reads; every key is documented in it. systemctl reload herald re-reads it."),
        ("/var/lib/herald/herald.redb", "what serve remembers across restarts (validators, feeds ever published): systemd's StateDirectory=herald, or state_dir in the configuration."),
        ("/var/lib/herald/snapshot.redb", "the feeds serve last served, served at the next start while the content loads; deleting it costs one slower start."),
        ("/usr/lib/systemd/system/herald.service, herald.socket", "the service (disabled until systemctl enable --now herald) and its optional socket activation."),
    ] {
        extra.control("TP", []).text([bold(path)]).text([roman(meaning)]);
    }
    extra.control("SH", ["ENVIRONMENT"]);
    extra
        .control("TP", [])
        .text([bold("RUST_LOG")])
        .text([roman(
            "filters the log lines on stderr, e.g. RUST_LOG=herald=debug.",
        )]);
    extra
        .control("TP", [])
        .text([bold("STATE_DIRECTORY")])
        .text([roman(
            "set by systemd: where serve keeps its state when state_dir is not set.",
        )]);
    extra.control("SH", ["SEE ALSO"]);
    extra.text([
        bold("herald-serve"),
        roman("(1), "),
        bold("herald-build"),
        roman("(1), "),
        bold("herald-check"),
        roman("(1), "),
        bold("systemctl"),
        roman("(1), "),
        bold("systemd.exec"),
        roman("(5); the README in the source repository."),
    ]);
    extra.to_writer(&mut page)?;
    man.render_version_section(&mut page)?;
    write(man_dir.join(man.get_filename()), &page)?;
    // One page per subcommand, with its own options (herald-serve.1, …).
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        clap_mangen::Man::new(sub.clone())
            .manual("Herald manual")
            .source(format!("herald {}", env!("CARGO_PKG_VERSION")))
            .generate_to(&man_dir)
            .with_context(|| format!("cannot write the man page of {}", sub.get_name()))?;
    }

    for (shell, file) in [
        (Shell::Bash, "herald.bash"),
        (Shell::Zsh, "_herald"),
        (Shell::Fish, "herald.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "herald", &mut script);
        write(completions_dir.join(file), &script)?;
    }
    Ok(())
}

fn check(settings: &Settings) -> anyhow::Result<ExitCode> {
    // What a server published (if its state is here and free): a post that would get a new
    // id is warned about. Read only: a check changes nothing a server remembers.
    let state = match state_dir(settings) {
        Some(dir) => herald::state::State::read_only(&dir),
        None => herald::state::State::memory(),
    };
    let site = Site::load_into(
        settings,
        Handles::new(herald::clock::Clock::from_env(), std::sync::Arc::new(state)),
    )
    .context("cannot load the content")?;
    let problems = site.problems();
    let warnings = site.warnings();
    // Site settings Herald does not follow: said once each, never a failure.
    if let Some(root) = &settings.hugo_site {
        for warning in &settings.warnings {
            println!("{}: warning: {warning}", root.display());
        }
    }
    for problem in &problems {
        println!("{}", show(&settings.content.dir, problem));
    }
    // Warnings (mojibake, dropped terms) are shown but do not fail the check.
    for warning in &warnings {
        println!("{}", show(&settings.content.dir, warning));
    }
    println!(
        "{} posts, {} feeds, {} problems, {} warnings",
        site.index.len(),
        site.index.feed_count(),
        problems.len(),
        warnings.len()
    );
    // As in `build`: left to the OS at exit.
    std::mem::forget(site);
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn build(settings: &Settings, out: &Path) -> anyhow::Result<ExitCode> {
    let site = load_site(settings, handles(settings, false))?;
    let files = output::write(&site.snapshot(), out)
        .with_context(|| format!("cannot write the feeds to {}", out.display()))?;
    println!("wrote {files} files to {}", out.display());
    // The process ends here: the OS takes the memory back at once, where freeing every
    // post one by one took a tenth of a 10,000-post build (perf).
    std::mem::forget(site);
    Ok(ExitCode::SUCCESS)
}

/// Serves until SIGTERM/SIGINT, then lets in-flight requests finish and exits 0.
///
/// Order matters under systemd (`Type=notify`): signal handlers first (an early SIGHUP
/// must not kill the process), then the listener (inherited from socket activation, or
/// bound here), then the feeds, and only then `READY=1`. The feeds are the snapshot the
/// last run stored when there is one for these settings (a warm start: served at once,
/// while the content loads in the background), else the content's, once it is loaded.
fn serve(settings: Settings, listen: Option<std::net::SocketAddr>) -> anyhow::Result<ExitCode> {
    // Before the runtime starts its threads: this clears the LISTEN_* variables.
    let inherited = systemd::take_listener().context("cannot use the socket systemd passed")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let mut signals = Signals::install()?;
        let listener = match inherited {
            Some(socket) => {
                tracing::info!("serving on the socket systemd passed (socket activation); `listen` is not used");
                tokio::net::TcpListener::from_std(socket)
                    .context("cannot use the socket systemd passed")?
            }
            None => {
                let addr = listen.unwrap_or(settings.http.listen);
                http::bind(addr, settings.http.max_connections)
                    .with_context(|| format!("cannot listen on {addr}"))?
            }
        };
        let local = listener.local_addr().context("listener has no address")?;
        let metrics = Arc::new(Metrics::new());
        let started = Instant::now();
        // Loading a big site takes seconds: SIGTERM meanwhile stops at once.
        // Those who push changes outward listen before the first publish, so that what
        // changed while Herald was down (against the remembered state) is told too.
        let handles = handles(&settings, true);
        let _purging = herald::purge::start(
            &settings.purge,
            &settings.feeds.base_url,
            || handles.announcer.listen(),
            metrics.clone(),
        );
        let websub = herald::websub::start(&settings.websub, &handles, metrics.clone());
        let http_settings = HttpSettings {
            max_connections: settings.http.max_connections,
            header_read_timeout: settings.http.header_read_timeout,
            keep_alive_timeout: settings.http.keep_alive_timeout,
            shutdown_grace: settings.http.shutdown_grace,
        };
        let ops = Ops {
            metrics: metrics.clone(),
            health_path: settings.http.health_path.clone(),
            metrics_path: settings.http.metrics_path.clone(),
            websub: websub.as_ref().and_then(|w| w.hub()),
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        // What the last run served, if it stored it under these settings; and the thread
        // that stores what this run serves, for the next one.
        let store = handles.state.snapshot_store();
        let warm = store.as_ref().and_then(|store| persist::warm(store, &settings));
        let persister = store.map(|store| {
            persist::start(
                store,
                handles.shared.clone(),
                handles.announcer.listen(),
                metrics.clone(),
                warm.as_ref().map(|w| w.snapshot.clone()),
                stop_rx.clone(),
            )
        });
        let mut listener = Some(listener);
        let mut server = None;
        if let Some(warm) = warm {
            handles.shared.store(warm.snapshot.clone());
            metrics.warm_start(started.elapsed(), warm.posts, warm.feeds, warm.problems);
            println!(
                "herald: serving {} posts on http://{local}/ (as the last run stored them, while the content loads)",
                warm.posts
            );
            print_urls(&warm.snapshot, local);
            server = Some(tokio::spawn(http::serve_with(
                listener.take().expect("not yet taken"),
                handles.shared.clone(),
                http_settings.clone(),
                ops.clone(),
                wait_for(stop_rx.clone()),
            )));
            let status = format!("{}; loading the content", engine::status_line(&metrics));
            systemd::ready(&status);
            tracing::info!(address = %local, "{status}");
        }
        let loading = {
            let settings = settings.clone();
            let handles = handles.clone();
            tokio::task::spawn_blocking(move || {
                hold_load_for_tests();
                load_site(&settings, handles)
            })
        };
        let site = tokio::select! {
            loaded = loading => loaded.context("loading the content failed")??,
            () = signals.stopped() => {
                tracing::info!("stopped while loading the content");
                if let Some(server) = server {
                    systemd::stopping();
                    let _ = stop_tx.send(true);
                    let _ = server.await;
                }
                return Ok(ExitCode::SUCCESS);
            }
        };
        let status = engine::report(&site, &metrics, started.elapsed());
        if let Some(persister) = &persister {
            persister.loaded();
        }
        let snapshot = site.shared();
        if server.is_none() {
            println!(
                "herald: serving {} posts on http://{local}/",
                site.index.len()
            );
            print_urls(&snapshot.load(), local);
        } else {
            tracing::info!(
                posts = site.index.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "content loaded: its feeds replace the stored ones"
            );
        }
        // Room for one pending reload: SIGHUPs that arrive while one waits are the same
        // request (a storm of them becomes one reload).
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
        let hooks = Hooks {
            metrics,
            reload: reload_rx,
            watchdog: systemd::watchdog_interval(),
        };
        // The owner reads, parses, renders and reloads: blocking work that must never take
        // the HTTP runtime's worker threads. It gets a thread and a runtime of its own.
        let owner_stop = wait_for(stop_rx.clone());
        let mut owner = tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("herald-owner")
                .build()
                .expect("a current-thread runtime starts");
            runtime.block_on(engine::run(site, settings, hooks, owner_stop));
        });
        let warm_started = server.is_some();
        let server = match (server, listener) {
            (Some(server), _) => server,
            (None, Some(listener)) => tokio::spawn(http::serve_with(
                listener,
                snapshot,
                http_settings,
                ops,
                wait_for(stop_rx),
            )),
            (None, None) => unreachable!("the listener is taken only by a server"),
        };
        if warm_started {
            systemd::status(&status);
        } else {
            // The listener is bound (connections queue in its backlog until the server
            // task accepts them) and the first snapshot is published.
            systemd::ready(&status);
        }
        tracing::info!(address = %local, "{status}");
        // The owner never returns before it is told to stop: if it does (a panic), the
        // served feeds would silently freeze, so stop and exit non-zero for systemd to
        // restart the service.
        let owner_died = tokio::select! {
            _ = signals.serve_until_stopped(&reload_tx) => false,
            ended = &mut owner => {
                tracing::error!(error = ?ended.err(), "the rebuild task stopped unexpectedly; exiting so that the service is restarted");
                true
            }
        };
        systemd::stopping();
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        server
            .await
            .context("server task failed")?
            .context("server failed")?;
        if owner_died {
            return Ok(ExitCode::FAILURE);
        }
        // The owner stops at its next turn of the loop; one in the middle of a long rebuild
        // is not waited for beyond the grace period: nothing it holds needs saving.
        if tokio::time::timeout(OWNER_GRACE, owner).await.is_err() {
            tracing::info!("the rebuild loop was still busy at shutdown; exiting without waiting for it");
        }
        // What is served now, stored for the next start (it was told to stop with the rest).
        if let Some(persister) = persister {
            persister.finished(PERSIST_GRACE).await;
        }
        Ok(ExitCode::SUCCESS)
    });
    // Do not wait for a rebuild still running on the owner's thread.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

/// Test builds only: `HERALD_TEST_HOLD_LOAD=PATH` holds `serve`'s content load until PATH
/// exists, so that a test can look at what a warm start serves before the load ends.
fn hold_load_for_tests() {
    #[cfg(debug_assertions)]
    if let Some(path) = std::env::var_os("HERALD_TEST_HOLD_LOAD") {
        while !Path::new(&path).exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// How long shutdown waits for the stored snapshot to catch up with what is served.
const PERSIST_GRACE: Duration = Duration::from_secs(2);

/// How long shutdown waits for the owner to finish what it is doing, after the HTTP
/// server has drained (which `shutdown_grace_secs` bounds).
const OWNER_GRACE: Duration = Duration::from_millis(500);

/// The feeds a newcomer can open right away; a big site's list is cut short (the index
/// page at `/` lists them all).
fn print_urls(snapshot: &herald::snapshot::Snapshot, local: std::net::SocketAddr) {
    const SHOWN: usize = 40;
    // Site-wide feeds first, then the per-topic ones.
    let mut paths: Vec<&String> = snapshot.resources.keys().collect();
    paths.sort_by_key(|p| (p.matches('/').count(), p.as_str()));
    for path in paths.iter().take(SHOWN) {
        println!("  http://{local}{path}");
    }
    if paths.len() > SHOWN {
        println!(
            "  … and {} more: every feed is listed at http://{local}/",
            paths.len() - SHOWN
        );
    }
}

async fn wait_for(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// The signals `serve` handles.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind: SignalKind| signal(kind).context("cannot install a signal handler");
        Ok(Signals {
            term: install(SignalKind::terminate())?,
            int: install(SignalKind::interrupt())?,
            hup: install(SignalKind::hangup())?,
        })
    }

    /// Returns on SIGTERM or SIGINT; a SIGHUP meanwhile waits for [`Self::serve_until_stopped`].
    async fn stopped(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }

    /// Passes each SIGHUP on as a reload request; returns on SIGTERM or SIGINT (Ctrl-C).
    async fn serve_until_stopped(&mut self, reload: &tokio::sync::mpsc::Sender<()>) {
        loop {
            tokio::select! {
                _ = self.term.recv() => return,
                _ = self.int.recv() => return,
                _ = self.hup.recv() => {
                    let _ = reload.try_send(());
                }
            }
        }
    }
}
