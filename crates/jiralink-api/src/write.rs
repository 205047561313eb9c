//! Typed write endpoints (create, bulk create, edit, transitions, comments, worklogs, entity
//! properties, issue and remote links) plus the metadata writes need (create and edit metadata,
//! permissions, user lookup, issue search by JQL). What they send is built here; what Jira answers
//! is read as the wire models of `models::write`.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::client::{Client, Error};
use crate::diagnosis::{Code, JiraErrors};
use crate::models::write::{Authored, EditMeta, FieldMetaWire, PropertyAnswer, TransitionWire};
use crate::models::{IdOnly, ListPage, Named, User};
use crate::pages::Pages;

pub use crate::models::write::{
    AllowedValue, BulkCreated, BulkError, CreatedIssue, FieldedIssue, Transitions,
};

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

impl BulkError {
    /// Jira's error body for this element.
    pub fn jira(&self) -> JiraErrors {
        self.element_errors.clone()
    }
}

/// A workflow transition available from an issue's status, with its screen's fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: StatusRef,
    pub fields: Vec<FieldMeta>,
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StatusRef {
    pub id: String,
    pub name: String,
    /// The status category's key (`new`, `indeterminate`, `done`).
    pub category: Option<String>,
}

impl Transition {
    /// The transitions of an answer that have an id and a target status.
    pub fn list(answer: Transitions) -> Vec<Transition> {
        answer
            .transitions
            .into_iter()
            .filter_map(Transition::from_wire)
            .collect()
    }

    /// A transition as Jira offers it; `None` without its id or its target status.
    fn from_wire(t: TransitionWire) -> Option<Transition> {
        let to = t.to?;
        Some(Transition {
            id: t.id?,
            name: t.name,
            to: StatusRef {
                id: to.id?,
                name: to.name?,
                category: to.status_category.and_then(|c| c.key),
            },
            fields: t
                .fields
                .into_iter()
                .filter_map(|(k, f)| FieldMeta::from_wire(f, Some(k)))
                .collect(),
        })
    }
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
    pub allowed_values: Option<Vec<AllowedValue>>,
}

