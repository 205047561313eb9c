//! The input of `apply`: records keyed by the caller's `external_id`, read from JSON Lines or
//! from CSV with a header row.

use serde::Deserialize;
use serde_json::{Map, Value};

/// What Jira should look like for one external id.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub external_id: String,
    pub project: String,
    pub issue_type: String,
    #[serde(default)]
    pub summary: Option<String>,
    /// Markdown.
    #[serde(default)]
    pub description: Option<String>,
    /// Other fields by id or display name.
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// The target status.
    #[serde(default)]
    pub status: Option<String>,
    /// Email address (Cloud) or username (Data Center).
    #[serde(default)]
    pub assignee: Option<String>,
    /// Parent by key or by another record's external id.
    #[serde(default)]
    pub parent: Option<String>,
    /// A sprint of one of the project's boards, by name (moved through the Agile API).
    #[serde(default)]
    pub sprint: Option<String>,
    #[serde(default)]
    pub comments: Vec<CommentIn>,
    #[serde(default)]
    pub worklogs: Vec<WorklogIn>,
    #[serde(default)]
    pub links: Vec<LinkIn>,
    #[serde(default)]
    pub remote_links: Vec<RemoteLinkIn>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentIn {
    pub external_id: String,
    /// Markdown.
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorklogIn {
    pub external_id: String,
    /// Seconds, or Jira's duration text (`1h 30m`).
    pub time_spent: Value,
    /// ISO-8601 (`2024-01-17T12:34:00.000+0000`).
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkIn {
    /// The link type's name (`Blocks`, `Relates`).
    #[serde(rename = "type")]
    pub link_type: String,
    /// The other issue by key, or by another record's external id.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteLinkIn {
    pub global_id: String,
    pub url: String,
    pub title: String,
}

/// A line of the input that is not a record: reported and skipped.
#[derive(Debug, Clone)]
pub struct BadLine {
    pub line: usize,
    pub external_id: Option<String>,
    pub problem: String,
}

/// The input cannot be used at all (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Records of a file, by line number (1-based), and the lines that are not records.
pub type Parsed = (Vec<(usize, Record)>, Vec<BadLine>);

/// Reads JSON Lines (`csv` false) or CSV with a header row.
pub fn parse(text: &str, csv: bool) -> Result<Parsed, InputError> {
    if csv {
        parse_csv(text)
    } else {
        parse_jsonl(text)
    }
}

fn parse_jsonl(text: &str) -> Result<Parsed, InputError> {
    let mut records = Vec::new();
    let mut bad = Vec::new();
    let mut objects = 0;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                bad.push(BadLine {
                    line: line_no,
                    external_id: None,
                    problem: "not a JSON object".into(),
                });
                continue;
            }
            Err(e) => {
                bad.push(BadLine {
                    line: line_no,
                    external_id: None,
                    problem: format!("not JSON: {e}"),
                });
                continue;
            }
        };
        objects += 1;
        let eid = v["external_id"].as_str().map(str::to_owned);
        match serde_json::from_value::<Record>(v) {
            Ok(r) if r.external_id.trim().is_empty() => bad.push(BadLine {
                line: line_no,
                external_id: None,
                problem: "external_id is empty".into(),
            }),
            Ok(r) => records.push((line_no, r)),
            Err(e) => bad.push(BadLine {
                line: line_no,
                external_id: eid,
                problem: e.to_string(),
            }),
        }
    }
    if objects == 0 && !bad.is_empty() {
        return Err(InputError(format!(
            "the input is not JSON Lines (line {}: {}); give one JSON object per line, or a .csv file with a header row",
            bad[0].line, bad[0].problem
        )));
    }
    Ok((records, bad))
}

/// One CSV row's cells (RFC 4180 quoting).
fn csv_rows(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cell.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                if row.iter().any(|c| !c.is_empty()) {
                    rows.push((start, std::mem::take(&mut row)));
                }
                row.clear();
                line += 1;
                start = line;
            }
            (c, _) => {
                if c == '\n' {
                    line += 1;
                }
                cell.push(c)
            }
        }
    }
    row.push(cell);
    if row.iter().any(|c| !c.is_empty()) {
        rows.push((start, row));
    }
    rows
}

/// CSV columns: `external_id`, `project`, `issue_type`, `summary`, `description`, `status`,
/// `assignee`, `parent`, `sprint`, `labels` (separated by `;`); any other column is a field by id
/// or name.
fn parse_csv(text: &str) -> Result<Parsed, InputError> {
    let mut rows = csv_rows(text).into_iter();
    let Some((_, header)) = rows.next() else {
        return Err(InputError("the CSV file is empty: it needs a header row naming external_id, project, issue_type and the other columns".into()));
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    for needed in ["external_id", "project", "issue_type"] {
        if !header.iter().any(|h| h == needed) {
            return Err(InputError(format!(
                "the CSV header has no {needed} column (it has: {}); the first row must name the columns",
                header.join(", ")
            )));
        }
    }
    let mut records = Vec::new();
    let mut bad = Vec::new();
    for (line, cells) in rows {
        if cells.len() != header.len() {
            bad.push(BadLine {
                line,
                external_id: None,
                problem: format!(
                    "{} cells where the header has {}",
                    cells.len(),
                    header.len()
                ),
            });
            continue;
        }
        let mut r = Record::default();
        for (h, c) in header.iter().zip(cells) {
            let c = c.trim().to_owned();
            if c.is_empty() {
                continue;
            }
            match h.as_str() {
                "external_id" => r.external_id = c,
                "project" => r.project = c,
                "issue_type" => r.issue_type = c,
                "summary" => r.summary = Some(c),
                "description" => r.description = Some(c),
                "status" => r.status = Some(c),
                "assignee" => r.assignee = Some(c),
                "parent" => r.parent = Some(c),
                "sprint" => r.sprint = Some(c),
                "labels" => {
                    let labels: Vec<Value> = c
                        .split(';')
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| Value::String(l.to_owned()))
                        .collect();
                    r.fields.insert("labels".into(), Value::Array(labels));
                }
                other => {
                    r.fields.insert(other.to_owned(), Value::String(c));
                }
            }
        }
        if r.external_id.is_empty() {
            bad.push(BadLine {
                line,
                external_id: None,
                problem: "external_id is empty".into(),
            });
            continue;
        }
        records.push((line, r));
    }
    Ok((records, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_keeps_good_records_and_reports_bad_lines() {
        let text = "{\"external_id\":\"a\",\"project\":\"P\",\"issue_type\":\"Task\",\"summary\":\"s\"}\nnot json\n{\"external_id\":\"b\",\"project\":\"P\",\"issue_type\":\"Task\",\"colour\":1}\n";
        let (records, bad) = parse(text, false).expect("usable");
        assert_eq!(records.len(), 1);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].line, 2);
        assert!(bad[1].problem.contains("colour"), "{}", bad[1].problem);
        assert!(parse("nothing here\n", false).is_err());
    }

    #[test]
    fn csv_reads_quoted_cells_and_needs_its_header() {
        let text = "external_id,project,issue_type,summary,labels\na,P,Task,\"Hello, \"\"world\"\"\",x;y\n";
        let (records, bad) = parse(text, true).expect("usable");
        assert!(bad.is_empty());
        assert_eq!(records[0].1.summary.as_deref(), Some("Hello, \"world\""));
        assert_eq!(records[0].1.fields["labels"], serde_json::json!(["x", "y"]));
        assert!(parse("summary\nx\n", true).is_err());
    }
}
