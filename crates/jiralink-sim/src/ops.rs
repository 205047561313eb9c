//! State changes shared by the write endpoints, the admin endpoints, the background mutator and the
//! test API: every change to the site goes through here, so each keeps the issue's `updated` time,
//! changelog and the site's id counters consistent (callers then `Shared::touch`).

use crate::model::*;

impl Site {
    /// A timestamp for a change to `issue`: now, and never before its last update.
    fn stamp(&self, issue: IssueId) -> Millis {
        let now = self.now();
        self.issue(issue)
            .map(|i| now.max(i.updated + 1))
            .unwrap_or(now)
    }

    fn record(&mut self, issue: IssueId, author: UserIx, at: Millis, items: Vec<ChangeValue>) {
        let id = self.next_change_id;
        self.next_change_id += 1;
        if let Some(i) = self.issue_mut(issue) {
            i.changelog.push(ChangeGroup {
                id,
                author,
                created: at,
                items,
            });
            i.updated = at;
        }
    }

    /// Creates an issue in `project` and returns its id.
    pub fn create_issue(&mut self, new: NewIssue) -> IssueId {
        let now = self.now();
        let id = FIRST_ISSUE_ID + self.issues.len() as IssueId;
        let project = &mut self.projects[new.project as usize];
        project.next_number += 1;
        let number = project.next_number - 1;
        let status = self.workflows[project.workflow as usize].statuses[0];
        let key = format!("{}-{}", project.key, number);
        self.issues.push(Issue {
            id,
            project: new.project,
            number,
            issue_type: new.issue_type,
            status,
            priority: new.priority,
            resolution: None,
            summary: Some(new.summary.into()),
            description: new.description.map(Into::into),
            assignee: new.assignee,
            reporter: new.reporter,
            created: now,
            updated: now,
            resolved: None,
            status_changed: now,
            story_points: new.story_points,
            sprints: Vec::new(),
            parent: new.parent,
            labels: new.labels.into_iter().map(Into::into).collect(),
            fix_versions: Vec::new(),
            components: Vec::new(),
            changelog: Vec::new(),
            comments: Vec::new(),
            worklogs: Vec::new(),
            links: Vec::new(),
            remote_links: Vec::new(),
            properties: Default::default(),
            deleted: None,
        });
        self.keys.insert(key, id);
        id
    }

    /// Moves an issue to `to_status`, setting or clearing the resolution as Jira's workflows do.
    pub fn transition(&mut self, issue: IssueId, to_status: u16, author: UserIx) {
        self.transition_resolving(issue, to_status, None, author);
    }

    /// A transition with the resolution the transition screen chose (used when it lands in Done).
    pub fn transition_resolving(
        &mut self,
        issue: IssueId,
        to_status: u16,
        resolution: Option<u8>,
        author: UserIx,
    ) {
        let at = self.stamp(issue);
        let done = self.statuses[to_status as usize].category == StatusCategory::Done;
        let Some(i) = self.issue_mut(issue) else {
            return;
        };
        if i.status == to_status {
            return;
        }
        let mut items = vec![ChangeValue::Status {
            from: i.status,
            to: to_status,
        }];
        let new_resolution = if done {
            Some(resolution.or(i.resolution).unwrap_or(0))
        } else {
            None
        };
        if new_resolution != i.resolution {
            items.push(ChangeValue::Resolution {
                from: i.resolution,
                to: new_resolution,
            });
            i.resolution = new_resolution;
            i.resolved = new_resolution.map(|_| at);
        }
        i.status = to_status;
        i.status_changed = at;
        self.record(issue, author, at, items);
    }

    /// Edits a text field (summary or description), with its changelog item.
    pub fn set_text(
        &mut self,
        issue: IssueId,
        field: TextField,
        value: Option<String>,
        author: UserIx,
    ) {
        let at = self.stamp(issue);
        let Some(i) = self.issue_mut(issue) else {
            return;
        };
        let (old, field_id, name) = match field {
            TextField::Summary => (Some(crate::render::summary(i)), "summary", "summary"),
            TextField::Description => (
                i.description.as_deref().map(str::to_owned),
                "description",
                "description",
            ),
        };
        if old == value {
            return;
        }
        match field {
            TextField::Summary => i.summary = value.clone().map(Into::into),
            TextField::Description => i.description = value.clone().map(Into::into),
        }
        let item = ChangeValue::Text {
            field_id: field_id.into(),
            field: name.into(),
            from: old,
            to: value,
        };
        self.record(issue, author, at, vec![item]);
    }

