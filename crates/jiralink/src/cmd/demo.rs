//! `jiralink demo`: starts the built-in simulator and shows a first connection to it. Later steps of
//! the flow (credential, access audit, sync, insights) join as they are built.

use std::time::Instant;

use anyhow::{bail, Context};
use jiralink_sim::{Deployment, Sim};
use serde_json::{json, Value};

use crate::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of issues in the simulated site.
    #[arg(long, default_value_t = 2000)]
    issues: usize,
    /// Seed of the simulated site.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub async fn run(args: Args, out: Output) -> anyhow::Result<()> {
    let started = Instant::now();
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(args.issues)
        .seed(args.seed)
        .start()
        .await
        .context("cannot start the simulator")?;
    let generated = started.elapsed();
    let admin = sim
        .identity("admin")
        .context("the simulator has no admin identity")?;
    let email = admin.email.clone().unwrap_or_default();
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{}{path}", sim.base_url()))
            .basic_auth(&email, Some(&admin.secret))
            .header("Accept", "application/json")
            .send()
    };
    let t = Instant::now();
    let server_info: Value = checked(get("/rest/api/3/serverInfo").await?).await?;
    let myself: Value = checked(get("/rest/api/3/myself").await?).await?;
    let rtt = t.elapsed();
    let projects: Value = checked(get("/rest/api/3/project/search?maxResults=100").await?).await?;
    let snapshot = sim.snapshot();

    let summary = json!({
        "simulator": { "base_url": sim.base_url(), "deployment": "cloud", "issues": snapshot["counts"]["issues"],
                       "generated_ms": generated.as_millis() as u64 },
        "connection": {
            "ok": true,
            "deployment": server_info["deploymentType"], "version": server_info["version"],
            "account": { "display_name": myself["displayName"], "account_id": myself["accountId"],
                         "email": myself["emailAddress"], "time_zone": myself["timeZone"] },
            "auth": "cloud-token",
            "requests": 2,
            "round_trip_ms": rtt.as_millis() as u64,
        },
        "projects_visible": projects["total"],
    });
    if out.json {
        println!("{summary}");
    } else {
        println!("jiralink demo");
        println!(
            "  simulator   {} (Jira Cloud, {} issues, generated in {} ms)",
            sim.base_url(),
            snapshot["counts"]["issues"],
            generated.as_millis()
        );
        println!(
            "  connected   {} <{}> accountId {}",
            text(&myself["displayName"]),
            text(&myself["emailAddress"]),
            text(&myself["accountId"])
        );
        println!(
            "  deployment  {} {} (build {})",
            text(&server_info["deploymentType"]),
            text(&server_info["version"]),
            server_info["buildNumber"]
        );
        println!(
            "  auth        cloud-token, 2 requests, round trip {} ms",
            rtt.as_millis()
        );
        println!("  projects    {} visible", projects["total"]);
    }
    Ok(())
}

async fn checked(resp: reqwest::Response) -> anyhow::Result<Value> {
    let status = resp.status();
    let url = resp.url().path().to_owned();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("{url} did not answer JSON"))?;
    if !status.is_success() {
        bail!("{url} answered {status}: {}", body["errorMessages"]);
    }
    Ok(body)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}
