//! The access audit: which projects an account sees and what it may do in each, and the findings
//! that follow: over- and under-privilege for a use profile, and missing scopes. Cloud uses the
//! bulk permission APIs (two requests, plus for scoped tokens one harmless probe per operation
//! jiralink's features use: `scopes`); Data Center,
//! which has none of them, uses the project list and `mypermissions` (see `audit_datacenter`).

use serde::{Deserialize, Serialize};

use crate::auth::AuthKind;
use crate::client::{Client, Error};
use crate::models::{MyPermissions, ProjectId};

/// The project permissions jiralink's features need, with the short names tables use.
pub const PERMISSIONS: [(&str, &str); 9] = [
    ("BROWSE_PROJECTS", "browse"),
    ("CREATE_ISSUES", "create"),
    ("EDIT_ISSUES", "edit"),
    ("TRANSITION_ISSUES", "transition"),
    ("ADD_COMMENTS", "comment"),
    ("WORK_ON_ISSUES", "worklog"),
    ("MANAGE_SPRINTS_PERMISSION", "sprints"),
    ("DELETE_ISSUES", "delete"),
    ("ADMINISTER_PROJECTS", "administer"),
];

/// What the credential is used for, which decides what is too much and what is too little.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Sync and insights: browse only.
    ReadOnly,
    /// Write-back too: create, edit, transition, comment, log work.
    ReadWrite,
}