    pub fn set_assignee(&mut self, issue: IssueId, to: Option<UserIx>, author: UserIx) {
        let at = self.stamp(issue);
        let Some(i) = self.issue_mut(issue) else {
            return;
        };
        if i.assignee == to {
            return;
        }
        let item = ChangeValue::Assignee {
            from: i.assignee,
            to,
        };
        i.assignee = to;
        self.record(issue, author, at, vec![item]);
    }

    pub fn set_priority(&mut self, issue: IssueId, to: u8, author: UserIx) {
        let at = self.stamp(issue);
        let Some(i) = self.issue_mut(issue) else {
            return;
        };
        if i.priority == to {
            return;
        }
        let item = ChangeValue::Priority {
            from: i.priority,
            to,
        };
        i.priority = to;
        self.record(issue, author, at, vec![item]);
    }

    pub fn set_story_points(&mut self, issue: IssueId, to: Option<f32>, author: UserIx) {
        let at = self.stamp(issue);
        let Some(i) = self.issue_mut(issue) else {
            return;
        };
        if i.story_points == to {
            return;
        }
        let item = ChangeValue::StoryPoints {
            from: i.story_points,
            to,
        };
        i.story_points = to;
        self.record(issue, author, at, vec![item]);
    }

    /// Puts an issue in a sprint (it leaves its other open sprints, as on a board).
    pub fn set_sprint(&mut self, issue: IssueId, sprint: u32, author: UserIx) {
        let at = self.stamp(issue);
        let open: Vec<u32> = self
            .sprints
            .iter()
            .filter(|s| s.state != SprintState::Closed)
            .map(|s| s.id)
            .collect();
        let Some(i) = self.issue_mut(issue) else {
            return;
        };
        if i.sprints.contains(&sprint) {
            return;
        }
        let from = i.sprints.clone();
        i.sprints.retain(|s| !open.contains(s));
        i.sprints.push(sprint);
        let item = ChangeValue::Sprint {
            from,
            to: i.sprints.clone(),
        };
        self.record(issue, author, at, vec![item]);
    }

    /// Moves an issue to another project: it gets a new key there; the old key keeps resolving.
    pub fn move_issue(&mut self, issue: IssueId, to: ProjectIx, author: UserIx) {
        let at = self.stamp(issue);
        let Some(i) = self.issue(issue) else { return };
        let from = i.project;
        if from == to {
            return;
        }
        let old_key = self.issue_key(i);
        let project = &mut self.projects[to as usize];
        project.next_number += 1;
        let number = project.next_number - 1;
        let new_key = format!("{}-{number}", project.key);
        let target_statuses = self.workflows[project.workflow as usize].statuses.clone();
        let i = self.issue_mut(issue).expect("issue exists: checked above");
        i.project = to;
        i.number = number;
        i.sprints.clear();
        if !target_statuses.contains(&i.status) {
            i.status = target_statuses[0];
        }
        self.keys.insert(new_key.clone(), issue);
        let items = vec![
            ChangeValue::Project { from, to },
            ChangeValue::Key {
                from: old_key,
                to: new_key,
            },
        ];
        self.record(issue, author, at, items);
    }

    /// Deletes an issue; it stays as a tombstone for the snapshot.
    pub fn delete_issue(&mut self, issue: IssueId) {
        let now = self.now();
        if let Some(i) = self.issue_mut(issue) {
            i.deleted = Some(now);
        }
    }

    pub fn add_comment(&mut self, issue: IssueId, author: UserIx, body: String) -> Option<u64> {
        let at = self.stamp(issue);
        let id = self.next_comment_id;
        let i = self.issue_mut(issue)?;
        i.comments.push(Comment {
            id,
            author,
            created: at,
            updated: at,
            body: Some(body.into()),
        });
        i.updated = at;
        self.next_comment_id += 1;
        Some(id)
    }

    pub fn update_comment(&mut self, issue: IssueId, comment: u64, body: String) -> bool {
        let at = self.stamp(issue);
        let Some(i) = self.issue_mut(issue) else {
            return false;
        };
        let Some(c) = i.comments.iter_mut().find(|c| c.id == comment) else {
            return false;
        };
        c.body = Some(body.into());
        c.updated = at;
        i.updated = at;
        true
    }

    pub fn delete_comment(&mut self, issue: IssueId, comment: u64) -> bool {
        let at = self.stamp(issue);
        let Some(i) = self.issue_mut(issue) else {
            return false;
        };
        let before = i.comments.len();
        i.comments.retain(|c| c.id != comment);
        if i.comments.len() == before {
            return false;
        }
        i.updated = at;
        self.deleted_comments.push(Tombstone {
            id: comment,
            issue,
            at,
        });
        true
    }

