//! Renders the model as Jira's JSON: issues, users, projects, changelogs, comments and worklogs, with
//! the differences between REST v3 (Atlassian Document Format) and v2 / Data Center (wiki text).

use chrono::TimeZone;
use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::model::*;
use crate::richtext::RichText;

/// How many changelog histories, comments and worklogs an issue carries inline, by context.
#[derive(Debug, Clone, Copy)]
pub struct InlineCaps {
    pub histories: usize,
    pub comments: usize,
    pub worklogs: usize,
}

/// Cloud's search results cap the changelog at the 40 most recent histories and embedded comments
/// and worklogs at 20; a single issue GET carries the 100 most recent histories.
pub const CLOUD_SEARCH_CAPS: InlineCaps = InlineCaps {
    histories: 40,
    comments: 20,
    worklogs: 20,
};
pub const CLOUD_ISSUE_CAPS: InlineCaps = InlineCaps {
    histories: 100,
    comments: 5000,
    worklogs: 20,
};
/// Data Center returns whole changelogs (the reason for its memory trouble) and 20 worklogs.
pub const DC_CAPS: InlineCaps = InlineCaps {
    histories: usize::MAX,
    comments: usize::MAX,
    worklogs: 20,
};

/// How the sprint custom field (`com.pyxis.greenhopper.jira:gh-sprint`) is written in issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SprintField {
    /// Cloud since September 2020: JSON objects (`id`, `name`, `state`, `boardId` ...).
    #[default]
    Objects,
    /// Data Center 8.x and 9.x: the sprint's Java `toString`,
    /// `com.atlassian.greenhopper.service.sprint.Sprint@1b7c2ac4[id=2,rapidViewId=2,state=FUTURE,...]`.
    Strings,
    /// Data Center 10.x: the same string with its attributes in alphabetical order.
    SortedStrings,
}

/// Everything a renderer needs to know about the request.
pub struct View<'a> {
    pub site: &'a Site,
    /// The caller (time zone for dates, browse rights for linked issues).
    pub caller: Option<UserIx>,
    /// REST v3 (ADF bodies, Cloud only) or v2 (wiki text).
    pub v3: bool,
    /// Base URL for `self` links, e.g. `http://127.0.0.1:1234` or with context path.
    pub base: &'a str,
    /// Serialized users, statuses, types... of this request, each rendered once per request: a
    /// page of issues repeats the same few dozen of them hundreds of times.
    memo: RefCell<HashMap<(Fragment, u64), Box<str>>>,
    sprint_form: SprintField,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Fragment {
    User,
    Status,
    IssueType,
    Priority,
    Resolution,
    Project,
    Sprint,
}

