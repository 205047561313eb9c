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


def gateway_client(sim, name):
    """A scoped token through the gateway, as Atlassian documents for scoped tokens."""
    who = sim.identity(name)
    url = f"{sim.info['gateway_url']}/ex/jira/{sim.info['cloud_id']}"
    return Jira(url=url, username=who["email"], password=who["secret"], cloud=True)


def test_granular_reader_reads_boards_and_sprints_through_the_gateway(cloud):
    import pytest
    from requests import HTTPError

    jira = gateway_client(cloud, "granular-reader")
    snap = cloud.snapshot()
    boards = []
    start = 0
    while True:
        page = jira.get_all_agile_boards(start=start, limit=50)
        boards += page["values"]
        if page["isLast"]:
            break
        start += len(page["values"])
    assert sorted(b["id"] for b in boards) == sorted(b["id"] for b in snap["boards"])
    sprints = []
    for board in (b for b in snap["boards"] if b["type"] == "scrum"):
        start = 0
        while True:
            page = jira.get_all_sprints_from_board(board["id"], start=start, limit=50)
            sprints += page["values"]
            if page["isLast"]:
                break
            start += len(page["values"])
    assert sorted(s["id"] for s in sprints) == sorted(s["id"] for s in snap["sprints"])
    one = snap["sprints"][0]
    assert jira.get_sprint(one["id"])["name"] == one["name"]
    # Without the Agile scopes the gateway refuses, as Jira Cloud does.
    with pytest.raises(HTTPError) as refused:
        gateway_client(cloud, "scoped-no-agile").get_all_agile_boards()
    assert refused.value.response.status_code == 401
    assert refused.value.response.json()["message"] == "Unauthorized; scope does not match"
