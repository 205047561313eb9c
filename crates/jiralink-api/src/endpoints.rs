//! The read endpoints the sync, verify, the probe and the access audit call, typed: each names its
//! path and returns wire models (`models`) or a pager over them (`pages`), on Cloud or Data Center.

use serde_json::json;

use crate::client::{Client, Error};
use crate::models::{
    AppLinksManifest, ApproximateCount, Board, BoardId, ChangelogPage, CommentPage, Field, Issue,
    IssueId, IssuePage, IssueRef, MyPermissions, Myself, Named, PermissionGrants,
    PermittedProjects, Project, ProjectDetail, ProjectRef, ServerInfo, Shaped, Sprint, Status,
    TenantInfo, User, ValuesPage, Worklog, WorklogFeedPage, WorklogPage,
};
use crate::pages::Pages;

/// Per-issue comment and worklog pages ask for this many (Jira serves its own cap).
const ISSUE_LIST_PAGE: usize = 5000;
/// `users/search` and Data Center's `user/search` serve at most 1000 a page.
const USER_PAGE: usize = 1000;

/// What an issue read returns: the id alone (an enumeration), or every field (`*all`; Data
/// Center's `search` then embeds the whole changelog too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueFieldSet {
    Id,
    All,
}

impl IssueFieldSet {
    fn names(self) -> &'static [&'static str] {
        match self {
            IssueFieldSet::Id => &["id"],
            IssueFieldSet::All => &["*all"],
        }
    }
}

/// The two worklog feeds of Jira Cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorklogFeed {
    Updated,
    Deleted,
}

impl Client {
    pub async fn server_info(&self) -> Result<ServerInfo, Error> {
        self.get_typed(&format!("{}/serverInfo", self.api())).await
    }

    pub async fn myself(&self) -> Result<Myself, Error> {
        self.get_typed(&format!("{}/myself", self.api())).await
    }

    /// `serverInfo` as the probe reads it: an object, or what came instead.
    pub async fn server_info_shaped(&self) -> Result<Shaped<ServerInfo>, Error> {
        self.get_typed(&format!("{}/serverInfo", self.api())).await
    }

    /// `myself` as the probe reads it: an object, or what came instead.
    pub async fn myself_shaped(&self) -> Result<Shaped<Myself>, Error> {
        self.get_typed(&format!("{}/myself", self.api())).await
    }

    /// `mypermissions` for `permissions` (Jira's keys): in one project (`project`, a key), or
    /// without one whether the account holds each anywhere (and the global ones).
    pub async fn my_permissions_in(
        &self,
        project: Option<&str>,
        permissions: &[&str],
    ) -> Result<MyPermissions, Error> {
        let project = project
            .map(|k| {
                let k: String = url::form_urlencoded::byte_serialize(k.as_bytes()).collect();
                format!("projectKey={k}&")
            })
            .unwrap_or_default();
        self.get_typed(&format!(
            "{}/mypermissions?{project}permissions={}",
            self.api(),
            permissions.join(",")
        ))
        .await
    }

    /// Cloud's `permissions/project`: the projects in which the account holds `permissions`.
    pub async fn permitted_projects(&self, permissions: &[&str]) -> Result<Vec<ProjectRef>, Error> {
        let answer: PermittedProjects = self
            .post_typed(
                &format!("{}/permissions/project", self.api()),
                &json!({ "permissions": permissions }),
            )
            .await?;
        Ok(answer.projects)
    }

    /// Cloud's `permissions/check`: which of `global` the account holds, and in which of
    /// `projects` (ids) it holds each of `project_permissions`.
    pub async fn check_permissions(
        &self,
        global: &[&str],
        project_permissions: &[&str],
        projects: &[i64],
    ) -> Result<PermissionGrants, Error> {
        self.post_typed(
            &format!("{}/permissions/check", self.api()),
            &json!({
                "globalPermissions": global,
                "projectPermissions": [{"permissions": project_permissions, "projects": projects}],
            }),
        )
        .await
    }