impl<'a> View<'a> {
    pub fn new(site: &'a Site, caller: Option<UserIx>, v3: bool, base: &'a str) -> View<'a> {
        View {
            site,
            caller,
            v3,
            base,
            memo: RefCell::new(HashMap::new()),
            sprint_form: SprintField::Objects,
        }
    }

    /// Writes the sprint custom field in the given form (objects unless told).
    pub fn with_sprint_field(mut self, form: SprintField) -> View<'a> {
        self.sprint_form = form;
        self
    }

    /// Writes a memoized fragment, rendering it on first use.
    fn fragment(&self, w: &mut JsonWriter, kind: Fragment, id: u64) {
        if let Some(raw) = self.memo.borrow().get(&(kind, id)) {
            w.raw(raw);
            return;
        }
        let value = match kind {
            Fragment::User => self.user(id as UserIx),
            Fragment::Status => self.status(id as u16),
            Fragment::IssueType => self.issue_type(id as u16),
            Fragment::Priority => self.priority(id as u8),
            Fragment::Resolution => self.resolution(id as u8),
            Fragment::Project => self.project_ref(id as ProjectIx),
            Fragment::Sprint => self.sprint_field(id as u32),
        };
        let raw: Box<str> = value.to_string().into();
        w.raw(&raw);
        self.memo.borrow_mut().insert((kind, id), raw);
    }

    /// ADF in v3, wiki text in v2.
    fn write_text(&self, w: &mut JsonWriter, text: &str) {
        if !self.v3 {
            w.str(text);
            return;
        }
        w.obj();
        w.key("type");
        w.str("doc");
        w.key("version");
        w.num(1);
        w.key("content");
        w.arr();
        for line in text.split('\n') {
            w.obj();
            w.key("type");
            w.str("paragraph");
            w.key("content");
            w.arr();
            if !line.is_empty() {
                w.obj();
                w.key("type");
                w.str("text");
                w.key("text");
                w.str(line);
                w.end_obj();
            }
            w.end_arr();
            w.end_obj();
        }
        w.end_arr();
        w.end_obj();
    }

    fn tz(&self) -> chrono_tz::Tz {
        self.caller
            .map(|u| self.site.users[u as usize].time_zone)
            .unwrap_or(chrono_tz::UTC)
    }

    fn api(&self) -> &'static str {
        if self.v3 {
            "3"
        } else {
            "2"
        }
    }

    fn cloud(&self) -> bool {
        self.site.deployment == Deployment::Cloud
    }

    /// A Jira timestamp (`2024-01-02T03:04:05.678+1100`) in the caller's time zone.
    pub fn time(&self, ms: Millis) -> String {
        format_time(ms, self.tz())
    }

    pub fn text(&self, text: &str) -> Value {
        if self.v3 {
            adf(text)
        } else {
            Value::String(text.to_owned())
        }
    }

    pub fn user(&self, ix: UserIx) -> Value {
        let u = &self.site.users[ix as usize];
        let avatars = avatar_urls(&format!("https://avatar.example/{}", u.account_id));
        if self.cloud() {
            let mut v = json!({
                "self": format!("{}/rest/api/{}/user?accountId={}", self.base, self.api(), u.account_id),
                "accountId": u.account_id,
                "accountType": if u.app { "app" } else { "atlassian" },
                "avatarUrls": avatars,
                "displayName": u.display_name,
                "active": u.active,
                "timeZone": u.time_zone.name(),
            });
            if !u.app {
                v["emailAddress"] = json!(u.email);
            }
            v
        } else {
            json!({
                "self": format!("{}/rest/api/2/user?username={}", self.base, u.username),
                "name": u.username,
                "key": u.account_id,
                "emailAddress": u.email,
                "avatarUrls": avatars,
                "displayName": u.display_name,
                "active": u.active,
                "timeZone": u.time_zone.name(),
            })
        }
    }

    pub fn opt_user(&self, ix: Option<UserIx>) -> Value {
        ix.map(|u| self.user(u)).unwrap_or(Value::Null)
    }

    pub fn status_category(&self, c: StatusCategory) -> Value {
        json!({
            "self": format!("{}/rest/api/{}/statuscategory/{}", self.base, self.api(), c.id()),
            "id": c.id(), "key": c.key(), "colorName": c.color(), "name": c.name(),
        })
    }

    pub fn status(&self, ix: u16) -> Value {
        let s = &self.site.statuses[ix as usize];
        json!({
            "self": format!("{}/rest/api/{}/status/{}", self.base, self.api(), s.id),
            "description": "", "iconUrl": format!("{}/images/icons/statuses/generic.png", self.base),
            "name": s.name, "id": s.id.to_string(),
            "statusCategory": self.status_category(s.category),
        })
    }

    pub fn issue_type(&self, ix: u16) -> Value {
        let t = &self.site.issue_types[ix as usize];
        json!({
            "self": format!("{}/rest/api/{}/issuetype/{}", self.base, self.api(), t.id),
            "id": t.id.to_string(), "description": format!("A {}.", t.name.to_lowercase()),
            "iconUrl": format!("{}/images/icons/issuetypes/{}.svg", self.base, t.name.to_lowercase()),
            "name": t.name, "subtask": t.subtask, "hierarchyLevel": t.hierarchy_level,
            "avatarId": 10300 + t.id % 100,
        })
    }

    pub fn priority(&self, ix: u8) -> Value {
        let p = &self.site.priorities[ix as usize];
        json!({
            "self": format!("{}/rest/api/{}/priority/{}", self.base, self.api(), p.id),
            "iconUrl": format!("{}/images/icons/priorities/{}.svg", self.base, p.name.to_lowercase()),
            "name": p.name, "id": p.id.to_string(),
        })
    }

    pub fn resolution(&self, ix: u8) -> Value {
        let r = &self.site.resolutions[ix as usize];
        json!({
            "self": format!("{}/rest/api/{}/resolution/{}", self.base, self.api(), r.id),
            "id": r.id.to_string(), "description": format!("{}.", r.name), "name": r.name,
        })
    }

    pub fn project_ref(&self, ix: ProjectIx) -> Value {
        let p = &self.site.projects[ix as usize];
        json!({
            "self": format!("{}/rest/api/{}/project/{}", self.base, self.api(), p.id),
            "id": p.id.to_string(), "key": p.key, "name": p.name,
            "projectTypeKey": p.project_type.key(), "simplified": false,
            "avatarUrls": avatar_urls(&format!("{}/rest/api/{}/universal_avatar/view/type/project/avatar/{}", self.base, self.api(), p.id)),
        })
    }

    pub fn project(&self, ix: ProjectIx) -> Value {
        let p = &self.site.projects[ix as usize];
        let mut v = self.project_ref(ix);
        let o = v.as_object_mut().expect("project_ref is an object");
        o.insert(
            "description".into(),
            json!(format!("The {} project.", p.name)),
        );
        o.insert("lead".into(), self.user(p.lead));
        o.insert("assigneeType".into(), json!("UNASSIGNED"));
        o.insert("archived".into(), json!(p.archived));
        o.insert("isPrivate".into(), json!(false));
        o.insert("style".into(), json!("classic"));
        o.insert(
            "issueTypes".into(),
            Value::Array(p.issue_types.iter().map(|t| self.issue_type(*t)).collect()),
        );
        o.insert(
            "components".into(),
            Value::Array(p.components.iter().map(|c| self.component(ix, c)).collect()),
        );
        o.insert(
            "versions".into(),
            Value::Array(p.versions.iter().map(|ver| self.version(ix, ver)).collect()),
        );
        o.insert("roles".into(), json!({}));
        v
    }

    pub fn component(&self, project: ProjectIx, c: &NamedItem) -> Value {
        let p = &self.site.projects[project as usize];
        json!({
            "self": format!("{}/rest/api/{}/component/{}", self.base, self.api(), c.id),
            "id": c.id.to_string(), "name": c.name, "project": p.key, "projectId": p.id,
        })
    }

    pub fn version(&self, project: ProjectIx, ver: &NamedItem) -> Value {
        let p = &self.site.projects[project as usize];
        json!({
            "self": format!("{}/rest/api/{}/version/{}", self.base, self.api(), ver.id),
            "id": ver.id.to_string(), "name": ver.name, "archived": false, "released": !ver.id.is_multiple_of(3),
            "projectId": p.id,
        })
    }

    pub fn sprint_field(&self, id: u32) -> Value {
        let Some(s) = self.site.sprints.iter().find(|s| s.id == id) else {
            return Value::Null;
        };
        if self.sprint_form != SprintField::Objects {
            return Value::String(sprint_string(
                s,
                self.sprint_form == SprintField::SortedStrings,
            ));
        }
        let mut v = json!({
            "id": s.id, "name": s.name, "state": s.state.as_str(), "boardId": s.board, "goal": s.goal,
        });
        if let Some(t) = s.start {
            v["startDate"] = json!(iso_utc(t));
        }
        if let Some(t) = s.end {
            v["endDate"] = json!(iso_utc(t));
        }
        if let Some(t) = s.complete {
            v["completeDate"] = json!(iso_utc(t));
        }
        v
    }

    /// The Agile API's sprint object.
    pub fn sprint(&self, s: &Sprint) -> Value {
        let mut v = json!({
            "id": s.id,
            "self": format!("{}/rest/agile/1.0/sprint/{}", self.base, s.id),
            "state": s.state.as_str(), "name": s.name, "originBoardId": s.board, "goal": s.goal,
            "createdDate": iso_utc(s.created),
        });
        if let Some(t) = s.start {
            v["startDate"] = json!(iso_utc(t));
        }
        if let Some(t) = s.end {
            v["endDate"] = json!(iso_utc(t));
        }
        if let Some(t) = s.complete {
            v["completeDate"] = json!(iso_utc(t));
        }
        v
    }

    pub fn issue_ref(&self, id: IssueId) -> Value {
        let Some(i) = self.site.issue(id) else {
            return Value::Null;
        };
        json!({
            "id": i.id.to_string(), "key": self.site.issue_key(i),
            "self": format!("{}/rest/api/{}/issue/{}", self.base, self.api(), i.id),
            "fields": {
                "summary": summary(i),
                "status": self.status(i.status),
                "priority": self.priority(i.priority),
                "issuetype": self.issue_type(i.issue_type),
            }
        })
    }

    pub fn comment(&self, issue: &Issue, c: &Comment) -> Value {
        let mut w = JsonWriter::default();
        self.write_comment(&mut w, issue, c);
        w.into_value()
    }

    fn write_comment(&self, w: &mut JsonWriter, issue: &Issue, c: &Comment) {
        w.obj();
        w.key("self");
        w.str(&format!(
            "{}/rest/api/{}/issue/{}/comment/{}",
            self.base,
            self.api(),
            issue.id,
            c.id
        ));
        w.key("id");
        w.str(&c.id.to_string());
        w.key("author");
        self.fragment(w, Fragment::User, c.author.into());
        w.key("body");
        match &c.body {
            Some(body) => self.write_text(w, body),
            None => {
                let body = RichText::comment(c.id, self.site.users.len());
                if self.v3 {
                    w.raw(&body.adf(self.site));
                } else {
                    w.str(&body.wiki(self.site));
                }
            }
        }
        w.key("updateAuthor");
        self.fragment(w, Fragment::User, c.author.into());
        w.key("created");
        w.str(&self.time(c.created));
        w.key("updated");
        w.str(&self.time(c.updated));
        w.key("jsdPublic");
        w.bool(true);
        w.end_obj();
    }

    pub fn worklog(&self, issue: &Issue, wl: &Worklog) -> Value {
        let mut w = JsonWriter::default();
        self.write_worklog(&mut w, issue, wl);
        w.into_value()
    }

    fn write_worklog(&self, w: &mut JsonWriter, issue: &Issue, wl: &Worklog) {
        w.obj();
        w.key("self");
        w.str(&format!(
            "{}/rest/api/{}/issue/{}/worklog/{}",
            self.base,
            self.api(),
            issue.id,
            wl.id
        ));
        w.key("author");
        self.fragment(w, Fragment::User, wl.author.into());
        w.key("updateAuthor");
        self.fragment(w, Fragment::User, wl.author.into());
        if let Some(c) = &wl.comment {
            w.key("comment");
            self.write_text(w, c);
        }
        w.key("created");
        w.str(&self.time(wl.created));
        w.key("updated");
        w.str(&self.time(wl.updated));
        w.key("started");
        w.str(&self.time(wl.started));
        w.key("timeSpent");
        w.str(&duration_text(wl.time_spent_seconds));
        w.key("timeSpentSeconds");
        w.num(wl.time_spent_seconds);
        w.key("id");
        w.str(&wl.id.to_string());
        w.key("issueId");
        w.str(&issue.id.to_string());
        w.end_obj();
    }

    /// A changelog history, written straight to JSON: the changelog pages are the simulator's
    /// largest answers after the issues, and building them as `Value` trees to serialise them
    /// again was half of its CPU in a sync.
    pub fn change_group(&self, g: &ChangeGroup) -> Box<RawValue> {
        let mut w = JsonWriter::default();
        self.write_change_group(&mut w, g);
        w.into_raw()
    }

    /// Keys in sorted order, as the `Value` these pages were once built as wrote them.
    fn write_change_group(&self, w: &mut JsonWriter, g: &ChangeGroup) {
        w.obj();
        w.key("author");
        self.fragment(w, Fragment::User, g.author.into());
        w.key("created");
        w.str(&self.time(g.created));
        w.key("id");
        w.str(&g.id.to_string());
        w.key("items");
        w.arr();
        for item in &g.items {
            self.write_change_item(w, item);
        }
        w.end_arr();
        w.end_obj();
    }

    fn write_change_item(&self, w: &mut JsonWriter, item: &ChangeValue) {
        let (field, field_id, fieldtype, from, from_s, to, to_s) = self.change_row(item);
        let text = |w: &mut JsonWriter, v: &Option<String>| match v {
            Some(s) => w.str(s),
            None => w.null(),
        };
        w.obj();
        w.key("field");
        w.str(field);
        if self.cloud() {
            w.key("fieldId");
            w.str(field_id);
        }
        w.key("fieldtype");
        w.str(fieldtype);
        w.key("from");
        text(w, &from);
        w.key("fromString");
        text(w, &from_s);
        w.key("to");
        text(w, &to);
        w.key("toString");
        text(w, &to_s);
        w.end_obj();
    }

    /// A change item's field, field id, field type, and its values and their display strings
    /// before and after.
    fn change_row<'s>(&'s self, item: &'s ChangeValue) -> ChangeRow<'s> {
        let site = self.site;
        let user_id = |u: &Option<UserIx>| u.map(|u| site.users[u as usize].account_id.clone());
        let user_name = |u: &Option<UserIx>| u.map(|u| site.users[u as usize].display_name.clone());
        match item {
            ChangeValue::Status { from, to } => {
                let (f, t) = (&site.statuses[*from as usize], &site.statuses[*to as usize]);
                (
                    "status",
                    "status",
                    "jira",
                    Some(f.id.to_string()),
                    Some(f.name.clone()),
                    Some(t.id.to_string()),
                    Some(t.name.clone()),
                )
            }
            ChangeValue::Assignee { from, to } => (
                "assignee",
                "assignee",
                "jira",
                user_id(from),
                user_name(from),
                user_id(to),
                user_name(to),
            ),
            ChangeValue::Priority { from, to } => {
                let (f, t) = (
                    &site.priorities[*from as usize],
                    &site.priorities[*to as usize],
                );
                (
                    "priority",
                    "priority",
                    "jira",
                    Some(f.id.to_string()),
                    Some(f.name.clone()),
                    Some(t.id.to_string()),
                    Some(t.name.clone()),
                )
            }
            ChangeValue::Resolution { from, to } => {
                let r = |x: &Option<u8>| x.map(|x| &site.resolutions[x as usize]);
                let (f, t) = (r(from), r(to));
                (
                    "resolution",
                    "resolution",
                    "jira",
                    f.map(|x| x.id.to_string()),
                    f.map(|x| x.name.clone()),
                    t.map(|x| x.id.to_string()),
                    t.map(|x| x.name.clone()),
                )
            }
            ChangeValue::Sprint { from, to } => {
                let ids =
                    |v: &[u32]| (!v.is_empty()).then(|| join(v.iter().map(|s| s.to_string())));
                let names = |v: &[u32]| {
                    (!v.is_empty()).then(|| {
                        join(v.iter().map(|id| {
                            site.sprints
                                .iter()
                                .find(|s| s.id == *id)
                                .map(|s| s.name.clone())
                                .unwrap_or_default()
                        }))
                    })
                };
                (
                    "Sprint",
                    custom_field::SPRINT,
                    "custom",
                    ids(from),
                    names(from),
                    ids(to),
                    names(to),
                )
            }
            ChangeValue::StoryPoints { from, to } => {
                let f = |x: &Option<f32>| x.map(|x| x.to_string());
                (
                    "Story point estimate",
                    custom_field::STORY_POINTS,
                    "custom",
                    None,
                    f(from),
                    None,
                    f(to),
                )
            }
            ChangeValue::Key { from, to } => (
                "Key",
                "key",
                "jira",
                None,
                Some(from.clone()),
                None,
                Some(to.clone()),
            ),
            ChangeValue::Project { from, to } => {
                let (f, t) = (&site.projects[*from as usize], &site.projects[*to as usize]);
                (
                    "project",
                    "project",
                    "jira",
                    Some(f.id.to_string()),
                    Some(f.name.clone()),
                    Some(t.id.to_string()),
                    Some(t.name.clone()),
                )
            }
            ChangeValue::Text {
                field_id,
                field,
                from,
                to,
            } => (
                field.as_str(),
                field_id.as_str(),
                "jira",
                None,
                from.clone(),
                None,
                to.clone(),
            ),
        }
    }

    /// The `changelog` expansion of an issue: the most recent `cap` histories, oldest first.
    fn write_changelog_page(&self, w: &mut JsonWriter, issue: &Issue, cap: usize) {
        let n = issue.changelog.len();
        let skip = n.saturating_sub(cap);
        w.obj();
        w.key("histories");
        w.arr();
        for g in &issue.changelog[skip..] {
            self.write_change_group(w, g);
        }
        w.end_arr();
        w.key("maxResults");
        w.num(n - skip);
        w.key("startAt");
        w.num(0);
        w.key("total");
        w.num(n);
        w.end_obj();
    }

    /// An issue with the requested fields, written straight to JSON (the hot path of every page).
    pub fn issue(
        &self,
        issue: &Issue,
        fields: &FieldSelection,
        expand: &Expand,
        caps: InlineCaps,
    ) -> Box<RawValue> {
        let site = self.site;
        let key = site.issue_key(issue);
        let mut w = JsonWriter::default();
        w.obj();
        w.key("expand");
        w.str("renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations");
        w.key("id");
        w.str(&issue.id.to_string());
        w.key("self");
        w.str(&format!(
            "{}/rest/api/{}/issue/{}",
            self.base,
            self.api(),
            issue.id
        ));
        w.key("key");
        w.str(&key);
        w.key("fields");
        w.obj();
        self.write_fields(&mut w, issue, fields, caps);
        w.end_obj();
        if expand.changelog {
            w.key("changelog");
            self.write_changelog_page(&mut w, issue, caps.histories);
        }
        if expand.rendered_fields {
            w.key("renderedFields");
            w.value(&json!({
                "description": issue.description.as_deref().map(|d| format!("<p>{}</p>", html_escape(d))),
                "created": self.time(issue.created),
                "updated": self.time(issue.updated),
            }));
        }
        if expand.names {
            w.key("names");
            w.value(&field_names(fields));
        }
        if !issue.properties.is_empty() && !fields.properties.is_empty() {
            let props: Map<String, Value> = issue
                .properties
                .iter()
                .filter(|(k, _)| fields.properties.iter().any(|p| p == *k || p == "*all"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            w.key("properties");
            w.value(&Value::Object(props));
        }
        w.end_obj();
        w.into_raw()
    }

    fn write_fields(
        &self,
        w: &mut JsonWriter,
        issue: &Issue,
        fields: &FieldSelection,
        caps: InlineCaps,
    ) {
        let site = self.site;
        let want = |w: &mut JsonWriter, name: &str| -> bool {
            let yes = fields.wants(name);
            if yes {
                w.key(name);
            }
            yes
        };
        if want(w, "summary") {
            w.str(&summary(issue));
        }
        if want(w, "issuetype") {
            self.fragment(w, Fragment::IssueType, issue.issue_type.into());
        }
        if want(w, "project") {
            self.fragment(w, Fragment::Project, issue.project.into());
        }
        if want(w, "status") {
            self.fragment(w, Fragment::Status, issue.status.into());
        }
        if want(w, "priority") {
            self.fragment(w, Fragment::Priority, issue.priority.into());
        }
        if want(w, "resolution") {
            match issue.resolution {
                Some(r) => self.fragment(w, Fragment::Resolution, r.into()),
                None => w.null(),
            }
        }
        if want(w, "resolutiondate") {
            match issue.resolved {
                Some(t) => w.str(&self.time(t)),
                None => w.null(),
            }
        }
        for (name, user) in [
            ("assignee", issue.assignee),
            ("reporter", Some(issue.reporter)),
            ("creator", Some(issue.reporter)),
        ] {
            if want(w, name) {
                match user {
                    Some(u) => self.fragment(w, Fragment::User, u.into()),
                    None => w.null(),
                }
            }
        }
        for (name, t) in [
            ("created", issue.created),
            ("updated", issue.updated),
            ("statuscategorychangedate", issue.status_changed),
        ] {
            if want(w, name) {
                w.str(&self.time(t));
            }
        }
        for name in ["lastViewed", "environment", "duedate"] {
            if want(w, name) {
                w.null();
            }
        }
        if want(w, "description") {
            match issue.description.as_deref() {
                Some(d) => self.write_text(w, d),
                None => w.null(),
            }
        }
        if want(w, "labels") {
            w.arr();
            for l in &issue.labels {
                w.str(l);
            }
            w.end_arr();
        }
        let project = &site.projects[issue.project as usize];
        if want(w, "components") {
            w.arr();
            for c in project
                .components
                .iter()
                .filter(|c| issue.components.contains(&c.id))
            {
                w.value(&self.component(issue.project, c));
            }
            w.end_arr();
        }
        if want(w, "fixVersions") {
            w.arr();
            for v in project
                .versions
                .iter()
                .filter(|v| issue.fix_versions.contains(&v.id))
            {
                w.value(&self.version(issue.project, v));
            }
            w.end_arr();
        }
        for name in ["versions", "subtasks"] {
            if want(w, name) {
                w.raw("[]");
            }
        }
        if want(w, "parent") {
            match issue.parent {
                Some(p) => w.value(&self.issue_ref(p)),
                None => w.null(),
            }
        }
        if want(w, "issuelinks") {
            w.arr();
            for l in &issue.links {
                w.value(&self.issue_link(l));
            }
            w.end_arr();
        }
        let key = site.issue_key(issue);
        if want(w, "watches") {
            w.value(&json!({"self": format!("{}/rest/api/{}/issue/{}/watchers", self.base, self.api(), key), "watchCount": 1, "isWatching": false}));
        }
        if want(w, "votes") {
            w.value(&json!({"self": format!("{}/rest/api/{}/issue/{}/votes", self.base, self.api(), key), "votes": 0, "hasVoted": false}));
        }
        let spent: u32 = issue.worklogs.iter().map(|w| w.time_spent_seconds).sum();
        if want(w, "timetracking") {
            w.obj();
            if spent > 0 {
                w.key("timeSpent");
                w.str(&duration_text(spent));
                w.key("timeSpentSeconds");
                w.num(spent);
            }
            w.end_obj();
        }
        if want(w, "timespent") {
            if spent > 0 {
                w.num(spent);
            } else {
                w.null();
            }
        }
        if want(w, "comment") {
            let n = issue.comments.len();
            let shown = n.min(caps.comments);
            w.obj();
            w.key("comments");
            w.arr();
            for c in &issue.comments[..shown] {
                self.write_comment(w, issue, c);
            }
            w.end_arr();
            w.key("self");
            w.str(&format!(
                "{}/rest/api/{}/issue/{}/comment",
                self.base,
                self.api(),
                issue.id
            ));
            w.key("maxResults");
            w.num(shown);
            w.key("total");
            w.num(n);
            w.key("startAt");
            w.num(0);
            w.end_obj();
        }
        if want(w, "worklog") {
            let n = issue.worklogs.len();
            let shown = n.min(caps.worklogs);
            w.obj();
            w.key("startAt");
            w.num(0);
            w.key("maxResults");
            w.num(shown);
            w.key("total");
            w.num(n);
            w.key("worklogs");
            w.arr();
            for wl in &issue.worklogs[..shown] {
                self.write_worklog(w, issue, wl);
            }
            w.end_arr();
            w.end_obj();
        }
        if want(w, custom_field::SPRINT) {
            if issue.sprints.is_empty() {
                w.null();
            } else {
                w.arr();
                for s in &issue.sprints {
                    self.fragment(w, Fragment::Sprint, (*s).into());
                }
                w.end_arr();
            }
        }
        if want(w, custom_field::STORY_POINTS) {
            match issue.story_points {
                Some(p) => w.value(&json!(p)),
                None => w.null(),
            }
        }
        if want(w, custom_field::EPIC_LINK) {
            let epic = issue
                .parent
                .and_then(|p| site.issue(p))
                .filter(|p| site.issue_types[p.issue_type as usize].hierarchy_level == 1);
            match epic {
                Some(p) => w.str(&site.issue_key(p)),
                None => w.null(),
            }
        }
        if want(w, custom_field::RANK) {
            w.str(&format!("0|i{:05x}:", issue.id));
        }
        if want(w, custom_field::START_DATE) {
            w.null();
        }
    }

    pub fn issue_link(&self, l: &IssueLink) -> Value {
        let t = &self.site.link_types[l.link_type as usize];
        let mut v = json!({
            "id": l.id.to_string(),
            "self": format!("{}/rest/api/{}/issueLink/{}", self.base, self.api(), l.id),
            "type": self.link_type(t),
        });
        let side = if l.outward {
            "outwardIssue"
        } else {
            "inwardIssue"
        };
        v[side] = self.issue_ref(l.other);
        v
    }

    pub fn link_type(&self, t: &LinkType) -> Value {
        json!({
            "id": t.id.to_string(), "name": t.name, "inward": t.inward, "outward": t.outward,
            "self": format!("{}/rest/api/{}/issueLinkType/{}", self.base, self.api(), t.id),
        })
    }
}

/// Which fields an issue response carries (`fields=` parameter).
#[derive(Debug, Clone, Default)]
pub struct FieldSelection {
    pub all: bool,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Issue properties to include (`properties=`).
    pub properties: Vec<String>,
}

impl FieldSelection {
    pub fn all() -> FieldSelection {
        FieldSelection {
            all: true,
            ..Default::default()
        }
    }

    /// Parses Jira's `fields` list: `*all`, `*navigable`, names, `-name` exclusions, `id`/`key` only.
    pub fn parse<S: AsRef<str>>(items: &[S], default_all: bool) -> FieldSelection {
        let mut sel = FieldSelection {
            all: default_all && items.is_empty(),
            ..Default::default()
        };
        for item in items
            .iter()
            .flat_map(|s| s.as_ref().split(','))
            .map(str::trim)
        {
            match item {
                "" => {}
                "*all" | "*navigable" => sel.all = true,
                i if i.starts_with('-') => sel.exclude.push(i[1..].to_owned()),
                i => sel.include.push(i.to_owned()),
            }
        }
        sel
    }

    pub fn wants(&self, name: &str) -> bool {
        if self.exclude.iter().any(|e| e == name) {
            return false;
        }
        self.all || self.include.iter().any(|i| i == name)
    }

    /// Only `id` and/or `key` (or nothing): the cheap selection that allows 5000-issue pages.
    pub fn ids_only(&self) -> bool {
        !self.all && self.include.iter().all(|i| i == "id" || i == "key")
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Expand {
    pub changelog: bool,
    pub rendered_fields: bool,
    pub names: bool,
}

impl Expand {
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Expand {
        let mut e = Expand::default();
        for item in items
            .iter()
            .flat_map(|s| s.as_ref().split(','))
            .map(str::trim)
        {
            match item {
                "changelog" => e.changelog = true,
                "renderedFields" => e.rendered_fields = true,
                "names" => e.names = true,
                _ => {}
            }
        }
        e
    }
}

/// The fields the simulator knows: (id, name, custom, schema type, custom type, searchable).
pub const FIELDS: &[(&str, &str, &str, Option<&str>)] = &[
    ("summary", "Summary", "string", None),
    ("issuetype", "Issue Type", "issuetype", None),
    ("project", "Project", "project", None),
    ("status", "Status", "status", None),
    ("priority", "Priority", "priority", None),
    ("resolution", "Resolution", "resolution", None),
    ("resolutiondate", "Resolved", "datetime", None),
    ("assignee", "Assignee", "user", None),
    ("reporter", "Reporter", "user", None),
    ("creator", "Creator", "user", None),
    ("created", "Created", "datetime", None),
    ("updated", "Updated", "datetime", None),
    (
        "statuscategorychangedate",
        "Status Category Changed",
        "datetime",
        None,
    ),
    ("lastViewed", "Last Viewed", "datetime", None),
    ("description", "Description", "string", None),
    ("environment", "Environment", "string", None),
    ("duedate", "Due date", "date", None),
    ("labels", "Labels", "array", None),
    ("components", "Components", "array", None),
    ("fixVersions", "Fix versions", "array", None),
    ("versions", "Affects versions", "array", None),
    ("parent", "Parent", "issuelink", None),
    ("subtasks", "Sub-tasks", "array", None),
    ("issuelinks", "Linked Issues", "array", None),
    ("watches", "Watchers", "watches", None),
    ("votes", "Votes", "votes", None),
    ("timetracking", "Time tracking", "timetracking", None),
    ("timespent", "Time Spent", "number", None),
    ("comment", "Comment", "comments-page", None),
    ("worklog", "Log Work", "array", None),
    (
        custom_field::SPRINT,
        "Sprint",
        "array",
        Some("com.pyxis.greenhopper.jira:gh-sprint"),
    ),
    (
        custom_field::STORY_POINTS,
        "Story point estimate",
        "number",
        Some("com.pyxis.greenhopper.jira:jsw-story-points"),
    ),
    (
        custom_field::EPIC_LINK,
        "Epic Link",
        "any",
        Some("com.pyxis.greenhopper.jira:gh-epic-link"),
    ),
    (
        custom_field::RANK,
        "Rank",
        "any",
        Some("com.pyxis.greenhopper.jira:gh-lexo-rank"),
    ),
    (
        custom_field::START_DATE,
        "Start date",
        "date",
        Some("com.atlassian.jira.plugin.system.customfieldtypes:datepicker"),
    ),
];

fn field_names(sel: &FieldSelection) -> Value {
    Value::Object(
        FIELDS
            .iter()
            .filter(|(id, ..)| sel.wants(id))
            .map(|(id, name, ..)| ((*id).to_owned(), json!(name)))
            .collect(),
    )
}

/// The `field` endpoint's entries.
pub fn field_list() -> Value {
    Value::Array(
        FIELDS
            .iter()
            .map(|(id, name, ty, custom)| {
                let mut schema = json!({ "type": ty });
                if *ty == "array" {
                    schema["items"] = json!(if *id == custom_field::SPRINT { "json" } else { "string" });
                }
                if let Some(c) = custom {
                    schema["custom"] = json!(c);
                    schema["customId"] = json!(id.trim_start_matches("customfield_").parse::<i64>().unwrap_or(0));
                } else {
                    schema["system"] = json!(id);
                }
                let mut clause = vec![(*id).to_owned()];
                if let Some(n) = id.strip_prefix("customfield_") {
                    clause.push(format!("cf[{n}]"));
                    clause.push((*name).to_owned());
                }
                json!({
                    "id": id, "key": id, "name": name, "custom": custom.is_some(), "orderable": true,
                    "navigable": true, "searchable": true, "clauseNames": clause, "schema": schema,
                })
            })
            .collect(),
    )
}

/// Atlassian Document Format for plain text: one paragraph per line.
pub fn adf(text: &str) -> Value {
    let content: Vec<Value> = text
        .split('\n')
        .map(|line| {
            if line.is_empty() {
                json!({"type": "paragraph", "content": []})
            } else {
                json!({"type": "paragraph", "content": [{"type": "text", "text": line}]})
            }
        })
        .collect();
    json!({"type": "doc", "version": 1, "content": content})
}

/// Plain text of an ADF document (REST v3) or a wiki string (v2), for bodies clients send: the
/// simulator's own reader. Text nodes keep their text; a hard break, a paragraph, a heading or a
/// code block ends a line; list items start with `- `; mentions, emoji, statuses and dates keep the
/// text Jira shows; link cards their URL.
pub fn plain_text(body: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        let Some(o) = v.as_object() else {
            if let Value::String(s) = v {
                out.push_str(s);
            }
            return;
        };
        let attr = |k: &str| {
            o.get("attrs")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
        };
        match o.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => out.push_str(o.get("text").and_then(Value::as_str).unwrap_or("")),
            "hardBreak" => out.push('\n'),
            "mention" | "status" => out.push_str(attr("text").unwrap_or("")),
            "emoji" => out.push_str(attr("text").or(attr("shortName")).unwrap_or("")),
            "inlineCard" | "blockCard" | "embedCard" => out.push_str(attr("url").unwrap_or("")),
            "date" => out.push_str(attr("timestamp").unwrap_or("")),
            kind => {
                if kind == "listItem" {
                    out.push_str("- ");
                }
                for c in o
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    walk(c, out);
                }
                if matches!(kind, "paragraph" | "heading" | "codeBlock" | "rule") {
                    out.push('\n');
                }
            }
        }
    }
    let mut out = String::new();
    walk(body, &mut out);
    out.trim_end_matches('\n').to_owned()
}

