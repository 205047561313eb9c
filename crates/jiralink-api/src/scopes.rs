//! The OAuth scopes each jiralink feature needs on Jira Cloud (classic and granular, from
//! Atlassian's OpenAPI specs), and the probe `access` runs on scoped credentials to find, per
//! feature, the scopes a token lacks before a sync fails on them.
//!
//! A token passes an operation with its classic scopes OR its granular scopes (Atlassian's REST
//! reference: "OAuth 2.0 scopes required: Classic … Granular …"). Jira Software's board and sprint
//! operations list granular scopes only, so even a classic token needs them to read boards and
//! sprints. A scoped API token cannot be asked for its scopes (no introspection endpoint; only
//! OAuth 2.0's token answer names them), so the probe sends one harmless request per operation a
//! feature uses (an unknown id, an empty body, one result) and reads the gateway's 401 "scope does
//! not match": the gateway checks scopes before Jira looks at the request, so any other answer
//! (200, 400, 404) shows the scopes are there. Nothing is created or changed.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::client::{Client, Error};
use crate::diagnosis::Code;

/// A jiralink feature and the scopes its requests need.
#[derive(Debug)]
pub struct Feature {
    /// `credential-test`, `access`, `sync:issues` …, `write-back`.
    pub name: &'static str,
    /// The classic scopes (empty: the feature's operations have no classic alternative).
    pub classic: &'static [&'static str],
    /// The granular scopes (the union over the feature's operations).
    pub granular: &'static [&'static str],
    /// Whether a read-only credential needs the feature (write-back: only read-write).
    pub read: bool,
    /// One harmless request per operation the feature uses: method, path (relative to the REST
    /// API base unless it starts with `/rest/`), body.
    probes: &'static [(&'static str, &'static str, Option<&'static str>)],
}

