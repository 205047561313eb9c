//! `verify`: compares the store with Jira without changing either: ids per project (both ways) and
//! the content of a sample of issues (every normalised column, converted from Jira's answer the way
//! sync converts it), so drift is reported, not guessed.

use std::collections::BTreeSet;

use jiralink_api::Client;
use jiralink_store::Backend;

use crate::SyncError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ProjectDrift {
    pub project: String,
    pub in_jira: usize,
    pub in_store: usize,
    /// Ids Jira shows that the store lacks.
    pub missing: Vec<String>,
    /// Ids the store has live that Jira no longer shows there.
    pub extra: Vec<String>,
    /// Sampled issues whose content (normalised columns) differs from Jira.
    pub stale: Vec<String>,
    /// Jira's answer when it no longer shows the project to this credential (deleted, or browse
    /// rights lost): reported, not counted as drift, since no sync of this credential can change it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vanished: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// The site compared (the store's rows of other sites are not looked at).
    pub site_id: String,
    pub projects: Vec<ProjectDrift>,
    /// Projects the store holds that this credential can no longer see: not compared (Jira
    /// answers a search naming them with 400), not counted as drift.
    pub not_visible: Vec<String>,
    pub sampled: usize,
    pub requests: u32,
}

/// Verifies the given projects (all the store knows of the credential's site when empty); samples
/// up to `sample` issues each. Reads the store only (it is scoped to the site, nothing recorded).
pub async fn verify(
    client: &Client,
    store: &mut dyn Backend,
    projects: &[String],
    sample: usize,
) -> Result<VerifyReport, SyncError> {
    let before = client.requests();
    let server_info = client.server_info().await?;
    let plan = crate::Plan::of(&server_info);
    let site = crate::site::resolve(client, &server_info).await?;
    store.scope_to(&site.site_id)?;
    let listed = crate::visible_projects(client, plan).await?;
    crate::check_known(projects, &listed, &site.base_url)?;
    let visible: Vec<String> = listed.iter().map(|p| p.key.clone()).collect();
    let stored_keys = if projects.is_empty() {
        store.project_keys()?
    } else {
        projects.to_vec()
    };
    let (keys, not_visible): (Vec<String>, Vec<String>) = stored_keys
        .into_iter()
        .partition(|k| visible.iter().any(|v| v.eq_ignore_ascii_case(k)));
    let fields = crate::convert::Fields::from_field_list(&client.fields().await?);
    let mut out = Vec::new();
    let mut sampled = 0;
    for key in keys {
        let listed = crate::issue_ids(
            client,
            plan,
            4,
            &format!("project = \"{key}\" ORDER BY id ASC"),
        )
        .await;
        let jira: BTreeSet<String> = match listed {
            Ok(ids) => ids.iter().map(u64::to_string).collect(),
            // Jira refuses a JQL naming a project it does not show this credential (400, "The
            // value 'KEY' does not exist for the field 'project'").
            Err(SyncError::Jira(jiralink_api::Error::Jira {
                status: 400 | 404,
                messages,
                errors,
            })) => {
                let said = jiralink_api::diagnosis::JiraErrors { messages, errors };
                out.push(ProjectDrift {
                    in_store: store.live_issue_ids(&key)?.len(),
                    project: key,
                    in_jira: 0,
                    missing: Vec::new(),
                    extra: Vec::new(),
                    stale: Vec::new(),
                    vanished: Some(said.to_string()),
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let stored: BTreeSet<String> = store.live_issue_ids(&key)?.into_iter().collect();
        let missing: Vec<String> = jira.difference(&stored).cloned().collect();
        let extra: Vec<String> = stored.difference(&jira).cloned().collect();
        // Every n-th common issue, at most `sample`, compared on its content: the normalised
        // columns Jira's answer converts to now, against the stored ones.
        let common: Vec<&String> = jira.intersection(&stored).collect();
        let step = (common.len() / sample.max(1)).max(1);
        let picks: Vec<String> = common
            .iter()
            .step_by(step)
            .take(sample.min(100))
            .map(|s| (*s).clone())
            .collect();
        let mut stale = Vec::new();
        if !picks.is_empty() {
            for issue in crate::issues_by_id(
                client,
                plan,
                &picks,
                jiralink_api::endpoints::IssueFieldSet::All,
            )
            .await?
            {
                let mut batch = crate::convert::Batch::default();
                let none = crate::convert::IssueWorklogs::Complete(Vec::new());
                batch.add(&fields, issue, Vec::new(), Vec::new(), none);
                let Some(live) = batch.rows.issues.pop() else {
                    continue;
                };
                let mine = store.issue_row(&live.id)?;
                if !mine.is_some_and(|m| same_content(&m, &live)) {
                    stale.push(live.id);
                }
            }
            sampled += picks.len();
        }
        out.push(ProjectDrift {
            project: key,
            in_jira: jira.len(),
            in_store: stored.len(),
            missing,
            extra,
            stale,
            vanished: None,
        });
    }
    let ok = out
        .iter()
        .all(|p| p.missing.is_empty() && p.extra.is_empty() && p.stale.is_empty());
    Ok(VerifyReport {
        ok,
        site_id: site.site_id,
        projects: out,
        not_visible,
        sampled,
        requests: client.requests() - before,
    })
}

/// The same content in every normalised column (the raw JSON may differ in what it embeds).
fn same_content(a: &jiralink_store::IssueRow, b: &jiralink_store::IssueRow) -> bool {
    let columns = |i: &jiralink_store::IssueRow| {
        (
            (i.key.clone(), i.project_key.clone(), i.issue_type.clone()),
            (
                i.summary.clone(),
                i.status.clone(),
                i.status_category.clone(),
            ),
            (
                i.priority.clone(),
                i.assignee_id.clone(),
                i.reporter_id.clone(),
            ),
            (i.created.clone(), i.updated.clone(), i.resolved.clone()),
            (i.story_points.map(f64::to_bits), i.parent_key.clone()),
        )
    };
    columns(a) == columns(b)
}
