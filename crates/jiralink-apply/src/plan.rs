//! The plan: each record validated against the create metadata and permissions of its project
//! (every problem of a record at once), its fields turned into Jira's wire values, and compared
//! with Jira's live values to find what must be written.

use std::collections::{HashMap, HashSet};

use jiralink_api::models::LinkedIssue;
use jiralink_api::write::{AllowedValue, CreateIssue, EntityProperty, FieldMeta, FieldedIssue};
use serde_json::{json, Map, Value};

use crate::markup;
use crate::record::Record;
use crate::run::Runner;
use crate::sprint::{sprint_ids, sprints_of, Sprint, SPRINT_FIELD_TYPE};
use crate::{ApplyError, OnConflict, ORIGIN_PROPERTY};

/// What one record needs.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub line: usize,
    /// The linked issue (id, key), when it exists.
    pub issue: Option<(String, String)>,
    pub create: Option<CreateIssue>,
    /// A parent named by another record's external id, resolved when creating.
    pub parent_ref: Option<String>,
    /// Fields to write to an existing issue.
    pub updates: Map<String, Value>,
    /// (field, Jira's value, the file's value) of each update, for the ledger.
    pub diffs: Vec<(String, Value, Value)>,
    /// The base to keep after this apply: field id → normal value.
    pub base: Map<String, Value>,
    pub transition: Option<String>,
    /// The record's fields that are on no create screen, kept for the transition screens on the
    /// way to its status.
    pub transition_fields: Vec<String>,
    /// The sprint to move the issue into (id, name), when it is not there yet.
    pub sprint: Option<(u64, String)>,
    /// The project's sprint field (from its create metadata), to read where the issue is.
    pub sprint_field: Option<String>,
    pub comments: Vec<usize>,
    pub worklogs: Vec<usize>,
    pub links: Vec<usize>,
    pub remote_links: Vec<usize>,
    pub problems: Vec<String>,
}

impl Plan {
    pub fn actions(&self) -> Vec<String> {
        let mut a = Vec::new();
        if self.create.is_some() {
            a.push("create".to_owned());
        }
        if !self.updates.is_empty() {
            a.push(format!(
                "update {}",
                self.updates.keys().cloned().collect::<Vec<_>>().join(",")
            ));
        }
        if let Some(s) = &self.transition {
            a.push(format!("transition {s}"));
        }
        if let Some((_, name)) = &self.sprint {
            a.push(format!("sprint {name}"));
        }
        for (n, what) in [
            (self.comments.len(), "comment"),
            (self.worklogs.len(), "worklog"),
            (self.links.len(), "link"),
            (self.remote_links.len(), "remote_link"),
        ] {
            if n > 0 {
                a.push(format!("{what} x{n}"));
            }
        }
        a
    }
}

/// A value reduced to what Jira's answer and the file's wire value have in common: users by
/// account id or username, options by value, named things by name, rich text as normal text,
/// lists sorted.
pub(crate) fn normal(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::Object(o) => {
            if o.get("type").and_then(Value::as_str) == Some("doc") {
                return text(&markup::normal_text(&jiralink_api::adf::plain_text(v)));
            }
            for k in ["accountId", "value", "name", "key", "id"] {
                if let Some(x) = o.get(k) {
                    return normal(x);
                }
            }
            Value::Object(o.clone())
        }
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(normal).filter(|x| !x.is_null()).collect();
            items.sort_by_key(|x| x.to_string());
            if items.is_empty() {
                Value::Null
            } else {
                Value::Array(items)
            }
        }
        Value::String(s) => text(&markup::normal_text(s)),
        Value::Number(n) => n.as_f64().map(|f| json!(f)).unwrap_or(Value::Null),
        Value::Bool(_) => v.clone(),
    }
}

fn text(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

/// What converting a value needs of a field, from a create or edit screen or a transition's.
pub(crate) struct Spec<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub schema_type: &'a str,
    pub items: Option<&'a str>,
    pub allowed_values: Option<&'a [AllowedValue]>,
}