pub fn format_time(ms: Millis, tz: chrono_tz::Tz) -> String {
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string(),
        None => String::new(),
    }
}

/// Agile API dates: ISO-8601 in UTC with `Z`.
/// A sprint as Data Center's sprint field holds it: the Java `toString` of GreenHopper's `Sprint`
/// (Joda dates, `<null>` for absent values, upper-case state). Data Center 10 sorts the attributes
/// alphabetically and adds a few; 8.x and 9.x keep the historical order.
pub fn sprint_string(s: &Sprint, sorted: bool) -> String {
    let date = |t: Option<Millis>| t.map(iso_utc).unwrap_or_else(|| "<null>".to_owned());
    let goal = if s.goal.is_empty() {
        "<null>".to_owned()
    } else {
        s.goal.clone()
    };
    let state = s.state.as_str().to_ascii_uppercase();
    let attrs: Vec<(&str, String)> = if sorted {
        vec![
            ("activatedDate", date(s.start)),
            ("autoStartStop", "false".into()),
            ("completeDate", date(s.complete)),
            ("endDate", date(s.end)),
            ("goal", goal),
            ("id", s.id.to_string()),
            ("incompleteIssuesDestinationId", "<null>".into()),
            ("name", s.name.clone()),
            ("rapidViewId", s.board.to_string()),
            ("sequence", s.id.to_string()),
            ("startDate", date(s.start)),
            ("state", state),
            ("synced", "false".into()),
        ]
    } else {
        vec![
            ("id", s.id.to_string()),
            ("rapidViewId", s.board.to_string()),
            ("state", state),
            ("name", s.name.clone()),
            ("startDate", date(s.start)),
            ("endDate", date(s.end)),
            ("completeDate", date(s.complete)),
            ("activatedDate", date(s.start)),
            ("sequence", s.id.to_string()),
            ("goal", goal),
            ("autoStartStop", "false".into()),
        ]
    };
    let body: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    // Java's identity hash: any stable 32-bit value.
    let hash = s.id.wrapping_mul(0x9E37_79B1) | 0x1000_0000;
    format!(
        "com.atlassian.greenhopper.service.sprint.Sprint@{hash:x}[{}]",
        body.join(",")
    )
}

