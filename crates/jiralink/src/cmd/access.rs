//! `jiralink access NAME`: the projects a credential sees, its permission matrix, and the least-
//! privilege, scope, visibility-change and rotation findings. The last audit is kept per credential
//! to notice projects that appeared or vanished.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use jiralink_api::access::{self, AccessReport, Finding, Profile, ProjectAccess, Severity};
use serde_json::json;

use super::credential::print_table;
use super::{connect, Failed, UsageError};
use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credential to audit.
    name: String,
    /// What the credential is used for: read-only (sync, insights) or read-write (write-back).
    #[arg(long, default_value = "read-only")]
    profile: String,
    /// Warn when a secret is older than this many days.
    #[arg(long, default_value_t = 90)]
    max_age_days: i64,
}

pub fn audit_file(home: &std::path::Path, name: &str) -> PathBuf {
    home.join("audits").join(format!("{name}.json"))
}

pub async fn run(args: Args, global: Global) -> anyhow::Result<()> {
    let profile: Profile = args.profile.parse().map_err(|e: String| UsageError(e))?;
    let home = connect::home(global.home.clone())?;
    let vault = connect::vault(&home)?;
    let (cred, client) = connect::connected(&vault, &args.name, global.out.json).await?;
    let path = audit_file(&home, &args.name);
    let previous: Option<Vec<ProjectAccess>> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let mut report = match access::audit(&client, profile, previous.as_deref()).await {
        Ok(r) => r,
        Err(e) => {
            connect::print_diagnosis(&args.name, &e.diagnosis(), global.out.json);
            return Err(Failed.into());
        }
    };
    let now = Utc::now();
    let age = (now - cred.rotated).num_days();
    if age > args.max_age_days {
        report.findings.push(Finding {
            kind: "rotation_due".into(),
            severity: Severity::Warning,
            message: format!(
                "The secret is {age} days old; the policy is {} days: rotate it.",
                args.max_age_days
            ),
            projects: vec![],
        });
    }
    if let Some(e) = cred.expires_at {
        let left = (e - now).num_days();
        if left <= 14 {
            report.findings.push(Finding {
                kind: "token_expiring".into(),
                severity: Severity::Warning,
                message: format!(
                    "The token expires in {left} days ({}).",
                    e.format("%Y-%m-%d")
                ),
                projects: vec![],
            });
        }
    }
    std::fs::create_dir_all(path.parent().unwrap_or(&home))
        .context("cannot create the audits folder")?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&report.projects)?)
        .context("cannot save the audit")?;
    std::fs::rename(&tmp, &path).context("cannot save the audit")?;
    print(&args.name, &report, global.out.json);
    Ok(())
}

pub fn print(name: &str, r: &AccessReport, json_out: bool) {
    if json_out {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["name"] = json!(name);
        v["ok"] = json!(true);
        println!("{v}");
        return;
    }
    println!(
        "{name}: {} project(s) visible{}, {} requests",
        r.projects.len(),
        if r.site_admin { ", site admin" } else { "" },
        r.requests
    );
    let mut header = vec!["PROJECT"];
    header.extend(access::PERMISSIONS.iter().map(|(_, s)| *s));
    let rows: Vec<Vec<String>> = r
        .projects
        .iter()
        .map(|p| {
            let mut row = vec![p.key.clone()];
            row.extend(access::matrix_row(p).into_iter().map(|b| {
                if b {
                    "yes".into()
                } else {
                    "-".into()
                }
            }));
            row
        })
        .collect();
    print_table(&header, &rows);
    if r.findings.is_empty() {
        println!("\nno findings");
    } else {
        println!("\nfindings:");
        for f in &r.findings {
            let tag = match f.severity {
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            let list = if f.projects.is_empty() {
                String::new()
            } else {
                format!(" [{}]", f.projects.join(", "))
            };
            println!("  {tag:<7} {:<28} {}{list}", f.kind, f.message);
        }
    }
}
