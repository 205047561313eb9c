//! `jiralink`: the command line. Parses arguments, installs logging, runs one subcommand and chooses
//! the exit code (0 success, 1 the operation failed, 2 bad usage or bad input).

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// The simulator renders large JSON pages from many small allocations; mimalloc halves their cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells the allocator to keep the memory it frees for reuse instead of returning it to the
/// system after a second. A sync allocates each response body (megabytes for a page of issues)
/// and each issue's JSON text afresh; returned memory comes back as new pages the kernel must
/// zero, which was the largest single cost of a sync's CPU (`clear_page_erms`, 9-15%): a
/// 20,000-issue sync into PostgreSQL took 1,150 page faults instead of 38,000, and some 10% less
/// CPU. Batch commands only: they end, and their peak is what they hold anyway; `serve` and
/// `sim` keep mimalloc's default and give memory back.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    /// `mi_option_purge_delay` in mimalloc.h (v2 and v3 alike: after `..._eager_commit_delay`,
    /// 14, before `mi_option_use_numa_nodes`, 16); -1 is "never purge".
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets one of mimalloc's options, which it reads atomically; no memory is touched.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[derive(Debug, Parser)]
#[command(
    name = "jiralink",
    version,
    about = "Connect your systems to Jira: credentials, connection tests, access audit, sync, insights, and a Jira simulator",
    after_help = "Examples:\n  jiralink demo                          # the whole flow against a built-in simulator\n  jiralink credential add prod --url https://acme.atlassian.net --auth cloud-token --email me@acme.com --secret-env JIRA_TOKEN\n  jiralink sync prod && jiralink insights\n  jiralink completions bash > ~/.local/share/bash-completion/completions/jiralink"
)]
struct Cli {
    /// Directory holding config, vault and the default SQLite store.
    #[arg(long, global = true, env = "JIRALINK_HOME")]
    home: Option<std::path::PathBuf>,
    /// The store: sqlite:PATH (default: the jiralink home's jiralink.db) or
    /// postgres://USER@HOST[:PORT]/DB (password from PGPASSWORD).
    #[arg(long, global = true, env = "JIRALINK_STORE")]
    store: Option<String>,
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole flow against a built-in simulator.
    #[command(after_help = "Examples:\n  jiralink demo\n  jiralink --json demo")]
    Demo(cmd::demo::Args),
    /// Run the Jira simulator.
    #[command(after_help = "Examples:\n  jiralink sim\n  jiralink sim --bind 127.0.0.1:8080")]
    Sim(Box<cmd::sim::Args>),
    /// Manage credentials: add, list, show, test, rotate, remove.
    #[command(
        after_help = "Examples:\n  jiralink credential add prod --url https://acme.atlassian.net --auth cloud-token --email me@acme.com --secret-env JIRA_TOKEN\n  jiralink credential list\n  jiralink credential test prod"
    )]
    Credential(cmd::credential::Args),
    /// Audit what a credential can see and do: projects, permissions, least-privilege findings.
    #[command(
        after_help = "Examples:\n  jiralink access prod\n  jiralink access prod --fail-on warning          # for cron: exit 1 on any unaccepted warning\n  jiralink access prod --ack site_admin --reason \"Jira Align requires admin\"\n  jiralink access prod --ack project_appeared:MOB  # take MOB into the baseline\n  jiralink access prod --unack site_admin\n  jiralink access prod --acks                      # accepted findings and their history\n  jiralink --json access prod"
    )]
    Access(cmd::access::Args),
    /// Mirror Jira into the store: incremental, with deletes, resumable.
    #[command(
        after_help = "Examples:\n  jiralink sync prod\n  jiralink --store postgres://jiralink@db.internal/jira sync prod"
    )]
    Sync(cmd::sync::Args),
    /// Write-back: make Jira match the records of a JSONL or CSV file, idempotently, audited.
    #[command(
        after_help = "Examples:\n  jiralink apply prod issues.jsonl --dry-run\n  jiralink apply prod issues.jsonl\n  jiralink apply prod --log --since 2024-05-01"
    )]
    Apply(cmd::apply::Args),
    /// Last sync runs, counts, watermarks and errors.
    #[command(after_help = "Examples:\n  jiralink status\n  jiralink --json status")]
    Status,
    /// Compare the store with Jira (ids per project, sampled update times) and report drift.
    #[command(after_help = "Examples:\n  jiralink verify prod")]
    Verify(cmd::sync::VerifyArgs),
    /// Delivery insights from the store: flow, sprints, quality, hygiene, forecasts, HTML report.
    #[command(after_help = "Examples:\n  jiralink insights\n  jiralink --json insights")]
    Insights(Box<cmd::insights::Args>),
    /// Serve the web app and JSON HTTP API for a team.
    #[command(
        after_help = "Examples:\n  jiralink serve\n  jiralink serve --bind 0.0.0.0:8080 --public-url https://jiralink.corp.example"
    )]
    Serve(cmd::serve::Args),
    /// Web-app accounts: add, list, remove.
    #[command(
        after_help = "Examples:\n  jiralink user add ann --role admin\n  jiralink user list"
    )]
    User(cmd::user::Args),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  jiralink completions bash > ~/.local/share/bash-completion/completions/jiralink\n  jiralink completions zsh > \"${fpath[1]}/_jiralink\"\n  jiralink completions fish > ~/.config/fish/completions/jiralink.fish"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Output settings every command shares.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