    pub fn add_worklog(&mut self, issue: IssueId, w: NewWorklog) -> Option<u64> {
        let at = self.stamp(issue);
        let id = self.next_worklog_id;
        let i = self.issue_mut(issue)?;
        i.worklogs.push(Worklog {
            id,
            author: w.author,
            started: w.started.unwrap_or(at),
            created: at,
            updated: at,
            time_spent_seconds: w.time_spent_seconds,
            comment: w.comment.map(Into::into),
        });
        i.updated = at;
        self.next_worklog_id += 1;
        Some(id)
    }

    pub fn delete_worklog(&mut self, issue: IssueId, worklog: u64) -> bool {
        let at = self.stamp(issue);
        let Some(i) = self.issue_mut(issue) else {
            return false;
        };
        let before = i.worklogs.len();
        i.worklogs.retain(|w| w.id != worklog);
        if i.worklogs.len() == before {
            return false;
        }
        i.updated = at;
        self.deleted_worklogs.push(Tombstone {
            id: worklog,
            issue,
            at,
        });
        true
    }

    /// Links two issues (`outward` blocks `inward`), recorded on both sides.
    pub fn link_issues(&mut self, link_type: u8, outward: IssueId, inward: IssueId) -> Option<u64> {
        let at = self.stamp(outward).max(self.stamp(inward));
        if self.issue(outward)?.deleted.is_some() || self.issue(inward)?.deleted.is_some() {
            return None;
        }
        let id = self.next_link_id;
        self.next_link_id += 1;
        let o = self.issue_mut(outward)?;
        o.links.push(IssueLink {
            id,
            link_type,
            outward: true,
            other: inward,
        });
        o.updated = at;
        let i = self.issue_mut(inward)?;
        i.links.push(IssueLink {
            id,
            link_type,
            outward: false,
            other: outward,
        });
        i.updated = at;
        Some(id)
    }

    /// Sets an issue's labels, with Jira's `labels` changelog item (the lists, space-separated).
    pub fn set_labels(&mut self, issue: IssueId, labels: Vec<String>, author: UserIx) {
        let at = self.stamp(issue);
        let Some(i) = self.issue_mut(issue) else {
            return;
        };
        let old: Vec<String> = i.labels.iter().map(|l| l.to_string()).collect();
        if old == labels {
            return;
        }
        let joined = |l: &[String]| Some(l.join(" ")).filter(|s| !s.is_empty());
        let item = ChangeValue::Text {
            field_id: "labels".into(),
            field: "labels".into(),
            from: joined(&old),
            to: joined(&labels),
        };
        i.labels = labels.into_iter().map(Into::into).collect();
        self.record(issue, author, at, vec![item]);
    }

    /// Sets an issue property; returns whether it existed before (None: no such issue). Jira's
    /// changelog has no item for entity properties; the issue's `updated` moves.
    pub fn set_property(
        &mut self,
        issue: IssueId,
        key: String,
        value: serde_json::Value,
    ) -> Option<bool> {
        let at = self.stamp(issue);
        let i = self.issue_mut(issue)?;
        let existed = i.properties.insert(key, value).is_some();
        i.updated = at;
        Some(existed)
    }

    /// Sets a comment's entity property; returns whether it existed before.
    pub fn set_comment_property(
        &mut self,
        comment: u64,
        key: String,
        value: serde_json::Value,
    ) -> bool {
        self.child_properties
            .comments
            .entry(comment)
            .or_default()
            .insert(key, value)
            .is_some()
    }

    /// Sets a worklog's entity property; returns whether it existed before.
    pub fn set_worklog_property(
        &mut self,
        worklog: u64,
        key: String,
        value: serde_json::Value,
    ) -> bool {
        self.child_properties
            .worklogs
            .entry(worklog)
            .or_default()
            .insert(key, value)
            .is_some()
    }

    /// Removes a comment's entity property; false when it had none by that key.
    pub fn delete_comment_property(&mut self, comment: u64, key: &str) -> bool {
        self.child_properties
            .comments
            .get_mut(&comment)
            .is_some_and(|m| m.remove(key).is_some())
    }

    /// Removes a worklog's entity property; false when it had none by that key.
    pub fn delete_worklog_property(&mut self, worklog: u64, key: &str) -> bool {
        self.child_properties
            .worklogs
            .get_mut(&worklog)
            .is_some_and(|m| m.remove(key).is_some())
    }