impl<'a> From<&'a FieldMeta> for Spec<'a> {
    fn from(f: &'a FieldMeta) -> Self {
        Spec {
            id: &f.id,
            name: &f.name,
            schema_type: &f.schema_type,
            items: f.items.as_deref(),
            allowed_values: f.allowed_values.as_deref(),
        }
    }
}

impl<'a> From<&'a crate::workflow::ScreenField> for Spec<'a> {
    fn from(f: &'a crate::workflow::ScreenField) -> Self {
        Spec {
            id: &f.id,
            name: &f.name,
            schema_type: &f.schema_type,
            items: f.items.as_deref(),
            allowed_values: f.allowed.as_deref(),
        }
    }
}

/// One field's wire value from the file's value, by the field's schema; the error names the
/// problem and what Jira accepts.
pub(crate) fn convert(meta: &Spec<'_>, v: &Value, v3: bool) -> Result<Value, String> {
    let name = meta.name;
    let pick = |want: &str, allowed: Option<&[AllowedValue]>, key: &str| -> Result<Value, String> {
        let Some(allowed) = allowed else {
            return Ok(json!({ key: want }));
        };
        let hit = allowed.iter().find(|a| {
            [&a.value, &a.name, &a.id]
                .iter()
                .any(|k| k.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(want)))
        });
        match hit {
            Some(a) => {
                let named = match key {
                    "value" => &a.value,
                    "id" => &a.id,
                    _ => &a.name,
                };
                Ok(json!({ key: named.as_deref().or(a.name.as_deref()).unwrap_or(want) }))
            }
            None => {
                let names: Vec<&str> = allowed
                    .iter()
                    .filter_map(|a| a.value.as_deref().or(a.name.as_deref()))
                    .take(20)
                    .collect();
                Err(format!(
                    "{name}: '{want}' is not an allowed value (allowed: {})",
                    names.join(", ")
                ))
            }
        }
    };
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match meta.schema_type {
        _ if v.is_null() => Ok(Value::Null),
        "string" if meta.id == "description" || meta.id == "environment" => match v {
            Value::String(s) => Ok(markup::rich(s, v3)),
            _ => Err(format!("{name}: give Markdown text")),
        },
        "string" => as_text(v)
            .map(Value::String)
            .ok_or(format!("{name}: give text")),
        "number" => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map(|f| json!(f))
                .map_err(|_| format!("{name}: '{s}' is not a number")),
            _ => Err(format!("{name}: give a number")),
        },
        "priority" | "resolution" => match as_text(v) {
            Some(s) => pick(&s, meta.allowed_values, "name"),
            None => Err(format!("{name}: give the {}'s name", meta.schema_type)),
        },
        "option" => match as_text(v) {
            Some(s) => pick(&s, meta.allowed_values, "value"),
            None => Err(format!("{name}: give the option's value")),
        },
        "issuelink" => match as_text(v) {
            Some(s) => Ok(json!({ "key": s })),
            None => Err(format!("{name}: give an issue key")),
        },
        "array" => {
            let items: Vec<Value> = match v {
                Value::Array(a) => a.clone(),
                Value::String(s) => s
                    .split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(|x| Value::String(x.to_owned()))
                    .collect(),
                _ => return Err(format!("{name}: give a list")),
            };
            match meta.items {
                Some("string") => {
                    let mut out = Vec::new();
                    for i in &items {
                        match i.as_str() {
                            Some(s) if s.contains(' ') && meta.id == "labels" => {
                                return Err(format!("{name}: '{s}' has a space; labels cannot"))
                            }
                            Some(s) => out.push(json!(s)),
                            None => return Err(format!("{name}: give text items")),
                        }
                    }
                    Ok(Value::Array(out))
                }
                Some(kind @ ("option" | "version" | "component")) => {
                    let key = if kind == "option" { "value" } else { "name" };
                    let mut out = Vec::new();
                    for i in &items {
                        let s = as_text(i).ok_or(format!("{name}: give names"))?;
                        out.push(pick(&s, meta.allowed_values, key)?);
                    }
                    Ok(Value::Array(out))
                }
                _ => Ok(Value::Array(items)),
            }
        }
        _ => Ok(v.clone()),
    }
}

