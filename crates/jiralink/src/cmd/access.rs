//! `jiralink access NAME`: the projects a credential sees, its permission matrix, and the least-
//! privilege, scope, project-watch (appeared, vanished, grant needed) and rotation findings.
//! Findings persist per credential until acknowledged (`--ack`, which is also how a finding is
//! accepted), in the home next to the vault (see `Watch`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;
use jiralink_api::access::{
    self, Acceptance, AccessReport, Finding, Profile, ProjectAccess, Severity,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::credential::{print_table, FailOn};
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
    #[arg(long, default_value_t = MAX_AGE_DAYS)]
    max_age_days: i64,
    /// Accept (acknowledge) a finding of the last audit by its id (see the FINDING column); no
    /// request is sent. Repeatable.
    #[arg(long, value_name = "FINDING_ID")]
    ack: Vec<String>,
    /// Why the finding is accepted (recorded with your OS user and the time).
    #[arg(long, requires = "ack")]
    reason: Option<String>,
    /// Revoke an acceptance: the finding counts again. Repeatable.
    #[arg(long, value_name = "FINDING_ID", conflicts_with = "ack")]
    unack: Vec<String>,
    /// List the accepted findings and the acceptances that ended (no request is sent).
    #[arg(long, conflicts_with_all = ["ack", "unack"])]
    acks: bool,
    /// Exit 1 when any warning finding is not accepted (for cron and CI).
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
}

/// The rotation policy's default: a secret older than this many days is flagged.
pub const MAX_AGE_DAYS: i64 = 90;

/// The projects the last audit saw (`insights --credential` reads it too).
pub fn audit_file(home: &Path, name: &str) -> PathBuf {
    home.join("audits").join(format!("{name}.json"))
}

/// The project watch and the acceptances of one credential.
pub fn watch_file(home: &Path, name: &str) -> PathBuf {
    home.join("audits").join(format!("{name}.watch.json"))
}

/// What persists per credential between audits. Kept in the home beside the vault rather than in
/// the store: `access` runs before (and without) any sync and store, acceptances belong to the
/// local operator and credential like the vault entry does, and a shared Postgres store would
/// mix operators' decisions.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Watch {
    /// When the credential was added: a credential removed and added again under the same name
    /// (perhaps another account) starts a new baseline.
    #[serde(default)]
    credential_created: Option<String>,
    /// The projects acknowledged as this credential's: its first audit's, then moved on only by
    /// acknowledging `project_appeared` / `project_vanished`.
    baseline: Vec<ProjectAccess>,
    /// The last audit's findings: what `--ack` may name.
    last_findings: Vec<Finding>,
    /// The last audit's projects (to take an appeared project into the baseline).
    last_projects: Vec<ProjectAccess>,
    /// Active acceptances by finding id.
    acks: BTreeMap<String, Acceptance>,
    /// The profile of the audit each acceptance was given after: a finding that only one profile
    /// reports (`profile_bound`) is not "fixed" by an audit with the other profile.
    #[serde(default)]
    ack_profiles: BTreeMap<String, Profile>,
    /// The profile of the last audit.
    #[serde(default)]
    last_profile: Option<Profile>,
    /// Acceptances that ended, newest last (capped at `HISTORY`).
    history: Vec<Ended>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ended {
    id: String,
    accepted: Acceptance,
    ended_at: String,
    /// `fixed` (the finding went away), `revoked` (`--unack`), `baseline` (a project change
    /// acknowledged into the baseline).
    ended: String,
}

const HISTORY: usize = 200;