/// Every feature, in the order `access` reports them.
pub const FEATURES: &[Feature] = &[
    Feature {
        name: "credential-test",
        classic: &["read:jira-user"],
        granular: &[
            "read:application-role:jira",
            "read:group:jira",
            "read:user:jira",
            "read:avatar:jira",
        ],
        read: true,
        probes: &[("GET", "/myself", None)],
    },
    Feature {
        name: "access",
        classic: &["read:jira-work"],
        granular: &["read:permission:jira", "read:project:jira"],
        read: true,
        probes: &[
            (
                "POST",
                "/permissions/project",
                Some(r#"{"permissions":["BROWSE_PROJECTS"]}"#),
            ),
            (
                "POST",
                "/permissions/check",
                Some(r#"{"globalPermissions":["ADMINISTER"]}"#),
            ),
        ],
    },
    Feature {
        name: "sync:projects",
        classic: &["read:jira-work"],
        granular: &[
            "read:issue-type:jira",
            "read:project:jira",
            "read:project.property:jira",
            "read:user:jira",
            "read:application-role:jira",
            "read:avatar:jira",
            "read:group:jira",
            "read:issue-type-hierarchy:jira",
            "read:project-category:jira",
            "read:project-version:jira",
            "read:project.component:jira",
        ],
        read: true,
        probes: &[
            ("GET", "/project/search?maxResults=1", None),
            ("GET", "/project/0", None),
        ],
    },
    Feature {
        name: "sync:issues",
        classic: &["read:jira-work"],
        granular: &[
            "read:issue-details:jira",
            "read:field.default-value:jira",
            "read:field.option:jira",
            "read:field:jira",
            "read:group:jira",
            "read:issue-meta:jira",
            "read:issue-security-level:jira",
            "read:issue.vote:jira",
            "read:issue.changelog:jira",
            "read:avatar:jira",
            "read:issue:jira",
            "read:status:jira",
            "read:user:jira",
            "read:field-configuration:jira",
            "read:issue-type:jira",
            "read:project-category:jira",
            "read:project:jira",
            "read:priority:jira",
            "read:resolution:jira",
        ],
        read: true,
        probes: &[
            (
                "POST",
                "/search/jql",
                Some(r#"{"jql":"created >= -1d","maxResults":1,"fields":["id"]}"#),
            ),
            (
                "POST",
                "/search/approximate-count",
                Some(r#"{"jql":"created >= -1d"}"#),
            ),
            (
                "POST",
                "/issue/bulkfetch",
                Some(r#"{"issueIdsOrKeys":["0"],"fields":["id"]}"#),
            ),
            ("GET", "/status", None),
            ("GET", "/issuetype", None),
            ("GET", "/priority", None),
            ("GET", "/resolution", None),
        ],
    },
    Feature {
        name: "sync:changelogs",
        classic: &["read:jira-work"],
        granular: &[
            "read:issue-meta:jira",
            "read:avatar:jira",
            "read:issue.changelog:jira",
            "read:issue-security-level:jira",
            "read:issue.vote:jira",
            "read:issue:jira",
            "read:status:jira",
            "read:user:jira",
            "read:field-configuration:jira",
        ],
        read: true,
        probes: &[
            (
                "POST",
                "/changelog/bulkfetch",
                Some(r#"{"issueIdsOrKeys":["0"]}"#),
            ),
            ("GET", "/issue/0?fields=id", None),
        ],
    },
    Feature {
        name: "sync:comments",
        classic: &["read:jira-work"],
        granular: &[
            "read:comment:jira",
            "read:comment.property:jira",
            "read:group:jira",
            "read:project:jira",
            "read:project-role:jira",
            "read:user:jira",
            "read:avatar:jira",
        ],
        read: true,
        probes: &[("GET", "/issue/0/comment?maxResults=1", None)],
    },
    Feature {
        name: "sync:worklogs",
        classic: &["read:jira-work"],
        granular: &[
            "read:issue-worklog:jira",
            "read:issue-worklog.property:jira",
            "read:comment:jira",
            "read:group:jira",
            "read:project-role:jira",
            "read:user:jira",
            "read:avatar:jira",
        ],
        read: true,
        probes: &[
            ("GET", "/worklog/updated?since=4102444800000", None),
            ("GET", "/worklog/deleted?since=4102444800000", None),
            ("POST", "/worklog/list", Some(r#"{"ids":[0]}"#)),
            ("GET", "/issue/0/worklog?maxResults=1", None),
        ],
    },
    Feature {
        name: "sync:boards",
        classic: &[],
        granular: &["read:board-scope:jira-software", "read:project:jira"],
        read: true,
        probes: &[("GET", "/rest/agile/1.0/board?maxResults=1", None)],
    },
    Feature {
        name: "sync:sprints",
        classic: &[],
        granular: &["read:sprint:jira-software"],
        read: true,
        probes: &[("GET", "/rest/agile/1.0/board/0/sprint?maxResults=1", None)],
    },
    Feature {
        name: "sync:users",
        classic: &["read:jira-user"],
        granular: &[
            "read:user:jira",
            "read:application-role:jira",
            "read:avatar:jira",
            "read:group:jira",
        ],
        read: true,
        probes: &[("GET", "/users/search?maxResults=1", None)],
    },
    Feature {
        name: "sync:fields",
        classic: &["read:jira-work"],
        granular: &[
            "read:field:jira",
            "read:avatar:jira",
            "read:project-category:jira",
            "read:project:jira",
            "read:field-configuration:jira",
        ],
        read: true,
        probes: &[("GET", "/field", None)],
    },
    Feature {
        name: "write-back",
        classic: &["write:jira-work"],
        granular: &[
            "write:issue:jira",
            "write:comment:jira",
            "write:comment.property:jira",
            "write:attachment:jira",
            "read:issue:jira",
            "write:issue.property:jira",
            "read:comment:jira",
            "read:comment.property:jira",
            "read:group:jira",
            "read:project:jira",
            "read:project-role:jira",
            "read:user:jira",
            "read:avatar:jira",
            "write:issue-worklog:jira",
            "write:issue-worklog.property:jira",
            "read:issue-worklog:jira",
            "read:issue-worklog.property:jira",
        ],
        read: false,
        probes: &[
            ("POST", "/issue", Some(r#"{"fields":{}}"#)),
            ("PUT", "/issue/0", Some(r#"{"fields":{}}"#)),
            ("POST", "/issue/0/transitions", Some(r#"{}"#)),
            ("POST", "/issue/0/comment", Some(r#"{}"#)),
            ("POST", "/issue/0/worklog", Some(r#"{}"#)),
        ],
    },
];

/// What the probe found for one feature.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeatureScopes {
    pub feature: String,
    /// The token holds the scopes of every operation the feature uses.
    pub ok: bool,
    /// The operations (`METHOD path`) that answered "scope does not match".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

/// Probes every feature's operations with the client's token. Each operation is sent once even
/// when several features use it.
pub async fn check(client: &Client) -> Result<Vec<FeatureScopes>, Error> {
    let mut seen: Vec<(String, bool)> = Vec::new();
    let mut out = Vec::new();
    for feature in FEATURES {
        let mut refused = Vec::new();
        for (method, path, body) in feature.probes {
            let full = if path.starts_with("/rest/") {
                (*path).to_owned()
            } else {
                format!("{}{path}", client.api())
            };
            let key = format!("{method} {}", full.split('?').next().unwrap_or(&full));
            let allowed = match seen.iter().find(|(k, _)| *k == key) {
                Some((_, allowed)) => *allowed,
                None => {
                    let allowed = probe(client, method, &full, *body).await?;
                    seen.push((key.clone(), allowed));
                    allowed
                }
            };
            if !allowed {
                refused.push(key);
            }
        }
        out.push(FeatureScopes {
            feature: feature.name.to_owned(),
            ok: refused.is_empty(),
            refused,
        });
    }
    Ok(out)
}

/// Whether the token passes the gateway's scope check for one operation.
async fn probe(
    client: &Client,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<bool, Error> {
    let method = Method::from_bytes(method.as_bytes()).expect("probe methods are valid");
    let body: Option<Value> = body.map(|b| serde_json::from_str(b).unwrap_or_else(|_| json!({})));
    match client.send(method, path, body.as_ref()).await {
        Ok(_) => Ok(true),
        Err(e) => {
            let d = e.diagnosis();
            match (d.code, d.status) {
                (Code::MissingScope, _) => Ok(false),
                // Jira looked at the request (unknown id, invalid body, a permission it checks
                // after the gateway's scope check): the scopes passed.
                (_, Some(400 | 403 | 404 | 405 | 409 | 410 | 422)) => Ok(true),
                _ => Err(e),
            }
        }
    }
}

/// The scopes the missing features need, for `AccessReport::missing_scopes`: their classic scopes
/// where they have any, else their granular ones.
pub fn missing(checks: &[FeatureScopes]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in checks.iter().filter(|c| !c.ok) {
        let Some(f) = FEATURES.iter().find(|f| f.name == c.feature) else {
            continue;
        };
        let scopes = if f.classic.is_empty() {
            f.granular
        } else {
            f.classic
        };
        for s in scopes {
            if !out.iter().any(|o| o == s) {
                out.push((*s).to_owned());
            }
        }
    }
    out
}

/// The features a credential needs that its token may not use: one `missing_scope` finding each,
/// naming the scopes to add (classic or granular). `write` says whether write-back is needed.
pub fn missing_features(checks: &[FeatureScopes], write: bool) -> Vec<(&'static Feature, String)> {
    checks
        .iter()
        .filter(|c| !c.ok)
        .filter_map(|c| FEATURES.iter().find(|f| f.name == c.feature))
        .filter(|f| f.read || write)
        .map(|f| {
            let message = if f.classic.is_empty() {
                format!(
                    "{} needs the scopes {} (Jira Software has no classic scope for them); the token lacks them.",
                    f.name,
                    f.granular.join(", ")
                )
            } else {
                format!(
                    "{} needs the classic scopes {} or the granular scopes {}; the token has neither set.",
                    f.name,
                    f.classic.join(", "),
                    f.granular.join(", ")
                )
            };
            (f, message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_probes_and_names_its_scopes() {
        for f in FEATURES {
            assert!(!f.probes.is_empty(), "{}", f.name);
            assert!(!f.granular.is_empty(), "{}", f.name);
            for (_, _, body) in f.probes {
                if let Some(b) = body {
                    serde_json::from_str::<Value>(b).expect("probe bodies are JSON");
                }
            }
        }
        let boards = FEATURES
            .iter()
            .find(|f| f.name == "sync:boards")
            .expect("boards");
        assert!(boards.classic.is_empty());
    }

    #[test]
    fn missing_features_follow_the_profile() {
        let checks = vec![
            FeatureScopes {
                feature: "sync:sprints".into(),
                ok: false,
                refused: vec!["GET /rest/agile/1.0/board/0/sprint".into()],
            },
            FeatureScopes {
                feature: "write-back".into(),
                ok: false,
                refused: vec!["POST /rest/api/3/issue".into()],
            },
            FeatureScopes {
                feature: "sync:issues".into(),
                ok: true,
                refused: vec![],
            },
        ];
        let read_only: Vec<&str> = missing_features(&checks, false)
            .iter()
            .map(|(f, _)| f.name)
            .collect();
        assert_eq!(read_only, ["sync:sprints"]);
        assert_eq!(missing_features(&checks, true).len(), 2);
        assert_eq!(
            missing(&checks),
            ["read:sprint:jira-software", "write:jira-work"]
        );
    }
}
