//! Typed write endpoints and their models (create, bulk create, edit, transitions, comments,
//! worklogs, entity properties, issue and remote links) plus the metadata writes need (create and
//! edit metadata, permissions, user lookup, issue search by JQL). Kept apart so that it can move
//! into the typed client of issue 14.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::client::{Client, Error};
use crate::diagnosis::{Code, JiraErrors};

/// An entity property set on create (`{"key", "value"}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntityProperty {
    pub key: String,
    pub value: Value,
}

/// `IssueUpdateDetails` for a create: fields by id, and entity properties set atomically with it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CreateIssue {
    pub fields: Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<EntityProperty>,
}

/// `CreatedIssue`.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct CreatedIssue {
    pub id: String,
    pub key: String,
}

/// One element a bulk create refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BulkError {
    pub failed_element_number: usize,
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub element_errors: Value,
}

impl BulkError {
    /// Jira's error body for this element.
    pub fn jira(&self) -> JiraErrors {
        JiraErrors::parse(&self.element_errors.to_string())
    }
}

/// `CreatedIssues`: what was created, in request order, and what was refused (by index).
#[derive(Debug, Clone, Deserialize, Default)]
#[non_exhaustive]
pub struct BulkCreated {
    #[serde(default)]
    pub issues: Vec<CreatedIssue>,
    #[serde(default)]
    pub errors: Vec<BulkError>,
}

/// A workflow transition available from an issue's status.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: StatusRef,
}

#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct StatusRef {
    pub id: String,
    pub name: String,
}

/// A field of a create or edit screen.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FieldMeta {
    pub id: String,
    pub name: String,
    pub required: bool,
    pub has_default: bool,
    /// `schema.type` (`string`, `number`, `array`, `user`, `option`, `priority`, ...).
    pub schema_type: String,
    /// `schema.items` for arrays.
    pub items: Option<String>,
    /// `schema.custom`, for custom fields.
    pub custom: Option<String>,
    pub allowed_values: Option<Vec<Value>>,
}

impl FieldMeta {
    fn from_json(v: &Value) -> Option<FieldMeta> {
        let id = v
            .get("fieldId")
            .or(v.get("key"))
            .and_then(Value::as_str)?
            .to_owned();
        Some(FieldMeta {
            name: v["name"].as_str().unwrap_or(&id).to_owned(),
            id,
            required: v["required"].as_bool().unwrap_or(false),
            has_default: v["hasDefaultValue"].as_bool().unwrap_or(false),
            schema_type: v["schema"]["type"].as_str().unwrap_or("any").to_owned(),
            items: v["schema"]["items"].as_str().map(str::to_owned),
            custom: v["schema"]["custom"].as_str().map(str::to_owned),
            allowed_values: v["allowedValues"].as_array().cloned(),
        })
    }
}

/// An issue type a project's create metadata offers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetaIssueType {
    pub id: String,
    pub name: String,
    pub subtask: bool,
}

/// A worklog to add.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewWorklog {
    pub time_spent_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<EntityProperty>,
}

/// A comment or worklog as listed, with what reconciliation needs.
#[derive(Debug, Clone)]
pub struct Child {
    pub id: String,
    /// The author's accountId (Cloud) or username (Data Center).
    pub author: Option<String>,
    pub created: Option<String>,
}