impl Profile {
    fn needs(self) -> &'static [&'static str] {
        match self {
            Profile::ReadOnly => &["browse"],
            Profile::ReadWrite => &[
                "browse",
                "create",
                "edit",
                "transition",
                "comment",
                "worklog",
            ],
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read-only" => Ok(Profile::ReadOnly),
            "read-write" => Ok(Profile::ReadWrite),
            _ => Err(format!(
                "unknown profile '{s}': use read-only or read-write"
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProjectAccess {
    pub id: String,
    pub key: String,
    /// Short permission names (`browse`, `create` ...) the account holds here.
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// What `access --ack` names: the kind, and for a finding about one project, scope or
    /// permission `kind:WHAT` (`project_appeared:ABC`, `missing_scope:sync:boards`).
    #[serde(default)]
    pub id: String,
    /// `site_admin`, `project_admin`, `delete_rights`, `write_scope_on_read_only`,
    /// `missing_permission`, `missing_scope`, `project_appeared`, `project_vanished`,
    /// `grant_needed`, `rotation_due`, `token_expiring`.
    pub kind: String,
    pub severity: Severity,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    /// Set when someone accepted (acknowledged) the finding: it is shown, but no longer fails
    /// `--fail-on warning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Acceptance>,
}

impl Finding {
    /// A finding whose id is its kind.
    pub fn new(kind: &str, severity: Severity, message: String, projects: Vec<String>) -> Finding {
        Finding {
            id: kind.to_owned(),
            kind: kind.to_owned(),
            severity,
            message,
            projects,
            accepted: None,
        }
    }

    /// A finding about one thing (`what`): its id is `kind:what`.
    pub fn about(kind: &str, what: &str, severity: Severity, message: String) -> Finding {
        Finding {
            id: format!("{kind}:{what}"),
            ..Finding::new(kind, severity, message, Vec::new())
        }
    }

    /// A finding about one project (its key): its id is `kind:KEY`, and it lists the project.
    fn about_project(kind: &str, key: &str, severity: Severity, message: String) -> Finding {
        Finding {
            projects: vec![key.to_owned()],
            ..Finding::about(kind, key, severity, message)
        }
    }
}

/// Who accepted a finding, when and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Acceptance {
    /// The local (OS) user who ran `access --ack`.
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessReport {
    pub profile: Profile,
    pub site_admin: bool,
    pub projects: Vec<ProjectAccess>,
    /// For scoped tokens and service accounts: which scopes of the profile were found missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_scopes: Vec<String>,
    /// For scoped tokens and service accounts: per jiralink feature, whether the token's scopes
    /// let it run (see `scopes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<crate::scopes::FeatureScopes>,
    pub findings: Vec<Finding>,
    pub requests: u32,
    /// Where the grant-needed check learnt which projects exist on the site: the name of an admin
    /// credential of the same site (this one's when it is an administrator), or null when none was
    /// found (no grant-needed findings then).
    #[serde(default)]
    pub site_projects_from: Option<String>,
}

/// Runs the audit. `previous` is the project list of the last audit, to notice changes.
pub async fn audit(
    client: &Client,
    profile: Profile,
    previous: Option<&[ProjectAccess]>,
) -> Result<AccessReport, Error> {
    let before = client.requests();
    let (site_admin, projects) = if client.kind().api_version() == 2 {
        audit_datacenter(client).await?
    } else {
        audit_cloud(client).await?
    };
    let features = if matches!(
        client.kind(),
        AuthKind::ScopedToken | AuthKind::ServiceAccount | AuthKind::Oauth2
    ) {
        crate::scopes::check(client).await?
    } else {
        Vec::new()
    };
    let missing_scopes = crate::scopes::missing(&features);
    let mut findings = findings(
        profile,
        site_admin,
        &projects,
        &missing_scopes,
        client.kind(),
        previous,
    );
    for (feature, message) in
        crate::scopes::missing_features(&features, profile == Profile::ReadWrite)
    {
        findings.push(Finding::about(
            "missing_scope",
            feature.name,
            Severity::Warning,
            message,
        ));
    }
    Ok(AccessReport {
        profile,
        site_admin,
        projects,
        missing_scopes,
        features,
        findings,
        requests: client.requests() - before,
        site_projects_from: None,
    })
}

/// How many per-project `mypermissions` requests Data Center's audit keeps in flight.
const DC_CONCURRENCY: usize = 8;

/// Data Center has neither `permissions/project` nor `permissions/check` (Cloud only). Its plan:
/// 1. `GET project`: every project the account may browse (one request, not paged);
/// 2. `GET mypermissions?permissions=...` without a context: `ADMINISTER`, and for each project
///    permission whether the account holds it in *any* project;
/// 3. only for the permissions (2) found held somewhere, besides browse, one
///    `GET mypermissions?projectKey=K&permissions=...` per visible project.
///
/// An account that may only browse (what the read-only profile asks for) costs two requests
/// whatever the project count; one with more rights costs two plus one per project.
async fn audit_datacenter(client: &Client) -> Result<(bool, Vec<ProjectAccess>), Error> {
    use futures_util::StreamExt;
    let mut projects: Vec<ProjectAccess> = client
        .all_projects()
        .await?
        .into_iter()
        .map(|p| ProjectAccess {
            permissions: vec!["browse".to_owned()],
            ..access_of(p.id, p.key)
        })
        .collect();
    projects.sort_by(|a, b| a.key.cmp(&b.key));
    let all: Vec<&str> = std::iter::once("ADMINISTER")
        .chain(PERMISSIONS.iter().map(|(k, _)| *k))
        .collect();
    let anywhere = client.my_permissions_in(None, &all).await?;
    let site_admin = anywhere.holds("ADMINISTER");
    let per_project: Vec<&str> = PERMISSIONS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| *k != "BROWSE_PROJECTS" && anywhere.holds(k))
        .collect();
    if per_project.is_empty() {
        return Ok((site_admin, projects));
    }
    let answers: Vec<Result<MyPermissions, Error>> = futures_util::stream::iter(
        projects
            .iter()
            .map(|p| client.my_permissions_in(Some(&p.key), &per_project)),
    )
    .buffered(DC_CONCURRENCY)
    .collect()
    .await;
    for (project, answer) in projects.iter_mut().zip(answers) {
        let answer = answer?;
        for (key, short) in PERMISSIONS.iter() {
            if per_project.contains(key) && answer.holds(key) {
                project.permissions.push((*short).to_owned());
            }
        }
    }
    Ok((site_admin, projects))
}

/// The audit's view of a project, before its permissions are known.
fn access_of(id: ProjectId, key: String) -> ProjectAccess {
    ProjectAccess {
        id: id.0,
        key,
        permissions: Vec::new(),
    }
}

/// Cloud: `permissions/project` for the browsable projects, `permissions/check` for every
/// permission in all of them at once (two requests).
async fn audit_cloud(client: &Client) -> Result<(bool, Vec<ProjectAccess>), Error> {
    let mut projects: Vec<ProjectAccess> = client
        .permitted_projects(&["BROWSE_PROJECTS"])
        .await?
        .into_iter()
        .map(|p| access_of(p.id, p.key))
        .collect();
    projects.sort_by(|a, b| a.key.cmp(&b.key));
    let ids: Vec<i64> = projects.iter().filter_map(|p| p.id.parse().ok()).collect();
    let keys: Vec<&str> = PERMISSIONS.iter().map(|(k, _)| *k).collect();
    let grants = client
        .check_permissions(&["ADMINISTER"], &keys, &ids)
        .await?;
    let site_admin = grants.global_permissions.iter().any(|g| g == "ADMINISTER");
    for grant in grants.project_permissions {
        let Some(short) = PERMISSIONS
            .iter()
            .find(|(k, _)| grant.permission == *k)
            .map(|(_, s)| *s)
        else {
            continue;
        };
        for pid in grant.projects {
            if let Some(p) = projects.iter_mut().find(|p| p.id == pid.0) {
                p.permissions.push(short.to_owned());
            }
        }
    }
    Ok((site_admin, projects))
}

fn findings(
    profile: Profile,
    site_admin: bool,
    projects: &[ProjectAccess],
    missing_scopes: &[String],
    kind: AuthKind,
    previous: Option<&[ProjectAccess]>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let with = |perm: &str| -> Vec<String> {
        projects
            .iter()
            .filter(|p| p.permissions.iter().any(|x| x == perm))
            .map(|p| p.key.clone())
            .collect()
    };
    if site_admin {
        out.push(Finding::new("site_admin", Severity::Warning, "The account is a Jira administrator (ADMINISTER): far more than any integration needs. Use a dedicated user without admin rights, or accept it (`access NAME --ack site_admin --reason ...`) where a vendor requires admin.".into(), vec![]));
    }
    let admin = with("administer");
    if !admin.is_empty() {
        out.push(Finding::new(
            "project_admin",
            Severity::Warning,
            format!(
                "The account administers {} project(s); integrations do not need project admin.",
                admin.len()
            ),
            admin,
        ));
    }
    let delete = with("delete");
    if !delete.is_empty() {
        out.push(Finding::new("delete_rights", Severity::Warning, format!("The account may delete issues in {} project(s); remove DELETE_ISSUES from its groups.", delete.len()), delete));
    }
    if profile == Profile::ReadOnly
        && matches!(
            kind,
            AuthKind::ScopedToken | AuthKind::ServiceAccount | AuthKind::Oauth2
        )
        && !missing_scopes.iter().any(|s| s == "write:jira-work")
    {
        out.push(Finding::new("write_scope_on_read_only", Severity::Warning, "The token has write:jira-work, but the read-only profile never writes: make a token with read scopes only.".into(), vec![]));
    }
    if profile == Profile::ReadOnly {
        let writable = with("edit");
        if !writable.is_empty() && !site_admin {
            out.push(Finding::new("write_permission_on_read_only", Severity::Info, format!("The account may edit issues in {} project(s) although the read-only profile never writes.", writable.len()), writable));
        }
    }
    for need in profile.needs() {
        let lacking: Vec<String> = projects
            .iter()
            .filter(|p| !p.permissions.iter().any(|x| x == need))
            .map(|p| p.key.clone())
            .collect();
        if !lacking.is_empty() {
            out.push(Finding {
                projects: lacking.clone(),
                ..Finding::about(
                    "missing_permission",
                    need,
                    Severity::Warning,
                    format!(
                        "The {} profile needs '{need}', which the account lacks in {} project(s).",
                        profile_name(profile),
                        lacking.len()
                    ),
                )
            });
        }
    }
    if let Some(baseline) = previous {
        out.extend(watch(projects, baseline));
    }
    out
}

/// The project watch against the baseline (the projects the credential saw at its first audit,
/// moved on only by acknowledging a change): one finding per project that appeared or vanished,
/// listed on every audit until acknowledged or undone.
pub fn watch(projects: &[ProjectAccess], baseline: &[ProjectAccess]) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in projects {
        if !baseline.iter().any(|b| b.key == p.key) {
            out.push(Finding::about_project(
                "project_appeared",
                &p.key,
                Severity::Info,
                format!(
                    "{} became visible since the baseline: acknowledge it to add it.",
                    p.key
                ),
            ));
        }
    }
    for b in baseline {
        if !projects.iter().any(|p| p.key == b.key) {
            out.push(Finding::about_project(
                "project_vanished",
                &b.key,
                Severity::Warning,
                format!("{} is no longer visible: was access removed, or the project archived? Its synced rows stay in the store.", b.key),
            ));
        }
    }
    out
}

/// Projects that exist on the site (as an admin credential of the same site sees them) but that
/// this credential cannot browse: one `grant_needed` finding each, until granted.
pub fn grant_needed(
    projects: &[ProjectAccess],
    site: &[ProjectAccess],
    admin: &str,
) -> Vec<Finding> {
    site.iter()
        .filter(|s| !projects.iter().any(|p| p.key == s.key))
        .map(|s| Finding::about_project(
                "grant_needed",
                &s.key,
                Severity::Warning,
                format!("{} exists (the admin credential {admin} sees it) but this credential cannot browse it: grant its user or group Browse projects there, or acknowledge it if it is meant to stay out.", s.key),
            ))
        .collect()
}

/// The site's projects as an administrator sees them: `None` when the account behind `client`
/// is no Jira administrator. One `mypermissions?permissions=ADMINISTER` request (Cloud and Data
/// Center), plus for an administrator one project list (Cloud `permissions/project`, Data Center
/// `GET project`: neither is paged).
pub async fn site_projects(client: &Client) -> Result<Option<Vec<ProjectAccess>>, Error> {
    if !client
        .my_permissions_in(None, &["ADMINISTER"])
        .await?
        .holds("ADMINISTER")
    {
        return Ok(None);
    }
    let mut out: Vec<ProjectAccess> = if client.kind().api_version() == 2 {
        client
            .all_projects()
            .await?
            .into_iter()
            .map(|p| access_of(p.id, p.key))
            .collect()
    } else {
        client
            .permitted_projects(&["BROWSE_PROJECTS"])
            .await?
            .into_iter()
            .map(|p| access_of(p.id, p.key))
            .collect()
    };
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Some(out))
}

fn profile_name(p: Profile) -> &'static str {
    match p {
        Profile::ReadOnly => "read-only",
        Profile::ReadWrite => "read-write",
    }
}

/// The permissions a project grants, as a compact cell per `PERMISSIONS` entry.
pub fn matrix_row(p: &ProjectAccess) -> Vec<bool> {
    PERMISSIONS
        .iter()
        .map(|(_, short)| p.permissions.iter().any(|x| x == short))
        .collect()
}