pub fn iso_utc(ms: Millis) -> String {
    match chrono::Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => String::new(),
    }
}

pub fn duration_text(seconds: u32) -> String {
    let (h, m) = (seconds / 3600, seconds % 3600 / 60);
    match (h, m) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

fn avatar_urls(base: &str) -> Value {
    json!({
        "48x48": format!("{base}?size=48"), "24x24": format!("{base}?size=24"),
        "16x16": format!("{base}?size=16"), "32x32": format!("{base}?size=32"),
    })
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const VERBS: &[&str] = &[
    "Fix",
    "Add",
    "Remove",
    "Refactor",
    "Document",
    "Investigate",
    "Speed up",
    "Migrate",
    "Redesign",
    "Test",
];
const THINGS: &[&str] = &[
    "login flow",
    "billing export",
    "search index",
    "onboarding emails",
    "audit log",
    "mobile layout",
    "rate limiter",
    "webhook retries",
    "dark mode",
    "CSV import",
    "SSO settings",
    "invoice PDF",
    "notification centre",
    "API pagination",
    "dashboard charts",
    "access reviews",
];
const QUALIFIERS: &[&str] = &[
    "for enterprise customers",
    "on Safari",
    "after the upgrade",
    "in the EU region",
    "for new users",
    "under load",
    "behind the feature flag",
    "in the admin console",
];

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The issue's summary: stored when set by a client, otherwise derived from the id.
pub fn summary(issue: &Issue) -> String {
    match &issue.summary {
        Some(s) => s.to_string(),
        None => {
            let h = mix(issue.id);
            format!(
                "{} {} {}",
                VERBS[(h % VERBS.len() as u64) as usize],
                THINGS[((h >> 8) % THINGS.len() as u64) as usize],
                QUALIFIERS[((h >> 16) % QUALIFIERS.len() as u64) as usize]
            )
        }
    }
}

/// A comment's body as plain text (what `comment ~` searches): stored when written by a client,
/// otherwise the words of the generated rich text (see `richtext`).
pub fn comment_text(c: &Comment) -> String {
    match &c.body {
        Some(b) => b.to_string(),
        None => RichText::comment(c.id, 1).text(),
    }
}

/// The content hash the snapshot reports for an issue: SHA-256 (hex) of the canonical string
/// `id|key|summary|status id|issue type id|priority id|resolution id|assignee|updated ms|story points`
/// (see docs/simulator.md), so that a sync can prove it holds the same content.
pub fn content_hash(site: &Site, issue: &Issue) -> String {
    use sha2::Digest;
    let assignee = issue
        .assignee
        .map(|u| site.users[u as usize].account_id.as_str())
        .unwrap_or("");
    let canon = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        issue.id,
        site.issue_key(issue),
        summary(issue),
        site.statuses[issue.status as usize].id,
        site.issue_types[issue.issue_type as usize].id,
        site.priorities[issue.priority as usize].id,
        issue
            .resolution
            .map(|r| site.resolutions[r as usize].id.to_string())
            .unwrap_or_default(),
        assignee,
        issue.updated,
        issue
            .story_points
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    hex::encode(sha2::Sha256::digest(canon.as_bytes()))
}

/// What [`View::change_row`] reads off a change item: field, field id, field type, from, from
/// string, to, to string.
type ChangeRow<'s> = (
    &'s str,
    &'s str,
    &'s str,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A streaming JSON writer: objects, arrays, keys and values appended to one buffer, with commas
/// placed automatically. Only `View` uses it, for the issues that fill every page.
#[derive(Debug, Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
    /// Per open container: whether it already holds an item.
    open: Vec<bool>,
    after_key: bool,
}

impl JsonWriter {
    fn sep(&mut self) {
        if self.after_key {
            self.after_key = false;
        } else if let Some(has) = self.open.last_mut() {
            if *has {
                self.buf.push(b',');
            }
            *has = true;
        }
    }
    fn obj(&mut self) {
        self.sep();
        self.buf.push(b'{');
        self.open.push(false);
    }
    fn end_obj(&mut self) {
        self.open.pop();
        self.buf.push(b'}');
    }
    fn arr(&mut self) {
        self.sep();
        self.buf.push(b'[');
        self.open.push(false);
    }
    fn end_arr(&mut self) {
        self.open.pop();
        self.buf.push(b']');
    }
    fn key(&mut self, k: &str) {
        self.sep();
        self.escaped(k);
        self.buf.push(b':');
        self.after_key = true;
    }
    fn escaped(&mut self, s: &str) {
        // Writing a &str to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }
    fn str(&mut self, s: &str) {
        self.sep();
        self.escaped(s);
    }
    fn raw(&mut self, json: &str) {
        self.sep();
        self.buf.extend_from_slice(json.as_bytes());
    }
    fn num(&mut self, n: impl std::fmt::Display) {
        use std::io::Write;
        self.sep();
        let _ = write!(self.buf, "{n}");
    }
    fn bool(&mut self, b: bool) {
        self.raw(if b { "true" } else { "false" });
    }
    fn null(&mut self) {
        self.raw("null");
    }
    fn value(&mut self, v: &Value) {
        self.sep();
        let _ = serde_json::to_writer(&mut self.buf, v);
    }
    fn into_raw(self) -> Box<RawValue> {
        let text = String::from_utf8(self.buf).expect("the writer only writes UTF-8");
        RawValue::from_string(text).expect("the writer produces valid JSON")
    }
    fn into_value(self) -> Value {
        serde_json::from_slice(&self.buf).expect("the writer produces valid JSON")
    }
}

#[cfg(test)]
mod plain_text_tests {
    use super::plain_text;
    use serde_json::json;

    #[test]
    fn adf_reads_as_lines_and_wiki_text_stays() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]},
            {"type": "paragraph", "content": []},
            {"type": "paragraph", "content": [
                {"type": "mention", "attrs": {"id": "5b1", "text": "@Ana"}},
                {"type": "text", "text": " see"}, {"type": "hardBreak"},
                {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}},
                {"type": "inlineCard", "attrs": {"url": "https://example.com/x"}}]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]},
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "two"}]}]}]},
            {"type": "codeBlock", "attrs": {"language": "rust"}, "content": [{"type": "text", "text": "fn main() {}"}]}]});
        assert_eq!(
            plain_text(&doc),
            "Hello world\n\n@Ana see\n😄https://example.com/x\n- one\n- two\nfn main() {}"
        );
        assert_eq!(plain_text(&json!("wiki *text*")), "wiki *text*");
        assert_eq!(plain_text(&json!(null)), "");
    }
}