/// Whether an error leaves the write's outcome unknown: the request may have been applied
/// (timeout, reset, a 5xx after it was sent). A 4xx is Jira's refusal: nothing was written.
pub fn is_ambiguous(e: &Error) -> bool {
    match e {
        Error::Diagnosed(d) => match d.status {
            Some(s) => s >= 500,
            None => matches!(
                d.code,
                Code::Timeout | Code::ConnectFailed | Code::UnexpectedResponse | Code::ServerError
            ),
        },
        // Jira's refusal of the request: nothing was written.
        Error::Jira { .. } => false,
        // A 2xx whose body did not parse (cut short): the write happened.
        Error::Decode { .. } => true,
        Error::Config(_) => false,
    }
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Client {
    /// Whether this client speaks REST v3 (Cloud, ADF rich text) rather than v2 (wiki text).
    pub fn is_v3(&self) -> bool {
        self.api().ends_with('3')
    }

    /// `POST issue/bulk`: at most 50 issues; each is created or refused on its own.
    pub async fn create_issues(&self, issues: &[CreateIssue]) -> Result<BulkCreated, Error> {
        let path = format!("{}/issue/bulk", self.api());
        let body = json!({ "issueUpdates": issues });
        match self.post_json(&path, &body).await {
            Ok(v) => serde_json::from_value(v).map_err(|e| Error::Decode {
                path,
                message: e.to_string(),
            }),
            // Every element refused: Jira answers 400 with the same body.
            Err(e @ Error::Jira { status: 400, .. }) => Err(e),
            Err(e) => Err(e),
        }
    }

    /// `POST issue`: one issue, refused with Jira's field errors.
    pub async fn create_issue(&self, issue: &CreateIssue) -> Result<CreatedIssue, Error> {
        let path = format!("{}/issue", self.api());
        let v = self.post_json(&path, &json!(issue)).await?;
        serde_json::from_value(v).map_err(|e| Error::Decode {
            path,
            message: e.to_string(),
        })
    }

    /// `PUT issue/{id}` with `fields` (no notification mail for a bulk apply).
    pub async fn edit_issue(&self, id: &str, fields: &Map<String, Value>) -> Result<(), Error> {
        let path = format!("{}/issue/{}", self.api(), enc(id));
        self.send(Method::PUT, &path, Some(&json!({ "fields": fields })))
            .await?;
        Ok(())
    }

    pub async fn transitions(&self, id: &str) -> Result<Vec<Transition>, Error> {
        let path = format!("{}/issue/{}/transitions", self.api(), enc(id));
        let v = self.get_json(&path).await?;
        serde_json::from_value(v["transitions"].clone()).map_err(|e| Error::Decode {
            path,
            message: e.to_string(),
        })
    }

    /// `POST issue/{id}/transitions`, with the fields a transition screen asks for.
    pub async fn transition(
        &self,
        id: &str,
        transition_id: &str,
        fields: &Map<String, Value>,
    ) -> Result<(), Error> {
        let path = format!("{}/issue/{}/transitions", self.api(), enc(id));
        let mut body = json!({ "transition": { "id": transition_id } });
        if !fields.is_empty() {
            body["fields"] = Value::Object(fields.clone());
        }
        self.send(Method::POST, &path, Some(&body)).await?;
        Ok(())
    }

    /// `POST issue/{id}/comment` with entity properties; returns the comment id.
    pub async fn add_comment(
        &self,
        issue: &str,
        body: Value,
        properties: Vec<EntityProperty>,
    ) -> Result<String, Error> {
        let path = format!("{}/issue/{}/comment", self.api(), enc(issue));
        let v = self
            .post_json(&path, &json!({ "body": body, "properties": properties }))
            .await?;
        id_of(&path, &v)
    }

    /// `POST issue/{id}/worklog`; returns the worklog id.
    pub async fn add_worklog(&self, issue: &str, w: &NewWorklog) -> Result<String, Error> {
        let path = format!("{}/issue/{}/worklog", self.api(), enc(issue));
        let v = self.post_json(&path, &json!(w)).await?;
        id_of(&path, &v)
    }

    /// An issue's comments (`comment`) or worklogs (`worklog`), every page.
    pub async fn children(&self, issue: &str, kind: &str) -> Result<Vec<Child>, Error> {
        let list = if kind == "comment" {
            "comments"
        } else {
            "worklogs"
        };
        let mut out = Vec::new();
        loop {
            let path = format!(
                "{}/issue/{}/{kind}?startAt={}&maxResults=100",
                self.api(),
                enc(issue),
                out.len()
            );
            let v = self.get_json(&path).await?;
            let page = v[list].as_array().cloned().unwrap_or_default();
            let n = page.len();
            out.extend(page.iter().map(|c| {
                Child {
                    id: value_str(&c["id"]).unwrap_or_default(),
                    author: c["author"]["accountId"]
                        .as_str()
                        .or(c["author"]["name"].as_str())
                        .map(str::to_owned),
                    created: c["created"].as_str().map(str::to_owned),
                }
            }));
            let total = v["total"].as_u64().unwrap_or(0) as usize;
            if n == 0 || out.len() >= total {
                return Ok(out);
            }
        }
    }

    /// An entity property of an issue (`issue/{id}`), a comment (`comment/{id}`) or a worklog
    /// (`issue/{id}/worklog/{wid}`); `None` when it has none by that key.
    pub async fn property(&self, entity: &str, key: &str) -> Result<Option<Value>, Error> {
        let path = format!("{}/{entity}/properties/{}", self.api(), enc(key));
        match self.get_json(&path).await {
            Ok(v) => Ok(Some(v["value"].clone())),
            Err(e) if e.diagnosis().status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST issueLink`.
    pub async fn link_issues(
        &self,
        link_type: &str,
        inward: &str,
        outward: &str,
    ) -> Result<(), Error> {
        let path = format!("{}/issueLink", self.api());
        let body = json!({
            "type": {"name": link_type},
            "inwardIssue": {"key": inward},
            "outwardIssue": {"key": outward},
        });
        self.send(Method::POST, &path, Some(&body)).await?;
        Ok(())
    }

    /// `POST issue/{id}/remotelink` with a `globalId`: Jira updates the link with that id if the
    /// issue has one, so repeating it never makes a second link.
    pub async fn put_remote_link(
        &self,
        issue: &str,
        global_id: &str,
        url: &str,
        title: &str,
    ) -> Result<String, Error> {
        let path = format!("{}/issue/{}/remotelink", self.api(), enc(issue));
        let body = json!({"globalId": global_id, "object": {"url": url, "title": title}});
        let v = self.post_json(&path, &body).await?;
        id_of(&path, &v)
    }

    /// The issue types the caller may create in a project (every page).
    pub async fn create_meta_issue_types(
        &self,
        project: &str,
    ) -> Result<Vec<MetaIssueType>, Error> {
        let base = format!(
            "{}/issue/createmeta/{}/issuetypes",
            self.api(),
            enc(project)
        );
        let items = self.meta_pages(&base, "issueTypes").await?;
        Ok(items
            .iter()
            .filter_map(|t| {
                Some(MetaIssueType {
                    id: value_str(&t["id"])?,
                    name: t["name"].as_str()?.to_owned(),
                    subtask: t["subtask"].as_bool().unwrap_or(false),
                })
            })
            .collect())
    }

    /// The create screen's fields of one issue type in a project (every page).
    pub async fn create_meta_fields(
        &self,
        project: &str,
        issue_type_id: &str,
    ) -> Result<Vec<FieldMeta>, Error> {
        let base = format!(
            "{}/issue/createmeta/{}/issuetypes/{}",
            self.api(),
            enc(project),
            enc(issue_type_id)
        );
        let items = self.meta_pages(&base, "fields").await?;
        Ok(items.iter().filter_map(FieldMeta::from_json).collect())
    }

    /// The fields the caller may edit on an issue.
    pub async fn edit_meta(&self, issue: &str) -> Result<Vec<FieldMeta>, Error> {
        let path = format!("{}/issue/{}/editmeta", self.api(), enc(issue));
        let v = self.get_json(&path).await?;
        Ok(v["fields"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, f)| {
                let mut f = f.clone();
                f["fieldId"] = json!(k);
                FieldMeta::from_json(&f)
            })
            .collect())
    }

    /// Cloud pages name their list (`issueTypes`, `fields`); Data Center's say `values`.
    async fn meta_pages(&self, base: &str, cloud_key: &str) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        loop {
            let path = format!("{base}?startAt={}&maxResults=50", out.len());
            let v = self.get_json(&path).await?;
            let page = v[cloud_key]
                .as_array()
                .or(v["values"].as_array())
                .cloned()
                .unwrap_or_default();
            let n = page.len();
            out.extend(page);
            let total = v["total"].as_u64().map(|t| t as usize);
            let last = v["isLast"].as_bool().unwrap_or(false);
            if n == 0 || last || total.is_some_and(|t| out.len() >= t) {
                return Ok(out);
            }
        }
    }

    /// Which of `permissions` (Jira's keys, e.g. `CREATE_ISSUES`) the caller holds in a project.
    pub async fn my_permissions(
        &self,
        project: &str,
        permissions: &[&str],
    ) -> Result<Vec<(String, bool)>, Error> {
        let path = format!(
            "{}/mypermissions?projectKey={}&permissions={}",
            self.api(),
            enc(project),
            permissions.join(",")
        );
        let v = self.get_json(&path).await?;
        Ok(permissions
            .iter()
            .map(|p| {
                (
                    (*p).to_owned(),
                    v["permissions"][*p]["havePermission"]
                        .as_bool()
                        .unwrap_or(false),
                )
            })
            .collect())
    }

    /// The account an email address or username names: Cloud's `accountId`, Data Center's
    /// username. `None` when nobody matches exactly.
    pub async fn find_user(&self, who: &str) -> Result<Option<String>, Error> {
        let path = if self.is_v3() {
            format!("{}/user/search?query={}", self.api(), enc(who))
        } else {
            format!("{}/user/search?username={}", self.api(), enc(who))
        };
        let v = self.get_json(&path).await?;
        let found = v.as_array().into_iter().flatten().find(|u| {
            [&u["emailAddress"], &u["name"], &u["accountId"], &u["key"]]
                .iter()
                .any(|f| f.as_str().is_some_and(|s| s.eq_ignore_ascii_case(who)))
        });
        Ok(found.and_then(|u| {
            u["accountId"]
                .as_str()
                .or(u["name"].as_str())
                .map(str::to_owned)
        }))
    }

    /// The account the client acts as: Cloud's `accountId`, Data Center's username.
    pub async fn myself_id(&self) -> Result<String, Error> {
        let path = format!("{}/myself", self.api());
        let v = self.get_json(&path).await?;
        v["accountId"]
            .as_str()
            .or(v["name"].as_str())
            .map(str::to_owned)
            .ok_or(Error::Decode {
                path,
                message: "no accountId or name".into(),
            })
    }

    /// Every issue a JQL query matches, with `fields` and entity `properties`: Cloud's
    /// `search/jql` (token pages), Data Center's `search` (offset pages).
    pub async fn search_all(
        &self,
        jql: &str,
        fields: &[&str],
        properties: &[&str],
    ) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (path, mut body) = if self.is_v3() {
                (
                    format!("{}/search/jql", self.api()),
                    json!({"jql": jql, "fields": fields, "properties": properties, "maxResults": 100}),
                )
            } else {
                (
                    format!("{}/search", self.api()),
                    json!({"jql": jql, "fields": fields, "properties": properties, "maxResults": 100, "startAt": out.len()}),
                )
            };
            if let Some(t) = &token {
                body["nextPageToken"] = json!(t);
            }
            let v = self.post_json(&path, &body).await?;
            let page = v["issues"].as_array().cloned().unwrap_or_default();
            let n = page.len();
            out.extend(page);
            if self.is_v3() {
                token = v["nextPageToken"].as_str().map(str::to_owned);
                if token.is_none() || n == 0 {
                    return Ok(out);
                }
            } else {
                let total = v["total"].as_u64().unwrap_or(0) as usize;
                if n == 0 || out.len() >= total {
                    return Ok(out);
                }
            }
        }
    }
}

fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn id_of(path: &str, v: &Value) -> Result<String, Error> {
    value_str(&v["id"]).ok_or_else(|| Error::Decode {
        path: path.to_owned(),
        message: "the answer names no id".into(),
    })
}
