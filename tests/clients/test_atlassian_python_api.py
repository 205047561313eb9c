"""`atlassian-python-api`, unmodified, against the Cloud simulator: enhanced JQL and bulk changelogs."""

from atlassian import Jira


def client(sim):
    who = sim.identity("admin")
    return Jira(url=sim.base_url, username=who["email"], password=who["secret"], cloud=True)


def test_enhanced_jql_pages_through_every_issue(cloud):
    jira = client(cloud)
    snap = cloud.snapshot()
    key = snap["projects"][1]["key"]
    expected = sorted(i["key"] for i in snap["issues"] if i["project_key"] == key)
    first = jira.enhanced_jql(f"project = {key} ORDER BY key ASC", fields="key", limit=10)
    assert len(first["issues"]) == 10 and first["nextPageToken"] and first["isLast"] is False
    everything = jira.enhanced_jql_get_list_of_tickets(f"project = {key} ORDER BY key ASC", fields="key")
    assert sorted(i["key"] for i in everything) == expected
    # The client's raw POST, through its own session and auth.
    count = jira.post("rest/api/3/search/approximate-count", data={"jql": f"project = {key}"})
    assert count["count"] == len(expected)


def test_bulk_changelogs_are_complete(cloud):
    jira = client(cloud)
    snap = cloud.snapshot()
    issues = sorted(snap["issues"], key=lambda i: -i["changelog_count"])[:30]
    ids = [str(i["id"]) for i in issues]
    want = {str(i["id"]): i["changelog_count"] for i in issues}
    got = {}
    token = None
    while True:
        page = jira.get_changelogs_bulk(ids, next_page_token=token, max_results=100)
        for log in page["issueChangeLogs"]:
            got[log["issueId"]] = got.get(log["issueId"], 0) + len(log["changeHistories"])
        token = page.get("nextPageToken")
        if not token:
            break
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in want.items() if v}
