//! Renders the model as Jira's JSON: issues, users, projects, changelogs, comments and worklogs, with
//! the differences between REST v3 (Atlassian Document Format) and v2 / Data Center (wiki text).

use chrono::TimeZone;
use serde_json::{json, Map, Value};

use crate::model::*;

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

/// Everything a renderer needs to know about the request.
pub struct View<'a> {
    pub site: &'a Site,
    /// The caller (time zone for dates, browse rights for linked issues).
    pub caller: Option<UserIx>,
    /// REST v3 (ADF bodies, Cloud only) or v2 (wiki text).
    pub v3: bool,
    /// Base URL for `self` links, e.g. `http://127.0.0.1:1234` or with context path.
    pub base: &'a str,
}

impl View<'_> {
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
        json!({
            "self": format!("{}/rest/api/{}/issue/{}/comment/{}", self.base, self.api(), issue.id, c.id),
            "id": c.id.to_string(),
            "author": self.user(c.author),
            "body": self.text(&comment_text(c)),
            "updateAuthor": self.user(c.author),
            "created": self.time(c.created),
            "updated": self.time(c.updated),
            "jsdPublic": true,
        })
    }

    pub fn worklog(&self, issue: &Issue, w: &Worklog) -> Value {
        let mut v = json!({
            "self": format!("{}/rest/api/{}/issue/{}/worklog/{}", self.base, self.api(), issue.id, w.id),
            "author": self.user(w.author),
            "updateAuthor": self.user(w.author),
            "created": self.time(w.created),
            "updated": self.time(w.updated),
            "started": self.time(w.started),
            "timeSpent": duration_text(w.time_spent_seconds),
            "timeSpentSeconds": w.time_spent_seconds,
            "id": w.id.to_string(),
            "issueId": issue.id.to_string(),
        });
        if let Some(c) = &w.comment {
            v["comment"] = self.text(c);
        }
        v
    }

    pub fn change_group(&self, g: &ChangeGroup) -> Value {
        json!({
            "id": g.id.to_string(),
            "author": self.user(g.author),
            "created": self.time(g.created),
            "items": g.items.iter().map(|i| self.change_item(i)).collect::<Vec<_>>(),
        })
    }

    fn change_item(&self, item: &ChangeValue) -> Value {
        let site = self.site;
        let user_id = |u: &Option<UserIx>| u.map(|u| site.users[u as usize].account_id.clone());
        let user_name = |u: &Option<UserIx>| u.map(|u| site.users[u as usize].display_name.clone());
        type Row<'s> = (
            &'s str,
            &'s str,
            &'s str,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let (field, field_id, fieldtype, from, from_s, to, to_s): Row = match item {
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
        };
        let mut v = json!({
            "field": field, "fieldtype": fieldtype,
            "from": from, "fromString": from_s, "to": to, "toString": to_s,
        });
        if self.cloud() {
            v["fieldId"] = json!(field_id);
        }
        v
    }

    /// The `changelog` expansion of an issue: the most recent `cap` histories, oldest first.
    pub fn changelog_page(&self, issue: &Issue, cap: usize) -> Value {
        let n = issue.changelog.len();
        let skip = n.saturating_sub(cap);
        json!({
            "startAt": 0,
            "maxResults": n - skip,
            "total": n,
            "histories": issue.changelog[skip..].iter().map(|g| self.change_group(g)).collect::<Vec<_>>(),
        })
    }

    /// An issue with the requested fields. `fields` decides which fields appear.
    pub fn issue(
        &self,
        issue: &Issue,
        fields: &FieldSelection,
        expand: &Expand,
        caps: InlineCaps,
    ) -> Value {
        let site = self.site;
        let key = site.issue_key(issue);
        let mut f = Map::new();
        let mut put = |name: &str, value: &dyn Fn() -> Value| {
            if fields.wants(name) {
                f.insert(name.to_owned(), value());
            }
        };
        put("summary", &|| json!(summary(issue)));
        put("issuetype", &|| self.issue_type(issue.issue_type));
        put("project", &|| self.project_ref(issue.project));
        put("status", &|| self.status(issue.status));
        put("priority", &|| self.priority(issue.priority));
        put("resolution", &|| {
            issue
                .resolution
                .map(|r| self.resolution(r))
                .unwrap_or(Value::Null)
        });
        put("resolutiondate", &|| {
            issue
                .resolved
                .map(|t| json!(self.time(t)))
                .unwrap_or(Value::Null)
        });
        put("assignee", &|| self.opt_user(issue.assignee));
        put("reporter", &|| self.user(issue.reporter));
        put("creator", &|| self.user(issue.reporter));
        put("created", &|| json!(self.time(issue.created)));
        put("updated", &|| json!(self.time(issue.updated)));
        put("statuscategorychangedate", &|| {
            json!(self.time(issue.status_changed))
        });
        put("lastViewed", &|| Value::Null);
        put("description", &|| {
            issue
                .description
                .as_deref()
                .map(|d| self.text(d))
                .unwrap_or(Value::Null)
        });
        put("environment", &|| Value::Null);
        put("duedate", &|| Value::Null);
        put("labels", &|| {
            json!(issue.labels.iter().map(|l| l.as_ref()).collect::<Vec<_>>())
        });
        put("components", &|| {
            let p = &site.projects[issue.project as usize];
            Value::Array(
                p.components
                    .iter()
                    .filter(|c| issue.components.contains(&c.id))
                    .map(|c| self.component(issue.project, c))
                    .collect(),
            )
        });
        put("fixVersions", &|| {
            let p = &site.projects[issue.project as usize];
            Value::Array(
                p.versions
                    .iter()
                    .filter(|v| issue.fix_versions.contains(&v.id))
                    .map(|v| self.version(issue.project, v))
                    .collect(),
            )
        });
        put("versions", &|| json!([]));
        put("parent", &|| {
            issue
                .parent
                .map(|p| self.issue_ref(p))
                .unwrap_or(Value::Null)
        });
        put("subtasks", &|| json!([]));
        put("issuelinks", &|| {
            Value::Array(issue.links.iter().map(|l| self.issue_link(l)).collect())
        });
        put(
            "watches",
            &|| json!({"self": format!("{}/rest/api/{}/issue/{}/watchers", self.base, self.api(), key), "watchCount": 1, "isWatching": false}),
        );
        put(
            "votes",
            &|| json!({"self": format!("{}/rest/api/{}/issue/{}/votes", self.base, self.api(), key), "votes": 0, "hasVoted": false}),
        );
        put("timetracking", &|| {
            let spent: u32 = issue.worklogs.iter().map(|w| w.time_spent_seconds).sum();
            if spent == 0 {
                json!({})
            } else {
                json!({"timeSpent": duration_text(spent), "timeSpentSeconds": spent})
            }
        });
        put("timespent", &|| {
            let spent: u32 = issue.worklogs.iter().map(|w| w.time_spent_seconds).sum();
            if spent == 0 {
                Value::Null
            } else {
                json!(spent)
            }
        });
        put("comment", &|| {
            let n = issue.comments.len();
            let shown = n.min(caps.comments);
            json!({
                "comments": issue.comments[..shown].iter().map(|c| self.comment(issue, c)).collect::<Vec<_>>(),
                "self": format!("{}/rest/api/{}/issue/{}/comment", self.base, self.api(), issue.id),
                "maxResults": shown, "total": n, "startAt": 0,
            })
        });
        put("worklog", &|| {
            let n = issue.worklogs.len();
            let shown = n.min(caps.worklogs);
            json!({
                "startAt": 0, "maxResults": shown, "total": n,
                "worklogs": issue.worklogs[..shown].iter().map(|w| self.worklog(issue, w)).collect::<Vec<_>>(),
            })
        });
        put(custom_field::SPRINT, &|| {
            if issue.sprints.is_empty() {
                Value::Null
            } else {
                Value::Array(
                    issue
                        .sprints
                        .iter()
                        .map(|s| self.sprint_field(*s))
                        .collect(),
                )
            }
        });
        put(custom_field::STORY_POINTS, &|| {
            issue.story_points.map(|p| json!(p)).unwrap_or(Value::Null)
        });
        put(custom_field::EPIC_LINK, &|| {
            issue
                .parent
                .and_then(|p| site.issue(p))
                .filter(|p| site.issue_types[p.issue_type as usize].hierarchy_level == 1)
                .map(|p| json!(site.issue_key(p)))
                .unwrap_or(Value::Null)
        });
        put(custom_field::RANK, &|| {
            json!(format!("0|i{:05x}:", issue.id))
        });
        put(custom_field::START_DATE, &|| Value::Null);

        let mut out = json!({
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id.to_string(),
            "self": format!("{}/rest/api/{}/issue/{}", self.base, self.api(), issue.id),
            "key": key,
            "fields": Value::Object(f),
        });
        if expand.changelog {
            out["changelog"] = self.changelog_page(issue, caps.histories);
        }
        if expand.rendered_fields {
            out["renderedFields"] = json!({
                "description": issue.description.as_deref().map(|d| format!("<p>{}</p>", html_escape(d))),
                "created": self.time(issue.created),
                "updated": self.time(issue.updated),
            });
        }
        if expand.names {
            out["names"] = field_names(fields);
        }
        if !issue.properties.is_empty() && !fields.properties.is_empty() {
            let props: Map<String, Value> = issue
                .properties
                .iter()
                .filter(|(k, _)| fields.properties.iter().any(|p| p == *k || p == "*all"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            out["properties"] = Value::Object(props);
        }
        out
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

/// Plain text of an ADF document or a wiki string, for bodies clients send.
pub fn plain_text(body: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => out.push_str(s),
            Value::Object(o) => {
                if let Some(Value::String(t)) = o.get("text") {
                    out.push_str(t);
                }
                if let Some(Value::Array(children)) = o.get("content") {
                    let block = o.get("type").and_then(Value::as_str) != Some("text");
                    for c in children {
                        walk(c, out);
                    }
                    if block && o.get("type").and_then(Value::as_str) == Some("paragraph") {
                        out.push('\n');
                    }
                }
            }
            _ => {}
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

const REMARKS: &[&str] = &[
    "I can reproduce this on staging.",
    "Pushed a fix, please review.",
    "Blocked on the platform team.",
    "Moved to the next sprint.",
    "Customer confirmed the workaround helps.",
    "Added logs, waiting for the next occurrence.",
    "Needs a design review first.",
    "Done, deployed to production.",
];

/// A comment's body: stored when written by a client, otherwise derived from the id.
pub fn comment_text(c: &Comment) -> String {
    match &c.body {
        Some(b) => b.to_string(),
        None => {
            let h = mix(c.id);
            let a = REMARKS[(h % REMARKS.len() as u64) as usize];
            let b = REMARKS[((h >> 8) % REMARKS.len() as u64) as usize];
            format!("{a}\n{b}")
        }
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