    /// Removes an issue property; false when the issue had none by that key.
    pub fn delete_property(&mut self, issue: IssueId, key: &str) -> bool {
        let at = self.stamp(issue);
        let Some(i) = self.issue_mut(issue) else {
            return false;
        };
        if i.properties.remove(key).is_none() {
            return false;
        }
        i.updated = at;
        true
    }

    /// Creates a project (admin API). Its permission scheme grants the site-admin groups everything
    /// and nobody else anything, as a fresh scheme does: others need a grant to see it.
    pub fn create_project(&mut self, new: NewProject) -> ProjectIx {
        let template = self
            .projects
            .iter()
            .find(|p| p.project_type == new.project_type)
            .or(self.projects.first());
        let (workflow, issue_types) = template
            .map(|p| (p.workflow, p.issue_types.clone()))
            .unwrap_or((0, (0..self.issue_types.len() as u16).collect()));
        let grants = (0..self.groups.len() as u16)
            .filter(|g| self.groups[*g as usize].administer)
            .map(|g| (g, Permissions::ALL))
            .collect();
        let id = self.projects.iter().map(|p| p.id).max().unwrap_or(9999) + 1;
        self.projects.push(Project {
            id,
            key: new.key,
            name: new.name,
            project_type: new.project_type,
            lead: new.lead,
            workflow,
            issue_types,
            grants,
            next_number: 1,
            versions: Vec::new(),
            components: Vec::new(),
            archived: false,
            deleted: None,
        });
        (self.projects.len() - 1) as ProjectIx
    }

    /// Deletes a project and its issues (they become tombstones, as deleted issues do).
    pub fn delete_project(&mut self, project: ProjectIx) {
        let now = self.now();
        let issues: Vec<IssueId> = self
            .issues
            .iter()
            .filter(|i| i.project == project && i.deleted.is_none())
            .map(|i| i.id)
            .collect();
        for i in issues {
            self.delete_issue(i);
        }
        self.projects[project as usize].deleted = Some(now);
    }

    /// Adds a user to a group; false when already a member.
    pub fn add_to_group(&mut self, user: UserIx, group: u16) -> bool {
        let groups = &mut self.users[user as usize].groups;
        if groups.contains(&group) {
            return false;
        }
        groups.push(group);
        true
    }

    /// Removes a user from a group; false when not a member.
    pub fn remove_from_group(&mut self, user: UserIx, group: u16) -> bool {
        let groups = &mut self.users[user as usize].groups;
        let before = groups.len();
        groups.retain(|g| *g != group);
        groups.len() != before
    }

    /// Grants `group` a permission in `project`'s permission scheme; false when already granted.
    pub fn grant(&mut self, project: ProjectIx, group: u16, permission: Permission) -> bool {
        let grants = &mut self.projects[project as usize].grants;
        match grants.iter_mut().find(|(g, _)| *g == group) {
            Some((_, p)) if p.has(permission) => false,
            Some((_, p)) => {
                *p = p.with(permission);
                true
            }
            None => {
                grants.push((group, Permissions::default().with(permission)));
                true
            }
        }
    }

    /// Revokes a group's permission in `project`'s permission scheme; false when it had none.
    pub fn revoke(&mut self, project: ProjectIx, group: u16, permission: Permission) -> bool {
        let grants = &mut self.projects[project as usize].grants;
        let Some((_, p)) = grants.iter_mut().find(|(g, _)| *g == group) else {
            return false;
        };
        if !p.has(permission) {
            return false;
        }
        p.0 &= !(permission as u16);
        grants.retain(|(_, p)| p.0 != 0);
        true
    }

    /// Activates or deactivates a user account; an inactive user signs in to nothing and sees
    /// nothing. Returns whether it changed.
    pub fn set_user_active(&mut self, user: UserIx, active: bool) -> bool {
        let u = &mut self.users[user as usize];
        if u.active == active {
            return false;
        }
        u.active = active;
        true
    }
}

#[derive(Debug, Clone, Copy)]
pub enum TextField {
    Summary,
    Description,
}

/// What creating an issue needs.
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub project: ProjectIx,
    pub issue_type: u16,
    pub summary: String,
    pub description: Option<String>,
    pub reporter: UserIx,
    pub assignee: Option<UserIx>,
    pub priority: u8,
    pub parent: Option<IssueId>,
    pub labels: Vec<String>,
    pub story_points: Option<f32>,
}