    /// Cloud's `/_edge/tenant_info` on the site (names its cloudId).
    pub async fn tenant_info(&self) -> Result<TenantInfo, Error> {
        self.get_typed("/_edge/tenant_info").await
    }

    /// Data Center's Application Links manifest (names the server's id).
    pub async fn applinks_manifest(&self) -> Result<AppLinksManifest, Error> {
        self.get_typed("/rest/applinks/1.0/manifest").await
    }

    pub async fn fields(&self) -> Result<Vec<Field>, Error> {
        self.get_typed(&format!("{}/field", self.api())).await
    }

    pub async fn statuses(&self) -> Result<Vec<Status>, Error> {
        self.get_typed(&format!("{}/status", self.api())).await
    }

    pub async fn issue_types(&self) -> Result<Vec<Named>, Error> {
        self.get_typed(&format!("{}/issuetype", self.api())).await
    }

    pub async fn priorities(&self) -> Result<Vec<Named>, Error> {
        self.get_typed(&format!("{}/priority", self.api())).await
    }

    pub async fn resolutions(&self) -> Result<Vec<Named>, Error> {
        self.get_typed(&format!("{}/resolution", self.api())).await
    }

    /// Cloud's `project/search`: the projects the credential may browse, by pages.
    pub fn project_search(&self) -> Pages<'_, ValuesPage<Project>> {
        Pages::get(
            self,
            format!("{}/project/search", self.api()),
            Some(ISSUE_LIST_PAGE),
        )
    }

    /// Data Center's `project`: every project the credential may browse, at once.
    pub async fn all_projects(&self) -> Result<Vec<Project>, Error> {
        self.get_typed(&format!("{}/project", self.api())).await
    }

    /// `project/{key}`: its versions and components.
    pub async fn project_detail(&self, key: &str) -> Result<ProjectDetail, Error> {
        self.get_typed(&format!("{}/project/{key}", self.api()))
            .await
    }

    /// Every user, 1000 a page: Cloud's `users/search`; on Data Center `user/search` with the
    /// "." that matches every username, inactive users included.
    pub fn users(&self, data_center: bool) -> Pages<'_, Vec<User>> {
        let path = match data_center {
            false => format!("{}/users/search", self.api()),
            true => format!("{}/user/search?username=.&includeInactive=true", self.api()),
        };
        Pages::get(self, path, Some(USER_PAGE))
    }

    /// Cloud's `search/jql` for issue ids only, `page` a page, token by token.
    pub fn search_jql_ids(&self, jql: &str, page: usize) -> Pages<'_, IssuePage<IssueRef>> {
        Pages::post_token(
            self,
            format!("{}/search/jql", self.api()),
            json!({"jql": jql, "fields": ["id"], "maxResults": page}),
        )
    }

    /// Cloud's `search/approximate-count`.
    pub async fn approximate_count(&self, jql: &str) -> Result<ApproximateCount, Error> {
        self.post_typed(
            &format!("{}/search/approximate-count", self.api()),
            &json!({ "jql": jql }),
        )
        .await
    }

    /// Data Center's `search` (startAt pages with a `total`), with `fields` (all of them with
    /// the changelog embedded, or the id), and `validate: false` to leave out ids that no longer
    /// exist rather than refuse the query.
    pub fn search<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        jql: &str,
        fields: IssueFieldSet,
        max_results: usize,
        validate: bool,
    ) -> Pages<'_, IssuePage<T>> {
        let mut body = json!({"jql": jql, "fields": fields.names(), "maxResults": max_results});
        if fields == IssueFieldSet::All {
            body["expand"] = json!(["changelog"]);
        }
        if !validate {
            body["validateQuery"] = json!(false);
        }
        Pages::post(self, format!("{}/search", self.api()), body)
    }

    /// Data Center's `search` with `maxResults=0`: Jira's exact count of what `jql` matches.
    pub async fn search_total(&self, jql: &str) -> Result<Option<u64>, Error> {
        let page: IssuePage<IssueRef> = self
            .post_typed(
                &format!("{}/search", self.api()),
                &json!({"jql": jql, "fields": ["id"], "maxResults": 0}),
            )
            .await?;
        Ok(page.total)
    }

    /// Cloud's `issue/bulkfetch`: up to 100 issues by id with the given fields.
    pub async fn bulkfetch(
        &self,
        ids: &[String],
        fields: IssueFieldSet,
    ) -> Result<IssuePage<Issue>, Error> {
        self.post_typed(
            &format!("{}/issue/bulkfetch", self.api()),
            &json!({"issueIdsOrKeys": ids, "fields": fields.names()}),
        )
        .await
    }

    /// Cloud's `changelog/bulkfetch`: the whole changelogs of up to 1000 issues, `per_page`
    /// histories a page (Jira takes 1 to 10,000; its default is 1000).
    pub fn changelog_bulkfetch(
        &self,
        ids: &[IssueId],
        per_page: usize,
    ) -> Pages<'_, ChangelogPage> {
        let ids: Vec<&str> = ids.iter().map(IssueId::text).collect();
        Pages::post_token(
            self,
            format!("{}/changelog/bulkfetch", self.api()),
            json!({"issueIdsOrKeys": ids, "maxResults": per_page.clamp(1, 10_000)}),
        )
    }

    /// One issue with its whole changelog embedded (Data Center) and no other field.
    pub async fn issue_changelog(&self, id: &IssueId) -> Result<Issue, Error> {
        self.get_typed(&format!(
            "{}/issue/{id}?expand=changelog&fields=id",
            self.api()
        ))
        .await
    }

    /// An issue's comments.
    pub fn comments(&self, issue: &IssueId) -> Pages<'_, CommentPage> {
        Pages::get(
            self,
            format!("{}/issue/{issue}/comment", self.api()),
            Some(ISSUE_LIST_PAGE),
        )
    }

    /// An issue's worklogs.
    pub fn worklogs(&self, issue: &IssueId) -> Pages<'_, WorklogPage> {
        Pages::get(
            self,
            format!("{}/issue/{issue}/worklog", self.api()),
            Some(ISSUE_LIST_PAGE),
        )
    }

    /// Cloud's `worklog/updated` or `worklog/deleted` feed from `since` (Unix milliseconds).
    pub fn worklog_feed(&self, feed: WorklogFeed, since: i64) -> Pages<'_, WorklogFeedPage> {
        let kind = match feed {
            WorklogFeed::Updated => "updated",
            WorklogFeed::Deleted => "deleted",
        };
        Pages::feed(self, format!("{}/worklog/{kind}", self.api()), since)
    }

    /// Cloud's `worklog/list`: up to 1000 worklogs by id.
    pub async fn worklog_list(&self, ids: &[String]) -> Result<Vec<Worklog>, Error> {
        self.post_typed(
            &format!("{}/worklog/list", self.api()),
            &json!({ "ids": ids }),
        )
        .await
    }

    /// Every Agile board the credential may see, 50 a page (Jira's cap).
    pub fn boards(&self) -> Pages<'_, ValuesPage<Board>> {
        Pages::get(self, "/rest/agile/1.0/board", Some(ISSUE_LIST_PAGE))
    }

    /// The boards located in a project (`board?projectKeyOrId=`).
    pub fn project_boards(&self, project_key: &str) -> Pages<'_, ValuesPage<Board>> {
        Pages::get(
            self,
            format!("/rest/agile/1.0/board?projectKeyOrId={project_key}"),
            Some(ISSUE_LIST_PAGE),
        )
    }

    /// A board's sprints.
    pub fn sprints(&self, board: BoardId) -> Pages<'_, ValuesPage<Sprint>> {
        Pages::get(
            self,
            format!("/rest/agile/1.0/board/{board}/sprint"),
            Some(ISSUE_LIST_PAGE),
        )
    }
}