impl FieldMeta {
    /// A screen field as Jira sends it; `key` is the id where the screen is keyed by field.
    fn from_wire(f: FieldMetaWire, key: Option<String>) -> Option<FieldMeta> {
        let allowed_values = f.allowed_values;
        let id = key.or(f.field_id).or(f.key)?;
        let schema = f.schema.unwrap_or_default();
        Some(FieldMeta {
            name: f.name.unwrap_or_else(|| id.clone()),
            id,
            required: f.required.unwrap_or(false),
            has_default: f.has_default_value.unwrap_or(false),
            schema_type: schema.kind.unwrap_or_else(|| "any".to_owned()),
            items: schema.items,
            custom: schema.custom,
            allowed_values,
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

    /// `POST issue/bulk`: at most 50 issues; each is created or refused on its own. When every
    /// element is refused Jira answers 400 with the same body: an `Error::Jira`.
    pub async fn create_issues(&self, issues: &[CreateIssue]) -> Result<BulkCreated, Error> {
        let path = format!("{}/issue/bulk", self.api());
        self.post_typed(&path, &json!({ "issueUpdates": issues }))
            .await
    }

    /// `POST issue`: one issue, refused with Jira's field errors.
    pub async fn create_issue(&self, issue: &CreateIssue) -> Result<CreatedIssue, Error> {
        let path = format!("{}/issue", self.api());
        self.post_typed(&path, &json!(issue)).await
    }

    /// `PUT issue/{id}` with `fields` (no notification mail for a bulk apply).
    pub async fn edit_issue(&self, id: &str, fields: &Map<String, Value>) -> Result<(), Error> {
        let path = format!("{}/issue/{}", self.api(), enc(id));
        self.send(Method::PUT, &path, Some(&json!({ "fields": fields })))
            .await?;
        Ok(())
    }

    /// The transitions offered from an issue's status, with their screens' fields
    /// (`expand=transitions.fields`).
    pub async fn transitions(&self, id: &str) -> Result<Vec<Transition>, Error> {
        let path = format!(
            "{}/issue/{}/transitions?expand=transitions.fields",
            self.api(),
            enc(id)
        );
        Ok(Transition::list(self.get_typed(&path).await?))
    }

    /// `POST /rest/agile/1.0/sprint/{id}/issue` with up to 50 issue keys. Jira answers 204 with
    /// no body; any 2xx is the move done.
    pub async fn move_to_sprint(&self, sprint: u64, keys: &[String]) -> Result<(), Error> {
        let path = format!("/rest/agile/1.0/sprint/{sprint}/issue");
        self.send(Method::POST, &path, Some(&json!({ "issues": keys })))
            .await?;
        Ok(())
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
        let created = self
            .post_typed(&path, &json!({ "body": body, "properties": properties }))
            .await;
        id_of(&path, created)
    }

    /// `POST issue/{id}/worklog`; returns the worklog id.
    pub async fn add_worklog(&self, issue: &str, w: &NewWorklog) -> Result<String, Error> {
        let path = format!("{}/issue/{}/worklog", self.api(), enc(issue));
        let created = self.post_typed(&path, &json!(w)).await;
        id_of(&path, created)
    }

    /// An issue's comments (`comment`) or worklogs (`worklog`), every page.
    pub async fn children(&self, issue: &str, kind: &str) -> Result<Vec<Child>, Error> {
        let path = format!("{}/issue/{}/{kind}", self.api(), enc(issue));
        let list: Vec<Authored> = Pages::<ListPage<Authored>>::get(self, path, Some(100))
            .all()
            .await?;
        Ok(list
            .into_iter()
            .map(|c| Child {
                id: c.id.unwrap_or_default(),
                author: c.author.and_then(|a| a.account_id.or(a.name)),
                created: c.created,
            })
            .collect())
    }

    /// An entity property of an issue (`issue/{id}`), a comment (`comment/{id}`) or a worklog
    /// (`issue/{id}/worklog/{wid}`); `None` when it has none by that key.
    pub async fn property(&self, entity: &str, key: &str) -> Result<Option<Value>, Error> {
        let path = format!("{}/{entity}/properties/{}", self.api(), enc(key));
        match self.get_typed::<PropertyAnswer>(&path).await {
            Ok(p) => Ok(Some(p.value)),
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
        let created = self.post_typed(&path, &body).await;
        id_of(&path, created)
    }

    /// The issue types the caller may create in a project (every page).
    pub async fn create_meta_issue_types(
        &self,
        project: &str,
    ) -> Result<Vec<MetaIssueType>, Error> {
        let path = format!(
            "{}/issue/createmeta/{}/issuetypes",
            self.api(),
            enc(project)
        );
        let types: Vec<Named> = Pages::<ListPage<Named>>::get(self, path, Some(50))
            .all()
            .await?;
        Ok(types
            .into_iter()
            .filter(|t| !t.id.0.is_empty() && !t.name.is_empty())
            .map(|t| MetaIssueType {
                id: t.id.0,
                name: t.name,
                subtask: t.subtask.unwrap_or(false),
            })
            .collect())
    }

    /// The create screen's fields of one issue type in a project (every page).
    pub async fn create_meta_fields(
        &self,
        project: &str,
        issue_type_id: &str,
    ) -> Result<Vec<FieldMeta>, Error> {
        let path = format!(
            "{}/issue/createmeta/{}/issuetypes/{}",
            self.api(),
            enc(project),
            enc(issue_type_id)
        );
        let fields: Vec<FieldMetaWire> =
            Pages::<ListPage<FieldMetaWire>>::get(self, path, Some(50))
                .all()
                .await?;
        Ok(fields
            .into_iter()
            .filter_map(|f| FieldMeta::from_wire(f, None))
            .collect())
    }

    /// The fields the caller may edit on an issue.
    pub async fn edit_meta(&self, issue: &str) -> Result<Vec<FieldMeta>, Error> {
        let path = format!("{}/issue/{}/editmeta", self.api(), enc(issue));
        let meta: EditMeta = self.get_typed(&path).await?;
        Ok(meta
            .fields
            .into_iter()
            .filter_map(|(k, f)| FieldMeta::from_wire(f, Some(k)))
            .collect())
    }

    /// Which of `permissions` (Jira's keys, e.g. `CREATE_ISSUES`) the caller holds in a project.
    pub async fn my_permissions(
        &self,
        project: &str,
        permissions: &[&str],
    ) -> Result<Vec<(String, bool)>, Error> {
        let held = self.my_permissions_in(Some(project), permissions).await?;
        Ok(permissions
            .iter()
            .map(|p| ((*p).to_owned(), held.holds(p)))
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
        let users: Vec<User> = self.get_typed(&path).await?;
        let found = users.into_iter().find(|u| {
            [&u.email_address, &u.name, &u.account_id, &u.key]
                .iter()
                .any(|f| f.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(who)))
        });
        Ok(found.and_then(|u| u.account_id.or(u.name)))
    }

    /// The account the client acts as: Cloud's `accountId`, Data Center's username.
    pub async fn myself_id(&self) -> Result<String, Error> {
        let me = self.myself().await?;
        me.account_id.or(me.name).ok_or(Error::Decode {
            path: format!("{}/myself", self.api()),
            message: "no accountId or name".into(),
        })
    }

    /// One issue with `fields` (ids, comma-separated as Jira takes them).
    pub async fn issue_with_fields(
        &self,
        issue: &str,
        fields: &str,
    ) -> Result<FieldedIssue, Error> {
        self.get_typed(&format!(
            "{}/issue/{}?fields={fields}",
            self.api(),
            enc(issue)
        ))
        .await
    }

    /// Every issue a JQL query matches, with `fields` and entity `properties`: Cloud's
    /// `search/jql` (token pages), Data Center's `search` (offset pages).
    pub async fn search_all(
        &self,
        jql: &str,
        fields: &[&str],
        properties: &[&str],
    ) -> Result<Vec<FieldedIssue>, Error> {
        let body =
            json!({"jql": jql, "fields": fields, "properties": properties, "maxResults": 100});
        let pages = if self.is_v3() {
            Pages::<ListPage<FieldedIssue>>::post_token(
                self,
                format!("{}/search/jql", self.api()),
                body,
            )
        } else {
            Pages::post(self, format!("{}/search", self.api()), body)
        };
        pages.all().await
    }
}

/// The id of what a write created, from its answer.
fn id_of(path: &str, created: Result<IdOnly, Error>) -> Result<String, Error> {
    created?.id.ok_or_else(|| Error::Decode {
        path: path.to_owned(),
        message: "the answer names no id".into(),
    })
}
