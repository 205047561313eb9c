//! The access audit: which projects an account sees and what it may do in each, fetched with the
//! bulk permission APIs (three requests, plus for scoped tokens one harmless probe per operation
//! jiralink's features use: `scopes`), and the
//! findings that follow: over- and under-privilege for a use profile, and missing scopes.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::AuthKind;
use crate::client::{Client, Error};

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
    /// `site_admin`, `project_admin`, `delete_rights`, `write_scope_on_read_only`,
    /// `missing_permission`, `missing_scope`, `project_appeared`, `project_vanished`.
    pub kind: String,
    pub severity: Severity,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
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
}

/// Runs the audit. `previous` is the project list of the last audit, to notice changes.
pub async fn audit(
    client: &Client,
    profile: Profile,
    previous: Option<&[ProjectAccess]>,
) -> Result<AccessReport, Error> {
    let before = client.requests();
    let api = client.api();
    let visible = client
        .post_json(
            &format!("{api}/permissions/project"),
            &json!({"permissions": ["BROWSE_PROJECTS"]}),
        )
        .await?;
    let mut projects: Vec<ProjectAccess> = visible["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| ProjectAccess {
            id: p["id"]
                .as_i64()
                .map(|i| i.to_string())
                .or(p["id"].as_str().map(str::to_owned))
                .unwrap_or_default(),
            key: p["key"].as_str().unwrap_or_default().to_owned(),
            permissions: Vec::new(),
        })
        .collect();
    projects.sort_by(|a, b| a.key.cmp(&b.key));
    let ids: Vec<i64> = projects.iter().filter_map(|p| p.id.parse().ok()).collect();
    let check = json!({
        "globalPermissions": ["ADMINISTER"],
        "projectPermissions": [{"permissions": PERMISSIONS.iter().map(|(k, _)| *k).collect::<Vec<_>>(), "projects": ids}],
    });
    let grants = client
        .post_json(&format!("{api}/permissions/check"), &check)
        .await?;
    let site_admin = grants["globalPermissions"]
        .as_array()
        .is_some_and(|g| g.iter().any(|x| x == "ADMINISTER"));
    for grant in grants["projectPermissions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(short) = PERMISSIONS
            .iter()
            .find(|(k, _)| grant["permission"] == *k)
            .map(|(_, s)| *s)
        else {
            continue;
        };
        for pid in grant["projects"].as_array().into_iter().flatten() {
            let pid = pid.as_i64().map(|i| i.to_string()).unwrap_or_default();
            if let Some(p) = projects.iter_mut().find(|p| p.id == pid) {
                p.permissions.push(short.to_owned());
            }
        }
    }
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
    for (_, message) in crate::scopes::missing_features(&features, profile == Profile::ReadWrite) {
        findings.push(Finding {
            kind: "missing_scope".into(),
            severity: Severity::Warning,
            message,
            projects: vec![],
        });
    }
    Ok(AccessReport {
        profile,
        site_admin,
        projects,
        missing_scopes,
        features,
        findings,
        requests: client.requests() - before,
    })
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
        out.push(Finding { kind: "site_admin".into(), severity: Severity::Warning, message: "The account is a Jira administrator (ADMINISTER): far more than any integration needs. Use a dedicated user without admin rights.".into(), projects: vec![] });
    }
    let admin = with("administer");
    if !admin.is_empty() {
        out.push(Finding {
            kind: "project_admin".into(),
            severity: Severity::Warning,
            message: format!(
                "The account administers {} project(s); integrations do not need project admin.",
                admin.len()
            ),
            projects: admin,
        });
    }
    let delete = with("delete");
    if !delete.is_empty() {
        out.push(Finding { kind: "delete_rights".into(), severity: Severity::Warning, message: format!("The account may delete issues in {} project(s); remove DELETE_ISSUES from its groups.", delete.len()), projects: delete });
    }
    if profile == Profile::ReadOnly
        && matches!(
            kind,
            AuthKind::ScopedToken | AuthKind::ServiceAccount | AuthKind::Oauth2
        )
        && !missing_scopes.iter().any(|s| s == "write:jira-work")
    {
        out.push(Finding { kind: "write_scope_on_read_only".into(), severity: Severity::Warning, message: "The token has write:jira-work, but the read-only profile never writes: make a token with read scopes only.".into(), projects: vec![] });
    }
    if profile == Profile::ReadOnly {
        let writable = with("edit");
        if !writable.is_empty() && !site_admin {
            out.push(Finding { kind: "write_permission_on_read_only".into(), severity: Severity::Info, message: format!("The account may edit issues in {} project(s) although the read-only profile never writes.", writable.len()), projects: writable });
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
                kind: "missing_permission".into(),
                severity: Severity::Warning,
                message: format!(
                    "The {} profile needs '{need}', which the account lacks in {} project(s).",
                    profile_name(profile),
                    lacking.len()
                ),
                projects: lacking,
            });
        }
    }
    if let Some(prev) = previous {
        let now: Vec<&str> = projects.iter().map(|p| p.key.as_str()).collect();
        let before: Vec<&str> = prev.iter().map(|p| p.key.as_str()).collect();
        let appeared: Vec<String> = now
            .iter()
            .filter(|k| !before.contains(k))
            .map(|k| (*k).to_owned())
            .collect();
        let vanished: Vec<String> = before
            .iter()
            .filter(|k| !now.contains(k))
            .map(|k| (*k).to_owned())
            .collect();
        if !appeared.is_empty() {
            out.push(Finding {
                kind: "project_appeared".into(),
                severity: Severity::Info,
                message: format!(
                    "{} project(s) became visible since the last audit.",
                    appeared.len()
                ),
                projects: appeared,
            });
        }
        if !vanished.is_empty() {
            out.push(Finding { kind: "project_vanished".into(), severity: Severity::Warning, message: format!("{} project(s) are no longer visible since the last audit: was access removed, or the project archived?", vanished.len()), projects: vanished });
        }
    }
    out
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
