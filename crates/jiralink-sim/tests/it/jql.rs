//! The JQL conformance table of docs/simulator.md, run row by row against a Cloud and a Data Center
//! simulator: the doc is the test's only list, so the table cannot drift from what the simulator does.

use jiralink_sim::Deployment;
use serde_json::json;

use crate::support::{start_sim, Client};

const DOC: &str = include_str!("../../../../docs/simulator.md");

#[derive(Debug)]
enum Expect {
    Some,
    None,
    Error(String),
}

#[derive(Debug)]
struct Row {
    jql: String,
    cloud: bool,
    dc: bool,
    expect: Expect,
}

/// The text between the first pair of backticks (the table's code cells).
fn code(cell: &str) -> Option<String> {
    let start = cell.find('`')? + 1;
    let end = cell.rfind('`')?;
    (end > start).then(|| cell[start..end].to_owned())
}

fn rows() -> Vec<Row> {
    let section = DOC
        .split("\n## JQL\n")
        .nth(1)
        .expect("docs/simulator.md has a JQL section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut out = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line
            .trim_start_matches("| ")
            .trim_end_matches(" |")
            .split(" | ")
            .collect();
        assert_eq!(cells.len(), 4, "a table row has 4 cells: {line}");
        let jql = code(cells[0]).unwrap_or_else(|| panic!("a JQL cell: {line}"));
        let (cloud, dc) = match cells[1] {
            "both" => (true, true),
            "Cloud" => (true, false),
            "DC" => (false, true),
            other => panic!("'on' is both, Cloud or DC, not {other}: {line}"),
        };
        let expect = match cells[3] {
            "some" => Expect::Some,
            "none" => Expect::None,
            "same" => {
                Expect::Error(code(cells[2]).unwrap_or_else(|| panic!("Jira's text: {line}")))
            }
            other => Expect::Error(code(other).unwrap_or_else(|| panic!("an error text: {line}"))),
        };
        out.push(Row {
            jql,
            cloud,
            dc,
            expect,
        });
    }
    out
}

async fn check(deployment: Deployment, rows: &[Row]) -> Vec<String> {
    let sim = start_sim(deployment, 600, 7).await;
    let c = Client::as_identity(&sim, "admin");
    let mut failures = Vec::new();
    for row in rows.iter().filter(|r| match deployment {
        Deployment::Cloud => r.cloud,
        Deployment::Datacenter => r.dc,
    }) {
        let r = match deployment {
            Deployment::Cloud => {
                c.post(
                    "/rest/api/3/search/jql",
                    json!({"jql": row.jql, "fields": ["id"], "maxResults": 5000}),
                )
                .await
            }
            Deployment::Datacenter => {
                c.post(
                    "/rest/api/2/search",
                    json!({"jql": row.jql, "fields": ["id"], "maxResults": 1000}),
                )
                .await
            }
        };
        let found = r.body["issues"].as_array().map(Vec::len);
        let ok = match &row.expect {
            Expect::Some => r.status == 200 && found.is_some_and(|n| n > 0),
            Expect::None => r.status == 200 && found == Some(0),
            Expect::Error(text) => {
                r.status == 400 && r.body["errorMessages"] == json!([text.as_str()])
            }
        };
        if !ok {
            failures.push(format!(
                "{deployment:?} `{}`: expected {:?}, got {} {}",
                row.jql, row.expect, r.status, r.body
            ));
        }
    }
    failures
}

#[tokio::test]
async fn every_row_of_the_conformance_table_holds_on_both_deployments() {
    let rows = rows();
    assert!(rows.len() >= 60, "the table lost rows: {}", rows.len());
    let mut failures = check(Deployment::Cloud, &rows).await;
    failures.extend(check(Deployment::Datacenter, &rows).await);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
