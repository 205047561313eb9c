//! `jiralink demo`: the whole flow against a built-in simulator, in a throwaway home: add a
//! credential (sealed in a vault), test it, audit its access, sync the site into SQLite, compute
//! insights and write the HTML report.

use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use jiralink_api::access::{self, Profile};
use jiralink_api::test_connection;
use jiralink_sim::{Deployment, Sim};
use jiralink_vault::{Connection, Credential, MasterKey, Secrets, Vault};
use secrecy::SecretString;

use super::{access as access_cmd, connect, credential, insights as insights_cmd, Failed};
use crate::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of issues in the simulated site.
    #[arg(long, default_value_t = 2000)]
    issues: usize,
    /// Seed of the simulated site.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the HTML report (default: jiralink-demo-report.html in the temp directory).
    #[arg(long)]
    report: Option<std::path::PathBuf>,
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
    let snapshot = sim.snapshot();
    if !out.json {
        println!(
            "== simulator: Jira Cloud at {} ({} issues in {} projects, ready in {} ms)",
            sim.base_url(),
            snapshot["counts"]["issues"],
            snapshot["counts"]["projects"],
            started.elapsed().as_millis()
        );
    }
    let home = std::env::temp_dir().join(format!("jiralink-demo-{}", std::process::id()));
    let vault = Vault::open(&home, MasterKey::KeyFile)?;
    let admin = sim
        .identity("admin")
        .context("the simulator has no admin identity")?;
    let now = Utc::now();
    let cred = Credential {
        name: "demo".into(),
        description: "the simulator's site admin".into(),
        url: sim.base_url().to_owned(),
        auth: admin.auth.clone(),
        identity: admin.email.clone(),
        params: Default::default(),
        owner: connect::local_user(),
        created: now,
        rotated: now,
        expires_at: None,
        connection: Connection {
            gateway_url: Some(sim.gateway_url().to_owned()),
            ..Connection::default()
        },
    };
    let secrets = Secrets::one("secret", SecretString::from(admin.secret.clone()));

    if !out.json {
        println!("\n== credential test");
    }
    let client = connect::builder(&cred, &secrets)?
        .build()
        .await
        .map_err(|e| anyhow::anyhow!(e.diagnosis()))?;
    let report = test_connection(&client).await;
    credential::print_report(&cred, &report, out);
    if !report.ok {
        return Err(Failed.into());
    }
    vault.add(cred, &secrets)?;
    if !out.json {
        println!(
            "  saved in   {} (secret sealed with XChaCha20-Poly1305)",
            vault.path().display()
        );
        println!("\n== access audit (read-only profile)");
    }
    let audit = access::audit(&client, Profile::ReadOnly, None)
        .await
        .map_err(|e| anyhow::anyhow!(e.diagnosis()))?;
    access_cmd::print("demo", &audit, out.json);

    if !out.json {
        println!("\n== sync into {}", home.join("jiralink.db").display());
    }
    let mut store = jiralink_store::Store::open_sqlite(&home.join("jiralink.db"))?;
    let summary = jiralink_sync::sync(
        &client,
        &mut store,
        &jiralink_sync::SyncOptions::new("demo"),
    )
    .await?;
    let counts = jiralink_store::Backend::counts(&store)?;
    if out.json {
        println!("{}", serde_json::to_value(&summary)?);
    } else {
        println!(
            "  {} issues, {} changelog items, {} comments, {} worklogs, {} sprints in {:.1} s with {} requests",
            counts.issues, counts.changes, counts.comments, counts.worklogs, counts.sprints, summary.duration_ms as f64 / 1000.0, summary.requests
        );
        let again = jiralink_sync::sync(
            &client,
            &mut store,
            &jiralink_sync::SyncOptions::new("demo"),
        )
        .await?;
        println!(
            "  re-sync with no changes: {} requests, {} ms",
            again.requests, again.duration_ms
        );
        let mut st = store.connection().prepare("SELECT status_category, COUNT(*) FROM issues WHERE deleted_at IS NULL GROUP BY 1 ORDER BY 2 DESC")?;
        let rows: Vec<(String, i64)> = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    r.get(1)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        println!(
            "  issues by status category: {}",
            rows.iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    drop(store);

    // Insights over the last 26 weeks, with a fixed seed so that the demo's forecast is repeatable.
    let opts = jiralink_insights::Options::new(Utc::now().timestamp(), 26, args.seed);
    let visible: Vec<String> = audit.projects.iter().map(|p| p.key.clone()).collect();
    let db = home.join("jiralink.db");
    let insights = tokio::task::spawn_blocking(move || {
        jiralink_insights::run(
            &db,
            &jiralink_insights::Filter::default(),
            &opts,
            Some(&visible),
        )
    })
    .await
    .context("insights worker")??;
    let report = args
        .report
        .unwrap_or_else(|| std::env::temp_dir().join("jiralink-demo-report.html"));
    insights_cmd::write_html(&insights, &report)?;
    if out.json {
        println!(
            "{}",
            serde_json::json!({"report": report, "flow": {"completed": insights.flow.completed, "cycle_time_days": insights.flow.cycle_time_days, "lead_time_days": insights.flow.lead_time_days, "wip": insights.flow.wip, "at_risk": insights.flow.at_risk}, "forecast": insights.forecast.results})
        );
    } else {
        println!("\n== insights (last 26 weeks)");
        print!("{}", insights_cmd::table(&insights));
        println!("\n  HTML report: {}", report.display());
        println!("\nThe site admin is far more than an integration needs: the findings say so. Next: `jiralink credential add` for your own site, then `jiralink sync NAME` and `jiralink insights --html report.html`.");
    }
    let _ = std::fs::remove_dir_all(&home);
    Ok(())
}