impl Watch {
    fn load(home: &Path, name: &str) -> anyhow::Result<Option<Watch>> {
        let path = watch_file(home, name);
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map(Some).with_context(|| {
                format!(
                    "{} is not a project watch file: remove it to start a new baseline",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn save(&self, home: &Path, name: &str) -> anyhow::Result<()> {
        write_atomic(&watch_file(home, name), &serde_json::to_vec_pretty(self)?)
    }

    fn end(&mut self, id: &str, accepted: Acceptance, ended: &str) {
        self.ack_profiles.remove(id);
        self.history.push(Ended {
            id: id.to_owned(),
            accepted,
            ended_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ended: ended.to_owned(),
        });
        let over = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..over);
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("no audits folder")?;
    std::fs::create_dir_all(dir).context("cannot create the audits folder")?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

pub async fn run(args: Args, global: Global) -> anyhow::Result<()> {
    let profile: Profile = args.profile.parse().map_err(|e: String| UsageError(e))?;
    let home = connect::home(global.home.clone())?;
    let vault = connect::vault(&home)?;
    if !args.ack.is_empty() || !args.unack.is_empty() || args.acks {
        // The credential must exist (exit 2 naming it otherwise); nothing is sent.
        let (cred, _) = vault.get(&args.name)?;
        return acknowledge(&args, &home, &cred.created.to_rfc3339(), global.out.json);
    }
    let (cred, client) = connect::connected(&vault, &args.name, global.out.json).await?;
    let report = match audit_and_save(
        &global,
        &home,
        &vault,
        &cred,
        &client,
        profile,
        args.max_age_days,
    )
    .await?
    {
        Ok(r) => r,
        Err(e) => {
            connect::print_diagnosis(&args.name, &e.diagnosis(), global.out.json);
            return Err(Failed.into());
        }
    };
    print(&args.name, &report, global.out.json);
    let open_warning = report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Warning && f.accepted.is_none());
    match args.fail_on {
        Some(FailOn::Warning) if open_warning => {
            eprintln!(
                "failing: {} has a warning finding not accepted (--fail-on warning)",
                args.name
            );
            Err(Failed.into())
        }
        _ => Ok(()),
    }
}

/// Audits `cred` with `client` (the `profile` it is used for, a secret older than `max_age_days`
/// flagged) and saves the audit: the project watch, the findings with their acceptances, the
/// projects (`access` prints it; the web app's "Run audit" runs it through its `AccessBook`).
/// The inner error is Jira's (its diagnosis says why); the outer one the home's files.
pub async fn audit_and_save(
    global: &Global,
    home: &Path,
    vault: &jiralink_vault::Vault,
    cred: &jiralink_vault::Credential,
    client: &jiralink_api::Client,
    profile: Profile,
    max_age_days: i64,
) -> anyhow::Result<Result<AccessReport, jiralink_api::Error>> {
    let created = cred.created.to_rfc3339();
    let (mut watch, first) = match Watch::load(home, &cred.name)? {
        Some(w) if w.credential_created.as_ref().is_none_or(|c| *c == created) => (w, false),
        // Another credential under a name used before: a new baseline, no old acceptances.
        Some(_) => (Watch::default(), true),
        // Before the watch file, the last audit's projects were the baseline.
        None => match std::fs::read_to_string(audit_file(home, &cred.name))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
        {
            Some(baseline) => (
                Watch {
                    baseline,
                    ..Watch::default()
                },
                false,
            ),
            None => (Watch::default(), true),
        },
    };
    watch.credential_created = Some(created);
    let mut report =
        match access::audit(client, profile, (!first).then_some(&watch.baseline[..])).await {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
    if first {
        watch.baseline = report.projects.clone();
    }
    if report.site_admin {
        // An administrator's own project list is the site's: nothing to compare with.
        report.site_projects_from = Some(cred.name.clone());
    } else if let Some((admin, site)) =
        site_projects(vault, cred, &same_site_in_store(global, &cred.name).await).await?
    {
        report
            .findings
            .extend(access::grant_needed(&report.projects, &site, &admin));
        report.site_projects_from = Some(admin);
    }
    let now = Utc::now();
    let age = (now - cred.rotated).num_days();
    if age > max_age_days {
        report.findings.push(Finding::new(
            "rotation_due",
            Severity::Warning,
            format!(
                "The secret is {age} days old; the policy is {} days: rotate it.",
                max_age_days
            ),
            vec![],
        ));
    }
    if let Some(e) = cred.expires_at {
        let left = (e - now).num_days();
        if left <= 14 {
            report.findings.push(Finding::new(
                "token_expiring",
                Severity::Warning,
                format!(
                    "The token expires in {left} days ({}).",
                    e.format("%Y-%m-%d")
                ),
                vec![],
            ));
        }
    }
    // Acceptances apply while their finding lasts; a fixed finding ends its acceptance, so if it
    // comes back it counts again.
    for f in &mut report.findings {
        f.accepted = watch.acks.get(&f.id).cloned();
    }
    let gone: Vec<String> = watch
        .acks
        .keys()
        .filter(|id| !report.findings.iter().any(|f| &f.id == *id))
        .filter(|id| {
            !profile_bound(id) || watch.ack_profiles.get(*id).is_none_or(|p| *p == profile)
        })
        .cloned()
        .collect();
    for id in gone {
        if let Some(a) = watch.acks.remove(&id) {
            watch.end(&id, a, "fixed");
        }
    }
    watch.last_findings = report.findings.clone();
    watch.last_projects = report.projects.clone();
    watch.last_profile = Some(profile);
    watch.save(home, &cred.name)?;
    write_atomic(
        &audit_file(home, &cred.name),
        &serde_json::to_vec_pretty(&report.projects)?,
    )
    .context("cannot save the audit")?;
    Ok(Ok(report))
}

/// The credentials the store has synced the same site with as `name` (same `site_id` in its
/// sync runs): empty when there is no store yet or it cannot be read (the base URL still matches).
async fn same_site_in_store(global: &Global, name: &str) -> Vec<String> {
    match super::sync::store_spec(global) {
        Ok(super::sync::StoreSpec::Sqlite(path)) if !path.exists() => return Vec::new(),
        Ok(_) => {}
        Err(e) => {
            tracing::info!(error = %e, "no store to match sites by site_id");
            return Vec::new();
        }
    };
    let quoted = name.replace('\'', "''");
    let sql = format!(
        "SELECT DISTINCT credential FROM sync_runs WHERE site_id IN \
         (SELECT site_id FROM sync_runs WHERE credential = '{quoted}') ORDER BY credential"
    );
    let global = global.clone();
    // Off the runtime's threads: the Postgres client blocks on a runtime of its own.
    let rows = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let store = super::sync::open_store(&global)?;
        let (_, rows) = store.query_strings(&sql)?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect())
    })
    .await;
    match rows {
        Ok(Ok(names)) => names,
        Ok(Err(e)) => {
            tracing::info!(error = %e, "the store could not say which credentials share the site");
            Vec::new()
        }
        Err(e) => {
            tracing::info!(error = %e, "store worker");
            Vec::new()
        }
    }
}

/// The site's projects as seen by the first admin credential of the same site in the vault (same
/// base URL, or synced into the store with the same `site_id`: `same_site`), with its name; `None`
/// when there is none. A credential that cannot connect is skipped (its own `credential test`
/// names why).
async fn site_projects(
    vault: &jiralink_vault::Vault,
    cred: &jiralink_vault::Credential,
    same_site: &[String],
) -> anyhow::Result<Option<(String, Vec<ProjectAccess>)>> {
    let site = |url: &str| url.trim_end_matches('/').to_ascii_lowercase();
    let mine = site(&cred.url);
    for other in vault.list()? {
        if other.name == cred.name || (site(&other.url) != mine && !same_site.contains(&other.name))
        {
            continue;
        }
        let (other, mut secrets) = vault.get(&other.name)?;
        let client = match connect::client(Some(vault), &other, &mut secrets).await? {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(credential = %other.name, error = %e, "skipped for the grant-needed check");
                continue;
            }
        };
        match access::site_projects(&client).await {
            Ok(Some(projects)) => return Ok(Some((other.name, projects))),
            Ok(None) => {}
            Err(e) => {
                tracing::info!(credential = %other.name, error = %e, "skipped for the grant-needed check")
            }
        }
    }
    Ok(None)
}

/// Whether only one profile reports findings of this id's kind (the others do whatever the profile).
fn profile_bound(id: &str) -> bool {
    let kind = id.split(':').next().unwrap_or_default();
    matches!(
        kind,
        "missing_permission"
            | "missing_scope"
            | "write_scope_on_read_only"
            | "write_permission_on_read_only"
    )
}

/// `--ack`, `--unack`, `--acks`: work on the saved watch alone, without a request.
fn acknowledge(args: &Args, home: &Path, created: &str, json_out: bool) -> anyhow::Result<()> {
    let name = &args.name;
    if args.acks {
        return print_acks(name, &load_watch(home, name, created)?, json_out);
    }
    let done = change_acks(
        home,
        name,
        created,
        &args.ack,
        &args.unack,
        args.reason.clone().unwrap_or_default(),
        connect::local_user(),
    )?;
    if json_out {
        println!("{}", json!({"name": name, "ok": true, "changed": done}));
    } else {
        for d in &done {
            let verb = if d.get("revoked").is_some() {
                "revoked the acceptance of"
            } else {
                "accepted"
            };
            println!("{name}: {verb} {}", d["id"].as_str().unwrap_or_default());
        }
    }
    Ok(())
}

/// The watch of credential `name` (added at `created`): the watch of an earlier credential of
/// this name is not this one's.
fn load_watch(home: &Path, name: &str, created: &str) -> anyhow::Result<Watch> {
    Ok(Watch::load(home, name)?
        .filter(|w| w.credential_created.as_deref().is_none_or(|c| c == created))
        .unwrap_or_default())
}

/// The last audit of `name` as saved: its projects (the permission matrix) and its findings, each
/// with its acceptance; `None` before the first audit. (The web app's Access page reads this.)
pub fn last_audit(
    home: &Path,
    name: &str,
    created: &str,
) -> anyhow::Result<Option<(Vec<ProjectAccess>, Vec<Finding>)>> {
    let watch = load_watch(home, name, created)?;
    if watch.last_profile.is_none()
        && watch.last_findings.is_empty()
        && watch.last_projects.is_empty()
    {
        return Ok(None);
    }
    let mut findings = watch.last_findings.clone();
    for f in &mut findings {
        f.accepted = watch.acks.get(&f.id).cloned();
    }
    Ok(Some((watch.last_projects, findings)))
}

/// Accepts the findings `ack` (of the last audit) with `reason`, and revokes the acceptances
/// `unack`, as `by`: what `--ack` and `--unack` do (the web app's Access page acts through it).
/// An unknown id is a [`UsageError`]; nothing is saved then.
pub fn change_acks(
    home: &Path,
    name: &str,
    created: &str,
    ack: &[String],
    unack: &[String],
    reason: String,
    by: String,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut watch = load_watch(home, name, created)?;
    let mut done = Vec::new();
    for id in unack {
        let Some(a) = watch.acks.remove(id) else {
            return Err(UsageError(format!(
                "no accepted finding '{id}' for {name}: `jiralink access {name} --acks` lists them"
            ))
            .into());
        };
        watch.end(id, a.clone(), "revoked");
        done.push(json!({"id": id, "revoked": a}));
    }
    for id in ack {
        let Some(finding) = watch.last_findings.iter().find(|f| &f.id == id).cloned() else {
            let known: Vec<&str> = watch.last_findings.iter().map(|f| f.id.as_str()).collect();
            return Err(UsageError(format!(
                "no finding '{id}' in the last audit of {name} (its findings: {}): run `jiralink access {name}` and use an id it lists",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            ))
            .into());
        };
        let acceptance = Acceptance {
            by: by.clone(),
            at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            reason: reason.clone(),
        };
        let key = finding.projects.first().cloned().unwrap_or_default();
        match finding.kind.as_str() {
            // A project change acknowledged moves the baseline: the finding ends here.
            "project_appeared" => {
                if let Some(p) = watch.last_projects.iter().find(|p| p.key == key) {
                    watch.baseline.retain(|b| b.key != key);
                    watch.baseline.push(p.clone());
                    watch.baseline.sort_by(|a, b| a.key.cmp(&b.key));
                }
                watch.last_findings.retain(|f| &f.id != id);
                watch.end(id, acceptance.clone(), "baseline");
            }
            "project_vanished" => {
                watch.baseline.retain(|b| b.key != key);
                watch.last_findings.retain(|f| &f.id != id);
                watch.end(id, acceptance.clone(), "baseline");
            }
            _ => {
                watch.acks.insert(id.clone(), acceptance.clone());
                if let Some(p) = watch.last_profile {
                    watch.ack_profiles.insert(id.clone(), p);
                }
            }
        }
        done.push(json!({"id": id, "accepted": acceptance}));
    }
    watch.save(home, name)?;
    Ok(done)
}

fn print_acks(name: &str, watch: &Watch, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        let active: Vec<_> = watch
            .acks
            .iter()
            .map(|(id, a)| json!({"id": id, "by": a.by, "at": a.at, "reason": a.reason}))
            .collect();
        println!(
            "{}",
            json!({"name": name, "accepted": active, "ended": watch.history})
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = watch
        .acks
        .iter()
        .map(|(id, a)| vec![id.clone(), a.by.clone(), a.at.clone(), a.reason.clone()])
        .collect();
    println!("{name}: {} accepted finding(s)", rows.len());
    print_table(&["FINDING", "BY", "AT", "REASON"], &rows);
    if !watch.history.is_empty() {
        println!("\nended:");
        let rows: Vec<Vec<String>> = watch
            .history
            .iter()
            .map(|e| {
                vec![
                    e.id.clone(),
                    e.accepted.by.clone(),
                    e.accepted.at.clone(),
                    e.accepted.reason.clone(),
                    format!("{} {}", e.ended, e.ended_at),
                ]
            })
            .collect();
        print_table(&["FINDING", "BY", "AT", "REASON", "ENDED"], &rows);
    }
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
    match &r.site_projects_from {
        Some(admin) if admin == name => {
            println!("\nprojects on the site: all of the above (the account is an administrator)")
        }
        Some(admin) => println!("\nprojects on the site: as the admin credential {admin} sees them"),
        None => println!("\nprojects on the site: unknown (no admin credential of this site in the vault), no grant-needed check"),
    }
    if r.findings.is_empty() {
        println!("\nno findings");
    } else {
        println!("\nfindings (accept one with --ack FINDING --reason TEXT):");
        for f in &r.findings {
            let tag = match (&f.accepted, &f.severity) {
                (Some(_), _) => "accepted",
                (None, Severity::Warning) => "warning",
                (None, Severity::Info) => "info",
            };
            let list = if f.projects.is_empty() || f.id.ends_with(&format!(":{}", f.projects[0])) {
                String::new()
            } else {
                format!(" [{}]", f.projects.join(", "))
            };
            println!("  {tag:<8} {:<28} {}{list}", f.id, f.message);
            if let Some(a) = &f.accepted {
                let why = if a.reason.is_empty() {
                    "no reason given"
                } else {
                    &a.reason
                };
                println!("  {:<8} {:<28} by {} at {}: {why}", "", "", a.by, a.at);
            }
        }
    }
}
