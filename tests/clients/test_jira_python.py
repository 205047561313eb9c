"""PyPI `jira` (pycontribs), unmodified, against the simulator: Cloud and Data Center."""

import time

import pytest
from jira import JIRA, JIRAError


def jql_count(snap, key):
    return sum(1 for i in snap["issues"] if i["project_key"] == key)


def cloud_client(sim, name="admin"):
    who = sim.identity(name)
    return JIRA(server=sim.base_url, basic_auth=(who["email"], who["secret"]))


def test_cloud_myself_projects_and_paged_search(cloud):
    jira = cloud_client(cloud)
    me = jira.myself()
    assert me["accountId"] == cloud.identity("admin")["account_id"]
    snap = cloud.snapshot()
    projects = jira.projects()
    assert sorted(p.key for p in projects) == sorted(p["key"] for p in snap["projects"])
    key = snap["projects"][0]["key"]
    # enhanced search (search/jql) with nextPageToken paging, 7 issues per page
    issues = jira.enhanced_search_issues(f"project = {key} ORDER BY key ASC", maxResults=0, fields="summary,status")
    assert len(issues) == jql_count(snap, key)
    assert len({i.key for i in issues}) == len(issues)
    page = jira.enhanced_search_issues(f"project = {key} ORDER BY key ASC", maxResults=7, fields="summary")
    assert len(page) == 7
    assert page.nextPageToken


def test_cloud_issue_with_changelog_create_transition_comment(cloud):
    jira = cloud_client(cloud)
    snap = cloud.snapshot()
    busiest = max(snap["issues"], key=lambda i: i["changelog_count"])
    issue = jira.issue(busiest["key"], expand="changelog")
    assert issue.key == busiest["key"]
    assert issue.changelog.total == busiest["changelog_count"]
    assert len(issue.changelog.histories) == min(100, busiest["changelog_count"])

    project = snap["projects"][0]["key"]
    new = jira.create_issue(project=project, summary="Made by the jira client", issuetype={"name": "Task"},
                            description="Body text")
    again = jira.issue(new.key)
    assert again.fields.summary == "Made by the jira client"
    before = again.fields.status.name
    transitions = jira.transitions(new)
    target = next(t for t in transitions if t["to"]["name"] != before)
    jira.transition_issue(new, target["id"])
    assert jira.issue(new.key).fields.status.name == target["to"]["name"]
    comment = jira.add_comment(new, "A comment from the jira client")
    comments = jira.comments(new)
    assert [c.id for c in comments] == [comment.id]
    assert len(cloud.snapshot()["issues"]) == len(snap["issues"]) + 1


def test_cloud_errors_are_jira_errors(cloud):
    jira = cloud_client(cloud)
    with pytest.raises(JIRAError) as e:
        jira.issue("NOPE-424242")
    assert e.value.status_code == 404
    with pytest.raises(JIRAError) as e:
        jira.enhanced_search_issues("project = NOPE")
    assert e.value.status_code == 400
    assert "does not exist" in str(e.value.text)


def dc_check(jira, sim):
    snap = sim.snapshot()
    assert jira.server_info()["deploymentType"] == "Server"
    projects = jira.projects()
    return snap, projects


def test_datacenter_basic_pat_paging_create_transition_comment(datacenter):
    admin = datacenter.identity("admin")
    jira = JIRA(server=datacenter.base_url, basic_auth=(admin["username"], admin["secret"]))
    snap, projects = dc_check(jira, datacenter)
    assert sorted(p.key for p in projects) == sorted(p["key"] for p in snap["projects"])
    assert jira.myself()["name"] == admin["username"]
    key = snap["projects"][0]["key"]
    # startAt paging with total, 11 per page, fetched to the end
    issues = jira.search_issues(f"project = {key} ORDER BY key ASC", maxResults=False, fields="summary")
    assert len(issues) == jql_count(snap, key)
    first = jira.search_issues(f"project = {key}", startAt=0, maxResults=11)
    second = jira.search_issues(f"project = {key}", startAt=11, maxResults=11)
    assert first.total == jql_count(snap, key)
    assert not {i.key for i in first} & {i.key for i in second}

    pat = datacenter.identity("pat-admin")
    by_pat = JIRA(server=datacenter.base_url, token_auth=pat["secret"])
    assert by_pat.myself()["name"] == admin["username"]

    busiest = max(snap["issues"], key=lambda i: i["changelog_count"])
    issue = jira.issue(busiest["key"], expand="changelog")
    assert len(issue.changelog.histories) == busiest["changelog_count"], "Data Center returns whole changelogs"

    new = jira.create_issue(project=key, summary="Made on Data Center", issuetype={"name": "Task"})
    target = jira.transitions(new)[0]
    jira.transition_issue(new, target["id"])
    assert jira.issue(new.key).fields.status.name == target["to"]["name"]
    jira.add_comment(new, "wiki *text*")
    assert jira.comments(new)[0].body == "wiki *text*"


def test_datacenter_oauth1(datacenter):
    ident = datacenter.identity("oauth1")
    jira = JIRA(
        server=datacenter.base_url,
        oauth={
            "access_token": ident["access_token"],
            "access_token_secret": "",
            "consumer_key": ident["consumer_key"],
            "key_cert": ident["private_key_pem"],
        },
    )
    assert jira.myself()["name"] == ident["username"]
    snap = datacenter.snapshot()
    key = snap["projects"][0]["key"]
    assert len(jira.search_issues(f"project = {key}", maxResults=5)) == 5


def test_datacenter_captcha_is_refused(datacenter):
    who = datacenter.identity("captcha")
    with pytest.raises(JIRAError) as e:
        JIRA(server=datacenter.base_url, basic_auth=(who["username"], who["secret"]), max_retries=0).myself()
    assert e.value.status_code == 403


def test_cloud_assign_issue(cloud):
    jira = cloud_client(cloud)
    admin = cloud.identity("admin")
    key = cloud.snapshot()["projects"][0]["key"]
    new = jira.create_issue(project=key, summary="To assign on Cloud", issuetype={"name": "Task"})
    # the client finds the user by user/search?query=..., then PUTs {"accountId": ...}
    assert jira.assign_issue(new.key, admin["email"])
    assert jira.issue(new.key).fields.assignee.accountId == admin["account_id"]
    assert jira.assign_issue(new.key, None)
    assert jira.issue(new.key).fields.assignee is None
    with pytest.raises(JIRAError) as e:
        jira.assign_issue("NOPE-424242", admin["email"])
    assert e.value.status_code == 404


def test_datacenter_assign_issue(datacenter):
    admin = datacenter.identity("admin")
    jira = JIRA(server=datacenter.base_url, basic_auth=(admin["username"], admin["secret"]))
    key = datacenter.snapshot()["projects"][0]["key"]
    new = jira.create_issue(project=key, summary="To assign on Data Center", issuetype={"name": "Task"})
    # the client finds the user by user/search?username=..., then PUTs {"name": ...}
    assert jira.assign_issue(new.key, admin["username"])
    assert jira.issue(new.key).fields.assignee.name == admin["username"]
    assert jira.assign_issue(new.key, None)
    assert jira.issue(new.key).fields.assignee is None