#[derive(Debug, Clone)]
pub struct NewWorklog {
    pub author: UserIx,
    pub started: Option<Millis>,
    pub time_spent_seconds: u32,
    pub comment: Option<String>,
}

/// What creating a project needs.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub key: String,
    pub name: String,
    pub project_type: ProjectType,
    pub lead: UserIx,
}

/// What an Agile `PUT/POST sprint/{id}` asks to change; `None` leaves a value as it is.
#[derive(Debug, Default)]
pub struct SprintChange {
    pub name: Option<String>,
    pub goal: Option<String>,
    pub start: Option<Millis>,
    pub end: Option<Millis>,
    /// `future`, `active` or `closed`.
    pub state: Option<String>,
}

impl Site {
    /// Creates a future sprint on `board` and returns its id.
    pub fn create_sprint(
        &mut self,
        board: u32,
        name: String,
        start: Option<Millis>,
        end: Option<Millis>,
        goal: String,
    ) -> u32 {
        let id = self.next_sprint_id;
        self.next_sprint_id += 1;
        let created = self.now();
        self.sprints.push(Sprint {
            id,
            board,
            name,
            state: SprintState::Future,
            start,
            end,
            complete: None,
            created,
            goal,
        });
        id
    }

    /// Renames, re-dates, starts or closes sprint `id`, as Jira allows (future → active → closed);
    /// `Err` names a state move Jira refuses, and then nothing changes.
    pub fn update_sprint(&mut self, id: u32, change: SprintChange) -> Result<(), String> {
        let now = self.now();
        let Some(s) = self.sprints.iter_mut().find(|s| s.id == id) else {
            return Err(format!("Sprint with id {id} does not exist."));
        };
        let next = match change.state.as_deref() {
            None => None,
            Some("active") if s.state == SprintState::Future => Some(SprintState::Active),
            Some("closed") if s.state == SprintState::Active => Some(SprintState::Closed),
            Some(other) if other == s.state.as_str() => None,
            Some(other) => {
                return Err(format!(
                    "A {} sprint cannot become {other}.",
                    s.state.as_str()
                ))
            }
        };
        if let Some(name) = change.name {
            s.name = name;
        }
        if let Some(goal) = change.goal {
            s.goal = goal;
        }
        if change.start.is_some() {
            s.start = change.start;
        }
        if change.end.is_some() {
            s.end = change.end;
        }
        match next {
            Some(SprintState::Active) => {
                s.state = SprintState::Active;
                s.start = s.start.or(Some(now));
                s.end = s.end.or(Some(now + 14 * 86_400_000));
            }
            Some(SprintState::Closed) => {
                s.state = SprintState::Closed;
                s.complete = Some(now);
            }
            _ => {}
        }
        Ok(())
    }
}

impl Site {
    /// Adds a remote link to `issue`, or, when one with the same `global_id` exists, replaces its
    /// object (Jira's upsert); returns the link's id and whether it was created.
    pub fn upsert_remote_link(
        &mut self,
        issue: IssueId,
        global_id: Option<String>,
        url: String,
        title: String,
    ) -> Option<(u64, bool)> {
        let next = self.next_link_id;
        let i = self.issue_mut(issue)?;
        let existing = global_id.as_ref().and_then(|g| {
            i.remote_links
                .iter_mut()
                .find(|l| l.global_id.as_ref() == Some(g))
        });
        if let Some(l) = existing {
            l.url = url;
            l.title = title;
            return Some((l.id, false));
        }
        i.remote_links.push(RemoteLink {
            id: next,
            global_id,
            url,
            title,
        });
        self.next_link_id += 1;
        Some((next, true))
    }

    /// Replaces the object of remote link `link` of `issue` (and its global id when given).
    pub fn update_remote_link(
        &mut self,
        issue: IssueId,
        link: u64,
        url: String,
        title: String,
        global_id: Option<String>,
    ) -> bool {
        let Some(l) = self
            .issue_mut(issue)
            .and_then(|i| i.remote_links.iter_mut().find(|l| l.id == link))
        else {
            return false;
        };
        l.url = url;
        l.title = title;
        if global_id.is_some() {
            l.global_id = global_id;
        }
        true
    }

    /// Deletes remote link `link` of `issue`.
    pub fn delete_remote_link(&mut self, issue: IssueId, link: u64) -> bool {
        let Some(i) = self.issue_mut(issue) else {
            return false;
        };
        let before = i.remote_links.len();
        i.remote_links.retain(|l| l.id != link);
        i.remote_links.len() != before
    }
}
