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
    /// Then serve the web app over the demo's store and print a one-time sign-in link.
    #[arg(long)]
    serve: bool,
    /// With --serve: the address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", requires = "serve")]
    bind: std::net::SocketAddr,
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
        // With --serve the web app's `demo` admin owns it.
        owner: if args.serve {
            "demo".into()
        } else {
            connect::local_user()
        },
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
    // Under --json the steps are gathered into one object, printed at the end (one line).
    let mut steps = serde_json::Map::new();
    if out.json && report.ok {
        steps.insert("credential_test".into(), serde_json::to_value(&report)?);
    } else {
        credential::print_report(&cred, &report, out);
    }
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
    if out.json {
        steps.insert("access".into(), serde_json::to_value(&audit)?);
    } else {
        access_cmd::print("demo", &audit, false);
    }

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
        steps.insert("sync".into(), serde_json::to_value(&summary)?);
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
        let rows: Vec<(String, String)> = jiralink_store::Backend::query_strings(&store, "SELECT status_category, COUNT(*) FROM issues WHERE deleted_at IS NULL GROUP BY 1 ORDER BY 2 DESC")?
            .1
            .into_iter()
            .map(|r| {
                let mut cells = r.into_iter().map(Option::unwrap_or_default);
                (cells.next().unwrap_or_default(), cells.next().unwrap_or_default())
            })
            .collect();
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
    let team = Headline::of(&insights);
    if out.json {
        let mut all = serde_json::json!({"report": report, "team": team, "flow": {"completed": insights.flow.completed, "cycle_time_days": insights.flow.cycle_time_days, "lead_time_days": insights.flow.lead_time_days, "wip": insights.flow.wip, "at_risk": insights.flow.at_risk}, "forecast": insights.forecast.results});
        for (k, v) in steps {
            all[k] = v;
        }
        println!("{all}");
    } else {
        println!("\n== the team in numbers (last 26 weeks; docs/simulator.md, \"The generated organisation\")");
        print!("{}", team.text());
        println!("\n== insights (last 26 weeks)");
        print!("{}", insights_cmd::table(&insights));
        println!("\n  HTML report: {}", report.display());
        println!("\nThe site admin is far more than an integration needs: the findings say so. Next: `jiralink credential add` for your own site, then `jiralink sync NAME` and `jiralink insights --html report.html`.");
    }
    if args.serve {
        super::serve::demo(&home, args.bind).await?;
    }
    let _ = std::fs::remove_dir_all(&home);
    Ok(())
}

/// The headline figures of the simulated organisation, as the insights read them from the synced
/// history: what docs/simulator.md states for a generated site.
#[derive(Debug, serde::Serialize)]
struct Headline {
    throughput_per_week: f64,
    wip: u64,
    /// Median age of work in progress (days since it started); `None` when the aging list
    /// does not reach the median.
    wip_median_age_days: Option<f64>,
    cycle_time_p50_days: Option<f64>,
    cycle_time_p85_days: Option<f64>,
    /// Closed sprints: items completed in the sprint over items committed at its start.
    sprint_completion: Option<f64>,
    carried_over_items: u64,
    bug_share: Option<f64>,
    reopen_rate: Option<f64>,
}

impl Headline {
    fn of(r: &jiralink_insights::Insights) -> Headline {
        let f = &r.flow;
        let closed = r.sprints.sprints.iter().filter(|s| s.state == "closed");
        let (done, committed, carried) = closed.fold((0, 0, 0), |(d, c, o), s| {
            (
                d + s.completed_items,
                c + s.committed_items,
                o + s.carried_over_items,
            )
        });
        let weeks = f.throughput_per_week.len().max(1) as f64;
        Headline {
            throughput_per_week: (f.completed as f64 / weeks * 10.0).round() / 10.0,
            wip: f.wip,
            wip_median_age_days: f.aging.get(f.wip as usize / 2).map(|a| a.age_days),
            cycle_time_p50_days: f.cycle_time_days.p50,
            cycle_time_p85_days: f.cycle_time_days.p85,
            sprint_completion: (committed > 0).then(|| done as f64 / committed as f64),
            carried_over_items: carried,
            bug_share: r.quality.bug_share,
            reopen_rate: f.reopen_rate,
        }
    }

    fn text(&self) -> String {
        let days = |d: Option<f64>| d.map_or("-".into(), |d| format!("{d:.1} d"));
        let pct = |p: Option<f64>| p.map_or("-".into(), |p| format!("{:.0}%", p * 100.0));
        format!(
            "  throughput       {:.1} items a week\n  work in progress {} items, median age {}\n  cycle time       p50 {}, p85 {}\n  sprints          {} of committed items completed, {} carried over\n  bugs             {} of completed items\n  reopened         {} of completed items\n",
            self.throughput_per_week,
            self.wip,
            days(self.wip_median_age_days),
            days(self.cycle_time_p50_days),
            days(self.cycle_time_p85_days),
            pct(self.sprint_completion),
            self.carried_over_items,
            pct(self.bug_share),
            pct(self.reopen_rate),
        )
    }
}