/// The create metadata of a project: its issue types and their fields, and the permissions
/// the account holds there.
pub(crate) struct ProjectMeta {
    pub types: Vec<(jiralink_api::write::MetaIssueType, Vec<FieldMeta>)>,
    pub missing_permissions: Vec<String>,
}

const PERMISSIONS: &[&str] = &[
    "CREATE_ISSUES",
    "EDIT_ISSUES",
    "TRANSITION_ISSUES",
    "ADD_COMMENTS",
    "WORK_ON_ISSUES",
    "LINK_ISSUES",
];

async fn project_meta(runner: &Runner<'_>, project: &str) -> Result<ProjectMeta, String> {
    let c = runner.client;
    let types = c
        .create_meta_issue_types(project)
        .await
        .map_err(|e| format!("project {project}: {}", crate::jira_message(&e)))?;
    let mut out = Vec::new();
    for t in types {
        let fields = c
            .create_meta_fields(project, &t.id)
            .await
            .map_err(|e| format!("project {project}: {}", crate::jira_message(&e)))?;
        out.push((t, fields));
    }
    let perms = c
        .my_permissions(project, PERMISSIONS)
        .await
        .map_err(|e| format!("project {project}: {}", crate::jira_message(&e)))?;
    Ok(ProjectMeta {
        types: out,
        missing_permissions: perms
            .into_iter()
            .filter(|(_, has)| !has)
            .map(|(p, _)| p)
            .collect(),
    })
}