/// Global options every command may use.
#[derive(Debug, Clone)]
pub struct Global {
    pub home: Option<std::path::PathBuf>,
    pub store: Option<String>,
    pub out: Output,
    /// `-q`: no progress output.
    pub quiet: bool,
}

/// A closed stdout (`jiralink status | head -1`) ends the program quietly, like other Unix tools,
/// instead of the panic `println!` raises on a broken pipe.
fn exit_quietly_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    exit_quietly_on_closed_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return ExitCode::SUCCESS;
            }
            // Under --json, a usage error is an object on stdout too.
            if std::env::args().any(|a| a == "--json") {
                let message = e.to_string();
                let first = message
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ");
                json_error("usage", first);
            }
            return ExitCode::from(2);
        }
    };
    if let Command::Completions { shell } = cli.command {
        use clap::CommandFactory;
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "jiralink",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    init_logging(cli.verbose, cli.quiet);
    if matches!(
        cli.command,
        Command::Sync(_) | Command::Apply(_) | Command::Demo(_) | Command::Verify(_)
    ) {
        keep_freed_memory();
    }
    let out = Output { json: cli.json };
    let global = Global {
        home: cli.home.clone(),
        store: cli.store.clone(),
        out,
        quiet: cli.quiet,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => cmd::demo::run(args, out).await,
            Command::Sim(args) => cmd::sim::run(*args, out).await,
            Command::Credential(args) => cmd::credential::run(args, global).await,
            Command::Access(args) => cmd::access::run(args, global).await,
            Command::Sync(args) => cmd::sync::run(args, global).await,
            Command::Apply(args) => cmd::apply::run(args, global).await,
            Command::Status => cmd::sync::status(global),
            Command::Verify(args) => cmd::sync::verify(args, global).await,
            Command::Insights(args) => cmd::insights::run(*args, global).await,
            Command::Serve(args) => cmd::serve::run(args, global).await,
            Command::User(args) => cmd::user::run(args, global),
            Command::Completions { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = cmd::exit_code(&e);
            // A `Failed` command has printed its own JSON report; any other error becomes one.
            if out.json && e.downcast_ref::<cmd::Failed>().is_none() {
                let kind = if code == ExitCode::from(2) {
                    "usage"
                } else {
                    "failed"
                };
                json_error(kind, &format!("{e:#}"));
            }
            code
        }
    }
}

/// `{"error": {"kind": ..., "message": ...}}` on one line of stdout.
fn json_error(kind: &str, message: &str) {
    println!(
        "{}",
        serde_json::json!({"error": {"kind": kind, "message": message}})
    );
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    // JIRALINK_LOG, else RUST_LOG, else what -v / -q ask for.
    let filter = tracing_subscriber::EnvFilter::try_from_env("JIRALINK_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a person at a terminal, and never with NO_COLOR (no-color.org).
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}
