//! The simulated site's in-memory state: users, groups, tokens, projects, workflows, issues and their
//! history, boards and sprints. Compact on purpose (a million issues must fit in a few GiB): texts that
//! can be derived from an id are generated when rendered, not stored.

use std::collections::{BTreeMap, HashMap};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Which product the simulator pretends to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    Cloud,
    Datacenter,
}

impl Deployment {
    pub fn as_str(self) -> &'static str {
        match self {
            Deployment::Cloud => "cloud",
            Deployment::Datacenter => "datacenter",
        }
    }
}

/// Index into `Site::users`.
pub type UserIx = u32;
/// Index into `Site::projects`.
pub type ProjectIx = u32;
/// An issue id as Jira shows it (numeric, starts at 10000). `Site::issues[id - FIRST_ISSUE_ID]`.
pub type IssueId = u64;
pub const FIRST_ISSUE_ID: IssueId = 10000;

#[derive(Debug, Clone)]
pub struct User {
    /// Cloud accountId; on Data Center the user key (`JIRAUSER10100`).
    pub account_id: String,
    /// Data Center username (also used as the Cloud email's local part).
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub active: bool,
    pub time_zone: chrono_tz::Tz,
    pub groups: Vec<u16>,
    /// Data Center password (Basic auth).
    pub password: Option<String>,
    /// Failed Basic logins in a row; at `CAPTCHA_THRESHOLD` the account needs a CAPTCHA.
    pub failed_logins: u32,
    /// An application user (Cloud service account, `accountType: app`).
    pub app: bool,
}

pub const CAPTCHA_THRESHOLD: u32 = 3;

/// Project permissions the simulator knows, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Permission {
    BrowseProjects = 1 << 0,
    CreateIssues = 1 << 1,
    EditIssues = 1 << 2,
    TransitionIssues = 1 << 3,
    AddComments = 1 << 4,
    DeleteIssues = 1 << 5,
    WorkOnIssues = 1 << 6,
    ManageSprints = 1 << 7,
    AdministerProjects = 1 << 8,
    AssignIssues = 1 << 9,
    ScheduleIssues = 1 << 10,
    ResolveIssues = 1 << 11,
    LinkIssues = 1 << 12,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::BrowseProjects,
        Permission::CreateIssues,
        Permission::EditIssues,
        Permission::TransitionIssues,
        Permission::AddComments,
        Permission::DeleteIssues,
        Permission::WorkOnIssues,
        Permission::ManageSprints,
        Permission::AdministerProjects,
        Permission::AssignIssues,
        Permission::ScheduleIssues,
        Permission::ResolveIssues,
        Permission::LinkIssues,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Permission::BrowseProjects => "BROWSE_PROJECTS",
            Permission::CreateIssues => "CREATE_ISSUES",
            Permission::EditIssues => "EDIT_ISSUES",
            Permission::TransitionIssues => "TRANSITION_ISSUES",
            Permission::AddComments => "ADD_COMMENTS",
            Permission::DeleteIssues => "DELETE_ISSUES",
            Permission::WorkOnIssues => "WORK_ON_ISSUES",
            Permission::ManageSprints => "MANAGE_SPRINTS_PERMISSION",
            Permission::AdministerProjects => "ADMINISTER_PROJECTS",
            Permission::AssignIssues => "ASSIGN_ISSUES",
            Permission::ScheduleIssues => "SCHEDULE_ISSUES",
            Permission::ResolveIssues => "RESOLVE_ISSUES",
            Permission::LinkIssues => "LINK_ISSUES",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Permission::BrowseProjects => "Browse Projects",
            Permission::CreateIssues => "Create Issues",
            Permission::EditIssues => "Edit Issues",
            Permission::TransitionIssues => "Transition Issues",
            Permission::AddComments => "Add Comments",
            Permission::DeleteIssues => "Delete Issues",
            Permission::WorkOnIssues => "Work On Issues",
            Permission::ManageSprints => "Manage sprints",
            Permission::AdministerProjects => "Administer Projects",
            Permission::AssignIssues => "Assign Issues",
            Permission::ScheduleIssues => "Schedule Issues",
            Permission::ResolveIssues => "Resolve Issues",
            Permission::LinkIssues => "Link Issues",
        }
    }

    pub fn from_key(key: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.key() == key)
    }
}

/// A set of project permissions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions(pub u16);