/// Plans every record; reads only.
pub(crate) async fn plan(
    runner: &mut Runner<'_>,
    records: &[(usize, Record)],
) -> Result<Vec<Plan>, ApplyError> {
    let client = runner.client;
    let v3 = client.is_v3();
    let in_file: HashSet<&str> = records
        .iter()
        .map(|(_, r)| r.external_id.as_str())
        .collect();
    let mut metas: HashMap<String, Result<ProjectMeta, String>> = HashMap::new();
    for (_, r) in records {
        if !metas.contains_key(&r.project) && !r.project.is_empty() {
            let m = project_meta(runner, &r.project).await;
            metas.insert(r.project.clone(), m);
        }
    }
    let mut sprints: HashMap<String, Result<HashMap<String, Sprint>, String>> = HashMap::new();
    for (_, r) in records {
        if r.sprint.is_some() && !sprints.contains_key(&r.project) {
            let found = sprints_of(client, &r.project)
                .await
                .map_err(|e| format!("sprints of {}: {}", r.project, crate::jira_message(&e)));
            sprints.insert(r.project.clone(), found);
        }
    }
    let mut users: HashMap<String, Option<String>> = HashMap::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut plans = Vec::new();
    for (line, r) in records {
        let mut p = Plan {
            line: *line,
            ..Plan::default()
        };
        if !seen.insert(&r.external_id) {
            p.problems.push(format!(
                "external_id {} appears more than once in the file; each record needs its own",
                r.external_id
            ));
            plans.push(p);
            continue;
        }
        let meta = match metas.get(&r.project) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                p.problems.push(e.clone());
                plans.push(p);
                continue;
            }
            None => {
                p.problems
                    .push("project is empty: give the project key".into());
                plans.push(p);
                continue;
            }
        };
        let Some((itype, fields)) = meta
            .types
            .iter()
            .find(|(t, _)| t.name.eq_ignore_ascii_case(&r.issue_type) || t.id == r.issue_type)
        else {
            let names: Vec<&str> = meta.types.iter().map(|(t, _)| t.name.as_str()).collect();
            p.problems.push(format!(
                "issue_type '{}' cannot be created in {} (it offers: {})",
                r.issue_type,
                r.project,
                names.join(", ")
            ));
            plans.push(p);
            continue;
        };
        // The file's values, by field id.
        let mut given: Vec<(&FieldMeta, Value)> = Vec::new();
        let find = |k: &str| {
            fields
                .iter()
                .find(|f| f.id == k)
                .or_else(|| fields.iter().find(|f| f.name.eq_ignore_ascii_case(k)))
        };
        let mut wanted: Vec<(String, Value)> = Vec::new();
        if let Some(s) = &r.summary {
            wanted.push(("summary".into(), json!(s)));
        }
        if let Some(d) = &r.description {
            wanted.push(("description".into(), json!(d)));
        }
        if let Some(a) = &r.assignee {
            wanted.push(("assignee".into(), json!(a)));
        }
        wanted.extend(r.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (k, v) in wanted {
            match find(&k) {
                Some(f) => given.push((f, v)),
                // A field of a transition screen (a resolution, say): filled on the way.
                None if r.status.is_some() && r.fields.contains_key(&k) => {
                    p.transition_fields.push(k)
                }
                None => p.problems.push(format!(
                    "field '{k}' is not on the create screen of {} {} (it has: {})",
                    r.project,
                    itype.name,
                    fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        let mut wire = Map::new();
        for (f, v) in given {
            if f.schema_type == "user" && !v.is_null() {
                let Some(who) = v.as_str() else {
                    p.problems
                        .push(format!("{}: give an email address or username", f.name));
                    continue;
                };
                if !users.contains_key(who) {
                    let found = client.find_user(who).await.map_err(ApplyError::Jira)?;
                    users.insert(who.to_owned(), found);
                }
                match users.get(who).cloned().flatten() {
                    Some(id) if v3 => {
                        wire.insert(f.id.clone(), json!({ "accountId": id }));
                    }
                    Some(id) => {
                        wire.insert(f.id.clone(), json!({ "name": id }));
                    }
                    None => p.problems.push(format!(
                        "{}: no user '{who}' is visible to this account",
                        f.name
                    )),
                }
                continue;
            }
            match convert(&Spec::from(f), &v, v3) {
                Ok(w) => {
                    wire.insert(f.id.clone(), w);
                }
                Err(e) => p.problems.push(e),
            }
        }
        if let Some(s) = wire.get("summary").and_then(Value::as_str) {
            if s.chars().count() > 255 {
                p.problems
                    .push("summary is longer than Jira's 255 characters".into());
            }
        }
        if let Some(parent) = &r.parent {
            if in_file.contains(parent.as_str()) {
                p.parent_ref = Some(parent.clone());
            } else {
                wire.insert("parent".into(), json!({ "key": parent }));
            }
        }
        for l in &r.links {
            match (&l.key, &l.external_id) {
                (Some(_), None) => {}
                (None, Some(e)) if in_file.contains(e.as_str()) => {}
                (None, Some(e)) if runner.link_of("issue", e)?.is_some() => {}
                (None, Some(e)) => p.problems.push(format!(
                    "link to external_id {e}: no record of the file or earlier apply has it"
                )),
                _ => p.problems.push(format!(
                    "link of type {}: give either key or external_id",
                    l.link_type
                )),
            }
        }
        for w in &r.worklogs {
            if crate::run::seconds(&w.time_spent).is_none() {
                p.problems.push(format!(
                    "worklog {}: time_spent '{}' is neither seconds nor a duration like 1h 30m",
                    w.external_id, w.time_spent
                ));
            }
        }
        if let Some(want) = &r.sprint {
            match sprints.get(&r.project) {
                Some(Ok(all)) => match all.get(&want.to_lowercase()) {
                    Some(s) if s.state == "closed" => p.problems.push(format!(
                        "sprint '{}' is closed: Jira moves no issue into a closed sprint",
                        s.name
                    )),
                    Some(s) => p.sprint = Some((s.id, s.name.clone())),
                    None => p
                        .problems
                        .push(format!("sprint '{want}' is on no board of {}", r.project)),
                },
                Some(Err(e)) => p.problems.push(e.clone()),
                None => {}
            }
            p.sprint_field = fields
                .iter()
                .find(|f| f.custom.as_deref() == Some(SPRINT_FIELD_TYPE))
                .map(|f| f.id.clone());
        }
        let link = runner.link_of("issue", &r.external_id)?;
        let need = |perm: &str| meta.missing_permissions.iter().any(|m| m == perm);
        if link.is_none() && need("CREATE_ISSUES") {
            p.problems.push(format!(
                "this account may not create issues in {} (CREATE_ISSUES)",
                r.project
            ));
        }
        if r.status.is_some() && need("TRANSITION_ISSUES") {
            p.problems.push(format!(
                "this account may not transition issues in {} (TRANSITION_ISSUES)",
                r.project
            ));
        }
        if !r.comments.is_empty() && need("ADD_COMMENTS") {
            p.problems.push(format!(
                "this account may not comment in {} (ADD_COMMENTS)",
                r.project
            ));
        }
        if !r.worklogs.is_empty() && need("WORK_ON_ISSUES") {
            p.problems.push(format!(
                "this account may not log work in {} (WORK_ON_ISSUES)",
                r.project
            ));
        }
        match &link {
            None => {
                for f in fields.iter().filter(|f| f.required && !f.has_default) {
                    let given = wire.contains_key(&f.id)
                        || matches!(f.id.as_str(), "project" | "issuetype")
                        || (f.id == "parent" && p.parent_ref.is_some());
                    if !given {
                        p.problems.push(format!(
                            "{} ({}) is required to create a {} in {}",
                            f.name, f.id, itype.name, r.project
                        ));
                    }
                }
                let mut all = wire.clone();
                all.insert("project".into(), json!({ "key": r.project }));
                all.insert("issuetype".into(), json!({ "id": itype.id }));
                p.base = wire.iter().map(|(k, v)| (k.clone(), normal(v))).collect();
                p.create = Some(CreateIssue {
                    fields: all,
                    properties: vec![EntityProperty {
                        key: ORIGIN_PROPERTY.into(),
                        value: json!({"external_id": r.external_id, "run_id": runner.opts.run_id}),
                    }],
                });
                p.transition = r.status.clone();
            }
            Some(l) => {
                if need("EDIT_ISSUES") && !wire.is_empty() {
                    p.problems.push(format!(
                        "this account may not edit issues in {} (EDIT_ISSUES)",
                        r.project
                    ));
                }
                p.issue = Some((l.jira_id.clone(), l.issue_key.clone().unwrap_or_default()));
                p.base = l.base.as_object().cloned().unwrap_or_default();
                p.updates = wire;
            }
        }
        let r_eid = &r.external_id;
        p.comments = (0..r.comments.len())
            .filter(|i| !runner.has_child("comment", r_eid, &r.comments[*i].external_id))
            .collect();
        p.worklogs = (0..r.worklogs.len())
            .filter(|i| !runner.has_child("worklog", r_eid, &r.worklogs[*i].external_id))
            .collect();
        p.links = (0..r.links.len())
            .filter(|i| {
                let l = &r.links[*i];
                let target = l.key.as_deref().or(l.external_id.as_deref()).unwrap_or("");
                !runner.has_child("link", r_eid, &format!("{}/{target}", l.link_type))
            })
            .collect();
        p.remote_links = (0..r.remote_links.len())
            .filter(|i| {
                let l = &r.remote_links[*i];
                runner.child_base("remote_link", r_eid, &l.global_id)
                    != Some(json!({"url": l.url, "title": l.title}))
            })
            .collect();
        plans.push(p);
    }
    diff_live(runner, records, &mut plans).await?;
    Ok(plans)
}

/// Reads the linked issues (100 per search) and keeps, of each plan's updates, only the fields
/// whose live value differs from the file's; applies the conflict policy where Jira changed too.
async fn diff_live(
    runner: &Runner<'_>,
    records: &[(usize, Record)],
    plans: &mut [Plan],
) -> Result<(), ApplyError> {
    let linked: Vec<usize> = (0..plans.len())
        .filter(|i| plans[*i].issue.is_some() && plans[*i].problems.is_empty())
        .collect();
    let mut field_ids: HashSet<String> = HashSet::from(["status".to_owned()]);
    for i in &linked {
        field_ids.extend(plans[*i].updates.keys().cloned());
        field_ids.extend(plans[*i].sprint_field.clone());
        if !plans[*i].links.is_empty() {
            field_ids.insert("issuelinks".to_owned());
        }
    }
    let field_ids: Vec<&str> = field_ids.iter().map(String::as_str).collect();
    let mut live: HashMap<String, FieldedIssue> = HashMap::new();
    for chunk in linked.chunks(100) {
        let ids: Vec<&str> = chunk
            .iter()
            .filter_map(|i| plans[*i].issue.as_ref().map(|(id, _)| id.as_str()))
            .collect();
        let jql = format!("id in ({})", ids.join(","));
        for issue in runner.client.search_all(&jql, &field_ids, &[]).await? {
            live.insert(issue.id.0.clone(), issue);
        }
    }
    for i in linked {
        let rec = &records[i].1;
        let p = &mut plans[i];
        let Some((id, _)) = p.issue.clone() else {
            continue;
        };
        let Some(issue) = live.get(&id) else {
            p.problems.push(format!(
                "the issue {id} that {} was applied to no longer exists or is not visible",
                rec.external_id
            ));
            continue;
        };
        if let Some(k) = &issue.key {
            p.issue = Some((id.clone(), k.clone()));
        }
        let mut keep = Map::new();
        for (fid, wire) in std::mem::take(&mut p.updates) {
            let file = normal(&wire);
            let jira = normal(issue.field(&fid).unwrap_or(&Value::Null));
            if file == jira {
                p.base.insert(fid, file);
                continue;
            }
            let base = p.base.get(&fid).cloned();
            let jira_changed = base.as_ref().is_some_and(|b| *b != jira);
            if jira_changed {
                match runner.opts.on_conflict {
                    OnConflict::Fail => {
                        p.problems.push(format!(
                            "conflict on {fid}: Jira's value changed since the last apply (it was {}, it is {}) and the file says {}; rerun with --on-conflict jira-wins or file-wins",
                            base.unwrap_or_default(), jira, file
                        ));
                        continue;
                    }
                    OnConflict::JiraWins => {
                        p.base.insert(fid, jira);
                        continue;
                    }
                    OnConflict::FileWins => {}
                }
            }
            p.diffs.push((fid.clone(), jira, file.clone()));
            p.base.insert(fid.clone(), file);
            keep.insert(fid, wire);
        }
        p.updates = keep;
        // What will be edited must be on the issue's edit screen (and editable by this account).
        if !p.updates.is_empty() {
            match runner.client.edit_meta(&id).await {
                Ok(meta) => {
                    for fid in p.updates.keys() {
                        if !meta.iter().any(|f| f.id == *fid) {
                            p.problems.push(format!(
                                "{fid} cannot be edited on {}: it is not on its edit screen, or this account may not edit it",
                                issue.key.as_deref().unwrap_or(&id)
                            ));
                        }
                    }
                }
                Err(e) => p
                    .problems
                    .push(format!("editmeta: {}", crate::jira_message(&e))),
            }
        }
        // Links Jira already has (made by an earlier run whose ledger is gone, or by hand) are
        // not sent again: Jira would add a second one.
        let mut keep_links = Vec::new();
        for li in std::mem::take(&mut p.links) {
            let l = &rec.links[li];
            let target = match (&l.key, &l.external_id) {
                (Some(k), _) => Some(k.clone()),
                (None, Some(e)) => runner.link_of("issue", e)?.and_then(|x| x.issue_key),
                _ => None,
            };
            let there = target.is_some_and(|t| {
                issue.links().iter().any(|x| {
                    let key = |end: &Option<LinkedIssue>| {
                        end.as_ref().and_then(|e| e.key.as_deref()) == Some(t.as_str())
                    };
                    x.link_type
                        .as_ref()
                        .and_then(|lt| lt.name.as_deref())
                        .is_some_and(|n| n.eq_ignore_ascii_case(&l.link_type))
                        && (key(&x.inward_issue) || key(&x.outward_issue))
                })
            });
            if !there {
                keep_links.push(li);
            }
        }
        p.links = keep_links;
        // Already in the sprint: nothing to move. (Without a sprint field to read, the move is
        // made: Jira's move is idempotent.)
        if let (Some((sid, _)), Some(f)) = (&p.sprint, &p.sprint_field) {
            if sprint_ids(issue.field(f).unwrap_or(&Value::Null)).contains(sid) {
                p.sprint = None;
            }
        }
        if let Some(want) = &rec.status {
            let now = issue.status().map(|s| s.name).unwrap_or_default();
            if !now.eq_ignore_ascii_case(want) {
                p.transition = Some(want.clone());
            }
        }
    }
    Ok(())
}