#[cfg(test)]
mod changelog_tests {
    use super::*;
    use crate::generate::generate;
    use crate::GenConfig;

    /// A history as the `Value` tree the changelog pages were built as before they were written
    /// straight to JSON: the oracle for their shape (keys, nulls, `fieldId` on Cloud only).
    fn as_value(view: &View, g: &ChangeGroup) -> Value {
        let items: Vec<Value> = g
            .items
            .iter()
            .map(|item| {
                let (field, field_id, fieldtype, from, from_s, to, to_s) = view.change_row(item);
                let mut v = json!({
                    "field": field, "fieldtype": fieldtype,
                    "from": from, "fromString": from_s, "to": to, "toString": to_s,
                });
                if view.cloud() {
                    v["fieldId"] = json!(field_id);
                }
                v
            })
            .collect();
        json!({
            "id": g.id.to_string(),
            "author": view.user(g.author),
            "created": view.time(g.created),
            "items": items,
        })
    }

    /// The histories and the changelog expansion give the very bytes the `Value` trees gave
    /// (sorted keys), over every history of a generated site of each deployment.
    #[test]
    fn histories_written_straight_are_the_bytes_the_value_trees_gave() {
        for deployment in [Deployment::Cloud, Deployment::Datacenter] {
            let (site, _) = generate(&GenConfig {
                deployment,
                seed: 3,
                issues: 400,
                projects: None,
            });
            let view = View::new(
                &site,
                None,
                deployment == Deployment::Cloud,
                "http://jira.test",
            );
            let mut kinds = std::collections::HashSet::new();
            let mut histories = 0;
            for issue in &site.issues {
                for g in &issue.changelog {
                    assert_eq!(view.change_group(g).get(), as_value(&view, g).to_string());
                    kinds.extend(g.items.iter().map(std::mem::discriminant));
                    histories += 1;
                }
                let (n, cap) = (issue.changelog.len(), 7);
                let skip = n.saturating_sub(cap);
                let page = json!({
                    "startAt": 0, "maxResults": n - skip, "total": n,
                    "histories": issue.changelog[skip..].iter().map(|g| as_value(&view, g)).collect::<Vec<_>>(),
                });
                let mut w = JsonWriter::default();
                view.write_changelog_page(&mut w, issue, cap);
                assert_eq!(String::from_utf8(w.buf).expect("UTF-8"), page.to_string());
            }
            assert!(histories > 1000, "{deployment:?}: {histories} histories");
            assert!(
                kinds.len() >= 5,
                "{deployment:?}: {} kinds of change",
                kinds.len()
            );
        }
    }
}