impl Permissions {
    pub const ALL: Permissions = Permissions(u16::MAX);
    pub fn has(self, p: Permission) -> bool {
        self.0 & p as u16 != 0
    }
    pub fn with(self, p: Permission) -> Permissions {
        Permissions(self.0 | p as u16)
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    /// Global ADMINISTER (site admin) for members.
    pub administer: bool,
}

/// What a token is and where it is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// Cloud classic API token (Basic email:token on the site URL and the gateway).
    ApiToken,
    /// Cloud scoped API token (Basic email:token, gateway only) with its scopes.
    Scoped { scopes: Vec<String> },
    /// Cloud service-account OAuth token (Bearer, gateway only) with its scopes.
    ServiceAccount { scopes: Vec<String> },
    /// Data Center personal access token (Bearer).
    Pat,
    /// Cloud OAuth 2.0 (3LO) access token (Bearer, gateway only), from `/oauth/token`.
    OAuth2Access { scopes: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct Token {
    pub secret: String,
    pub user: UserIx,
    pub kind: TokenKind,
    pub created: Millis,
    pub expires: Option<Millis>,
    pub revoked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCategory {
    ToDo,
    InProgress,
    Done,
}

impl StatusCategory {
    pub fn id(self) -> u32 {
        match self {
            StatusCategory::ToDo => 2,
            StatusCategory::InProgress => 4,
            StatusCategory::Done => 3,
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            StatusCategory::ToDo => "new",
            StatusCategory::InProgress => "indeterminate",
            StatusCategory::Done => "done",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            StatusCategory::ToDo => "To Do",
            StatusCategory::InProgress => "In Progress",
            StatusCategory::Done => "Done",
        }
    }
    pub fn color(self) -> &'static str {
        match self {
            StatusCategory::ToDo => "blue-gray",
            StatusCategory::InProgress => "yellow",
            StatusCategory::Done => "green",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Status {
    pub id: u32,
    pub name: String,
    pub category: StatusCategory,
}

#[derive(Debug, Clone)]
pub struct IssueType {
    pub id: u32,
    pub name: String,
    pub subtask: bool,
    pub hierarchy_level: i32,
}

#[derive(Debug, Clone)]
pub struct NamedItem {
    pub id: u32,
    pub name: String,
}

/// A workflow: an ordered list of statuses (indices into `Site::statuses`) and the transitions
/// between them. Not every status is reachable from every other: reaching some takes several
/// steps, as in a company-managed Jira workflow.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: String,
    pub statuses: Vec<u16>,
    pub transitions: Vec<WorkflowTransition>,
}

/// A transition into `to` from the statuses in `from` (a "common" transition when several: one id
/// from each), with the fields its screen shows.
#[derive(Debug, Clone)]
pub struct WorkflowTransition {
    pub id: u32,
    pub name: String,
    pub from: Vec<u16>,
    pub to: u16,
    pub screen: Vec<ScreenField>,
}

/// A field of a transition screen, by field id (`resolution`, `assignee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreenField {
    pub field: &'static str,
    pub required: bool,
}

impl Workflow {
    /// The transitions available from `status` (a transition back into the same status is not
    /// offered).
    pub fn transitions_from(&self, status: u16) -> impl Iterator<Item = &WorkflowTransition> {
        self.transitions
            .iter()
            .filter(move |t| t.to != status && t.from.contains(&status))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectType {
    Software,
    Business,
    ServiceDesk,
}

impl ProjectType {
    pub fn key(self) -> &'static str {
        match self {
            ProjectType::Software => "software",
            ProjectType::Business => "business",
            ProjectType::ServiceDesk => "service_desk",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: u64,
    pub key: String,
    pub name: String,
    pub project_type: ProjectType,
    pub lead: UserIx,
    pub workflow: u16,
    /// Issue type indices available in this project.
    pub issue_types: Vec<u16>,
    /// Permission scheme: the permissions each group holds here.
    pub grants: Vec<(u16, Permissions)>,
    /// Next issue number for keys.
    pub next_number: u32,
    pub versions: Vec<NamedItem>,
    pub components: Vec<NamedItem>,
    pub archived: bool,
    /// When an admin deleted the project (`DELETE project/{key}`); nobody sees it since.
    pub deleted: Option<Millis>,
}

/// Which field a changelog item touched; values are stored compactly and rendered by name.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeValue {
    Status {
        from: u16,
        to: u16,
    },
    Assignee {
        from: Option<UserIx>,
        to: Option<UserIx>,
    },
    Priority {
        from: u8,
        to: u8,
    },
    Resolution {
        from: Option<u8>,
        to: Option<u8>,
    },
    Sprint {
        from: Vec<u32>,
        to: Vec<u32>,
    },
    StoryPoints {
        from: Option<f32>,
        to: Option<f32>,
    },
    /// The issue moved from another project (key changed).
    Key {
        from: String,
        to: String,
    },
    Project {
        from: ProjectIx,
        to: ProjectIx,
    },
    /// Any other field, by field id and display name, as strings.
    Text {
        field_id: String,
        field: String,
        from: Option<String>,
        to: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct ChangeGroup {
    pub id: u64,
    pub author: UserIx,
    pub created: Millis,
    pub items: Vec<ChangeValue>,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub author: UserIx,
    pub created: Millis,
    pub updated: Millis,
    /// `None`: generated rich text derived from the id (see `richtext::RichText::comment`).
    pub body: Option<Box<str>>,
}

#[derive(Debug, Clone)]
pub struct Worklog {
    pub id: u64,
    pub author: UserIx,
    pub started: Millis,
    pub created: Millis,
    pub updated: Millis,
    pub time_spent_seconds: u32,
    pub comment: Option<Box<str>>,
}

#[derive(Debug, Clone)]
pub struct IssueLink {
    pub id: u64,
    /// Index into `Site::link_types`.
    pub link_type: u8,
    /// True when this issue is the outward side ("blocks"), false for inward ("is blocked by").
    pub outward: bool,
    pub other: IssueId,
}

#[derive(Debug, Clone)]
pub struct RemoteLink {
    pub id: u64,
    pub global_id: Option<String>,
    pub url: String,
    pub title: String,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: IssueId,
    pub project: ProjectIx,
    pub number: u32,
    pub issue_type: u16,
    pub status: u16,
    pub priority: u8,
    pub resolution: Option<u8>,
    /// `None`: generated from the id.
    pub summary: Option<Box<str>>,
    pub description: Option<Box<str>>,
    pub assignee: Option<UserIx>,
    pub reporter: UserIx,
    pub created: Millis,
    pub updated: Millis,
    pub resolved: Option<Millis>,
    pub status_changed: Millis,
    pub story_points: Option<f32>,
    pub sprints: Vec<u32>,
    pub parent: Option<IssueId>,
    pub labels: Vec<Box<str>>,
    pub fix_versions: Vec<u32>,
    pub components: Vec<u32>,
    pub changelog: Vec<ChangeGroup>,
    pub comments: Vec<Comment>,
    pub worklogs: Vec<Worklog>,
    pub links: Vec<IssueLink>,
    pub remote_links: Vec<RemoteLink>,
    pub properties: BTreeMap<String, serde_json::Value>,
    pub deleted: Option<Millis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SprintState {
    Closed,
    Active,
    Future,
}

impl SprintState {
    pub fn as_str(self) -> &'static str {
        match self {
            SprintState::Closed => "closed",
            SprintState::Active => "active",
            SprintState::Future => "future",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sprint {
    pub id: u32,
    pub board: u32,
    pub name: String,
    pub state: SprintState,
    pub start: Option<Millis>,
    pub end: Option<Millis>,
    pub complete: Option<Millis>,
    pub created: Millis,
    pub goal: String,
}

#[derive(Debug, Clone)]
pub struct Board {
    pub id: u32,
    pub name: String,
    pub scrum: bool,
    pub project: ProjectIx,
}

#[derive(Debug, Clone)]
pub struct LinkType {
    pub id: u32,
    pub name: &'static str,
    pub inward: &'static str,
    pub outward: &'static str,
}

/// A deleted comment or worklog, kept for `worklog/deleted` and the snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Tombstone {
    pub id: u64,
    pub issue: IssueId,
    pub at: Millis,
}

/// Ids of the custom fields the generator uses, as on a real Cloud site.
pub mod custom_field {
    pub const SPRINT: &str = "customfield_10020";
    pub const STORY_POINTS: &str = "customfield_10016";
    pub const EPIC_LINK: &str = "customfield_10014";
    pub const RANK: &str = "customfield_10019";
    pub const START_DATE: &str = "customfield_10015";
}

/// Entity properties of comments and worklogs, by their id: few have any, so they live beside
/// the issues rather than in every comment.
#[derive(Debug, Clone, Default)]
pub struct ChildProperties {
    pub comments: HashMap<u64, BTreeMap<String, serde_json::Value>>,
    pub worklogs: HashMap<u64, BTreeMap<String, serde_json::Value>>,
}

/// The whole simulated site.
#[derive(Debug)]
pub struct Site {
    pub deployment: Deployment,
    pub cloud_id: String,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub tokens: HashMap<String, Token>,
    pub statuses: Vec<Status>,
    pub issue_types: Vec<IssueType>,
    pub priorities: Vec<NamedItem>,
    pub resolutions: Vec<NamedItem>,
    pub workflows: Vec<Workflow>,
    pub link_types: Vec<LinkType>,
    pub projects: Vec<Project>,
    pub issues: Vec<Issue>,
    /// Every key an issue ever had (moves keep the old key working), to its id.
    pub keys: HashMap<String, IssueId>,
    pub boards: Vec<Board>,
    pub sprints: Vec<Sprint>,
    pub deleted_comments: Vec<Tombstone>,
    pub deleted_worklogs: Vec<Tombstone>,
    pub next_comment_id: u64,
    pub next_worklog_id: u64,
    pub child_properties: ChildProperties,
    pub next_change_id: u64,
    pub next_link_id: u64,
    pub next_sprint_id: u32,
    /// The instant the data set was generated; generated history ends here.
    pub generated_at: Millis,
}

impl Site {
    pub fn issue(&self, id: IssueId) -> Option<&Issue> {
        let ix = id.checked_sub(FIRST_ISSUE_ID)?;
        self.issues.get(usize::try_from(ix).ok()?)
    }

    pub fn issue_mut(&mut self, id: IssueId) -> Option<&mut Issue> {
        let ix = id.checked_sub(FIRST_ISSUE_ID)?;
        self.issues.get_mut(usize::try_from(ix).ok()?)
    }

    /// Resolves an id or a key (current or former) to a live issue.
    pub fn find_issue(&self, id_or_key: &str) -> Option<&Issue> {
        let id = match id_or_key.parse::<IssueId>() {
            Ok(id) => id,
            Err(_) => *self.keys.get(&id_or_key.to_ascii_uppercase())?,
        };
        self.issue(id).filter(|i| i.deleted.is_none())
    }

    pub fn issue_key(&self, issue: &Issue) -> String {
        format!(
            "{}-{}",
            self.projects[issue.project as usize].key, issue.number
        )
    }

    pub fn project_by_key_or_id(&self, key_or_id: &str) -> Option<ProjectIx> {
        self.projects
            .iter()
            .position(|p| {
                p.deleted.is_none()
                    && (p.key.eq_ignore_ascii_case(key_or_id) || p.id.to_string() == key_or_id)
            })
            .map(|ix| ix as ProjectIx)
    }

    pub fn user_by_account(&self, account_id: &str) -> Option<UserIx> {
        self.users
            .iter()
            .position(|u| u.account_id == account_id || u.username == account_id)
            .map(|ix| ix as UserIx)
    }

    pub fn is_site_admin(&self, user: UserIx) -> bool {
        self.users[user as usize]
            .groups
            .iter()
            .any(|g| self.groups[*g as usize].administer)
    }

    /// The permissions a user holds in a project through its groups (site admins hold all but
    /// the project ones they were not granted still grant browse: Jira admins can see every project
    /// only through the permission scheme, so the generator grants the admin group everywhere).
    pub fn project_permissions(&self, user: UserIx, project: ProjectIx) -> Permissions {
        let u = &self.users[user as usize];
        let p = &self.projects[project as usize];
        if !u.active || p.deleted.is_some() {
            return Permissions::default();
        }
        let mut bits = 0u16;
        for (group, perms) in &p.grants {
            if u.groups.contains(group) {
                bits |= perms.0;
            }
        }
        Permissions(bits)
    }

    /// The workflow an issue's project follows.
    pub fn workflow_of(&self, issue: &Issue) -> &Workflow {
        &self.workflows[self.projects[issue.project as usize].workflow as usize]
    }

    pub fn can_browse(&self, user: UserIx, project: ProjectIx) -> bool {
        self.project_permissions(user, project)
            .has(Permission::BrowseProjects)
    }

    pub fn now(&self) -> Millis {
        chrono::Utc::now().timestamp_millis().max(self.generated_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Deployment, GenConfig};

    #[test]
    fn permissions_come_from_groups_and_inactive_users_have_none() {
        let (mut site, ids) = crate::generate::generate(&GenConfig {
            deployment: Deployment::Cloud,
            seed: 2,
            issues: 100,
            projects: Some(4),
        });
        let user_of = |name: &str| {
            let id = ids.iter().find(|i| i.name == name).expect("identity");
            site.tokens[&id.secret].user
        };
        let (admin, reader) = (user_of("admin"), user_of("reader"));
        assert!(site.is_site_admin(admin) && !site.is_site_admin(reader));
        for p in 0..site.projects.len() as ProjectIx {
            assert_eq!(site.project_permissions(admin, p), Permissions::ALL);
            let r = site.project_permissions(reader, p);
            assert!(!r.has(Permission::CreateIssues) && !r.has(Permission::DeleteIssues));
        }
        let visible = (0..4).filter(|p| site.can_browse(reader, *p)).count();
        assert_eq!(visible, 2, "the reader's group browses every other project");
        site.users[admin as usize].active = false;
        assert_eq!(site.project_permissions(admin, 0), Permissions::default());
    }
}
