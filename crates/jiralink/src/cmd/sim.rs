//! `jiralink sim`: runs the simulator, prints its one start-up JSON line, serves until SIGINT/SIGTERM.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use jiralink_sim::{Deployment, GenConfig, SimBuilder, SimConfig};

use super::UsageError;
use crate::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which product to simulate.
    #[arg(long, value_enum, default_value = "cloud")]
    deployment: DeploymentArg,
    /// Address to listen on (loopback by default; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Seed of the data generator: the same seed gives the same site.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of issues to generate.
    #[arg(long, default_value_t = 1000)]
    issues: usize,
    /// Number of projects (default: from the issue count).
    #[arg(long)]
    projects: Option<usize>,
    /// Added latency per request in milliseconds (with ±50% jitter).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Requests per second per identity (token bucket; 429 with Retry-After beyond it).
    #[arg(long)]
    rate_limit: Option<f64>,
    /// Probability of a fault per request: 500, 502, 503, connection reset, truncated body, or
    /// applied then lost (the request runs, then a 504 or a reset).
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// The faults --fault-rate draws from, comma-separated: 500, 502, 503, reset, truncated, lost
    /// (default: all of them).
    #[arg(long, value_delimiter = ',', value_parser = jiralink_sim::FaultKind::parse)]
    fault_kinds: Vec<jiralink_sim::FaultKind>,
    /// Changes per second made while serving (creates, updates, moves, deletes, comments, worklogs).
    #[arg(long, default_value_t = 0.0)]
    mutate_per_s: f64,
    /// Serve HTTPS with a self-signed certificate (its PEM path is in the start-up line).
    #[arg(long)]
    tls: bool,
    /// Keep Cloud's removed `search` endpoint (instead of 410 Gone), for older clients.
    #[arg(long)]
    legacy_search: bool,
    /// Data Center context path, such as /jira.
    #[arg(long, default_value = "")]
    context_path: String,
    /// Seconds a `nextPageToken` stays valid; an older one answers 400 as Cloud does.
    #[arg(long, default_value_t = jiralink_sim::DEFAULT_PAGE_TOKEN_TTL_S)]
    page_token_ttl: u64,
    /// Data Center release to simulate, such as 8.20, 9.12 or 10.3 (serverInfo, the sprint
    /// field's string layout, personal access tokens from 8.14).
    #[arg(long, default_value = "9.12.15")]
    dc_version: String,
    /// Data Center's server page cap (jira.search.views.default.max): searches and lists cut
    /// maxResults to it.
    #[arg(long, default_value_t = 1000)]
    dc_max_results: usize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DeploymentArg {
    Cloud,
    Datacenter,
}

pub async fn run(args: Args, _out: Output) -> anyhow::Result<()> {
    let dc_version: jiralink_sim::DcVersion = args
        .dc_version
        .parse()
        .map_err(|e: jiralink_sim::SimError| anyhow::Error::new(UsageError(e.to_string())))?;
    let datacenter = matches!(args.deployment, DeploymentArg::Datacenter);
    if !datacenter
        && (args.dc_max_results != 1000 || dc_version != jiralink_sim::DcVersion::DEFAULT)
    {
        return Err(anyhow::Error::new(UsageError(
            "--dc-version and --dc-max-results apply to --deployment datacenter only".into(),
        )));
    }
    if !args.bind.ip().is_loopback() {
        tracing::warn!(
            "the simulator listens on {}, which is not a loopback address",
            args.bind
        );
    }
    let cfg = SimConfig {
        gen: GenConfig {
            deployment: match args.deployment {
                DeploymentArg::Cloud => Deployment::Cloud,
                DeploymentArg::Datacenter => Deployment::Datacenter,
            },
            seed: args.seed,
            issues: args.issues,
            projects: args.projects,
        },
        bind: args.bind,
        latency_ms: args.latency_ms,
        rate_limit: args.rate_limit,
        fault_rate: args.fault_rate,
        fault_kinds: if args.fault_kinds.is_empty() {
            jiralink_sim::FaultKind::ALL.to_vec()
        } else {
            args.fault_kinds
        },
        mutate_per_s: args.mutate_per_s,
        tls: args.tls,
        legacy_search: args.legacy_search,
        context_path: args.context_path,
        page_token_ttl_s: args.page_token_ttl,
        dc_version,
        dc_max_results: args.dc_max_results,
        ..SimConfig::default()
    };
    let sim = SimBuilder::config(cfg).start().await.map_err(|e| match e {
        jiralink_sim::SimError::Config(m) => anyhow::Error::new(UsageError(m)),
        other => anyhow::Error::new(other),
    })?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", sim.startup_line()).context("cannot write the start-up line")?;
    stdout.flush().context("cannot write the start-up line")?;
    drop(stdout);
    shutdown_signal().await;
    let unmatched = sim.unmatched();
    if !unmatched.is_empty() {
        tracing::warn!(
            count = unmatched.len(),
            "requests matched no simulator route"
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
