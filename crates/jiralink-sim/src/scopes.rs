//! Which OAuth 2.0 scopes each Jira Cloud operation needs: a checked-in table (`scopes.tsv`) taken
//! from Atlassian's OpenAPI specs, which a unit test regenerates from the specs and compares.
//!
//! The rule. Each operation of Atlassian's specs lists its scopes as alternative sets: the platform
//! spec in `x-atlassian-oauth2-scopes` (the classic set, `state: Current`, and the granular set,
//! `state: Beta`), the Jira Software spec in its `security` entries (granular sets only). Atlassian's
//! REST reference prints them as "OAuth 2.0 scopes required: Classic … / Granular …", and OpenAPI 3
//! reads a list of security requirements as alternatives, each needing all of its scopes. So a token
//! passes when it holds every scope of at least one set (the classic set OR the granular set); an
//! empty set needs no scope. An operation the specs list without an OAuth2 set ("Apps can't access
//! this REST resource"), or one that is not in the specs at all, is refused to every scoped token.
//! Real Cloud's gateway refuses with 401 `{"code":401,"message":"Unauthorized; scope does not match"}`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The table: one operation a line, `METHOD<TAB>PATH<TAB>SET<TAB>SET…`, a set being its scopes
/// separated by spaces (`(none)` for an empty set). Lines starting with `#` are comments.
const TABLE: &str = include_str!("scopes.tsv");

/// The marker of an empty scope set in the table.
const NO_SCOPE: &str = "(none)";

/// One operation and the scope sets that each let a token call it.
#[derive(Debug)]
pub struct Operation {
    pub method: &'static str,
    pub template: &'static str,
    /// Alternatives: a token needs every scope of one of them. Empty: no OAuth access at all.
    pub alternatives: Vec<Vec<&'static str>>,
    segments: Vec<&'static str>,
}

impl Operation {
    /// Whether a token with these scopes may call the operation.
    pub fn allows(&self, granted: &[String]) -> bool {
        self.alternatives
            .iter()
            .any(|set| set.iter().all(|s| granted.iter().any(|g| g == s)))
    }

    /// How specific the template is: literal segments before parameters win (`issue/bulkfetch`
    /// over `issue/{issueIdOrKey}`).
    fn literal_mask(&self) -> Vec<bool> {
        self.segments.iter().map(|s| !is_param(s)).collect()
    }
}

fn is_param(segment: &str) -> bool {
    segment.contains('{')
}

struct Table {
    /// Operations by (method, number of path segments).
    by_shape: HashMap<(&'static str, usize), Vec<Operation>>,
    len: usize,
}

fn parse(text: &'static str) -> Table {
    let mut by_shape: HashMap<(&'static str, usize), Vec<Operation>> = HashMap::new();
    let mut len = 0;
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(method), Some(template)) = (cols.next(), cols.next()) else {
            continue;
        };
        let alternatives = cols
            .map(|set| {
                if set == NO_SCOPE {
                    Vec::new()
                } else {
                    set.split(' ').collect()
                }
            })
            .collect();
        let segments: Vec<&'static str> = template.split('/').skip(1).collect();
        len += 1;
        by_shape
            .entry((method, segments.len()))
            .or_default()
            .push(Operation {
                method,
                template,
                alternatives,
                segments,
            });
    }
    Table { by_shape, len }
}

fn table() -> &'static Table {
    static TABLE_PARSED: OnceLock<Table> = OnceLock::new();
    TABLE_PARSED.get_or_init(|| parse(TABLE))
}

/// How many operations the table holds.
pub fn operation_count() -> usize {
    table().len
}

/// The operation a request addresses (`path` without gateway prefix or context path, without the
/// query). REST v2 and `latest` share v3's operations, as Atlassian documents.
pub fn operation(method: &str, path: &str) -> Option<&'static Operation> {
    let path = path.split('?').next().unwrap_or(path);
    let v3;
    let path = if let Some(rest) = path
        .strip_prefix("/rest/api/2/")
        .or_else(|| path.strip_prefix("/rest/api/latest/"))
    {
        v3 = format!("/rest/api/3/{rest}");
        v3.as_str()
    } else if let Some(rest) = path.strip_prefix("/rest/software/1.0/") {
        // The token-paged `/rest/software/1.0` issue lists are in neither spec: they are the
        // Agile lists' successors and take the Agile lists' scopes (an approximate count those of
        // the list it counts).
        let rest = rest.strip_suffix("/approximate-count").unwrap_or(rest);
        v3 = format!("/rest/agile/1.0/{rest}");
        v3.as_str()
    } else {
        path
    };
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method: &'static str = match method.to_ascii_uppercase().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        _ => return None,
    };
    table()
        .by_shape
        .get(&(method, segments.len()))?
        .iter()
        .filter(|op| {
            op.segments
                .iter()
                .zip(&segments)
                .all(|(t, s)| if is_param(t) { !s.is_empty() } else { t == s })
        })
        .max_by_key(|op| op.literal_mask())
}

/// Whether a token holding `granted` may call `method path`; `false` for what the table lacks.
pub fn allows(granted: &[String], method: &str, path: &str) -> bool {
    operation(method, path).is_some_and(|op| op.allows(granted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::path::PathBuf;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// Where Atlassian's specs are: `JIRALINK_OPENAPI_DIR`, else the nearest `shared/jira-openapi`
    /// above this crate (CI has `../shared` beside the clone).
    fn spec_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("JIRALINK_OPENAPI_DIR") {
            return PathBuf::from(dir);
        }
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        here.ancestors()
            .map(|a| a.join("shared/jira-openapi"))
            .find(|d| d.join("jira-platform-v3.json").is_file())
            .unwrap_or_else(|| {
                panic!(
                    "Atlassian's OpenAPI specs are not in any shared/jira-openapi above {}: \
                     set JIRALINK_OPENAPI_DIR to the folder holding jira-platform-v3.json",
                    here.display()
                )
            })
    }

    /// The table as the specs give it (see the module's rule).
    fn generate() -> String {
        let mut rows = Vec::new();
        for file in ["jira-platform-v3.json", "jira-software-agile-v1.json"] {
            let path = spec_dir().join(file);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let doc: Value = serde_json::from_str(&text).expect("the spec is JSON");
            let paths = doc["paths"].as_object().expect("the spec has paths");
            for (template, item) in paths {
                for method in ["get", "post", "put", "delete", "patch"] {
                    let Some(op) = item.get(method) else { continue };
                    let declared: Vec<&Value> = match op
                        .get("x-atlassian-oauth2-scopes")
                        .and_then(Value::as_array)
                    {
                        Some(x) if !x.is_empty() => x
                            .iter()
                            .filter(|e| e["scheme"] == "OAuth2")
                            .map(|e| &e["scopes"])
                            .collect(),
                        _ => op
                            .get("security")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(|s| s.get("OAuth2"))
                            .collect(),
                    };
                    let mut sets: Vec<String> = Vec::new();
                    for set in declared {
                        let list: Vec<&str> = set
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect();
                        let set = if list.is_empty() {
                            NO_SCOPE.to_owned()
                        } else {
                            list.join(" ")
                        };
                        if !sets.contains(&set) {
                            sets.push(set);
                        }
                    }
                    let mut row = format!("{}\t{template}", method.to_ascii_uppercase());
                    for set in sets {
                        row.push('\t');
                        row.push_str(&set);
                    }
                    rows.push(row);
                }
            }
        }
        rows.sort();
        let mut out = String::from(
            "# Scopes per Jira Cloud operation, generated from Atlassian's OpenAPI specs\n\
             # (jira-platform-v3.json, jira-software-agile-v1.json) by the test\n\
             # `scopes::tests::table_matches_the_specs`; regenerate with\n\
             # JIRALINK_REGENERATE_SCOPES=1 cargo test -p jiralink-sim --lib scopes\n\
             # METHOD<TAB>PATH<TAB>SET<TAB>SET...: a token needs every scope of one set; (none): no scope.\n",
        );
        for row in rows {
            out.push_str(&row);
            out.push('\n');
        }
        out
    }

    #[test]
    fn table_matches_the_specs() {
        let generated = generate();
        if std::env::var_os("JIRALINK_REGENERATE_SCOPES").is_some() {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/scopes.tsv");
            std::fs::write(&path, &generated).expect("write scopes.tsv");
            return;
        }
        let differing: Vec<(&str, &str)> = generated
            .lines()
            .zip(TABLE.lines())
            .filter(|(g, t)| g != t)
            .take(3)
            .collect();
        assert!(
            generated == TABLE,
            "src/scopes.tsv differs from the specs (first differences, spec then table: \
             {differing:?}; {} lines generated, {} in the table); regenerate it with \
             JIRALINK_REGENERATE_SCOPES=1 cargo test -p jiralink-sim --lib scopes",
            generated.lines().count(),
            TABLE.lines().count()
        );
    }

    #[test]
    fn classic_or_granular_set_passes() {
        let classic = scopes(&["read:jira-work"]);
        assert!(allows(&classic, "POST", "/rest/api/3/search/jql"));
        assert!(allows(&classic, "GET", "/rest/api/2/issue/X-1"));
        assert!(allows(
            &classic,
            "GET",
            "/rest/api/latest/issue/X-1/comment"
        ));
        let granular = scopes(&[
            "read:issue-details:jira",
            "read:field.default-value:jira",
            "read:field.option:jira",
            "read:field:jira",
            "read:group:jira",
        ]);
        assert!(allows(&granular, "POST", "/rest/api/3/search/jql"));
        // A granular set missing one scope, without the classic one, does not pass.
        assert!(!allows(&granular[1..], "POST", "/rest/api/3/search/jql"));
        assert!(!allows(&classic, "POST", "/rest/api/3/issue"));
        assert!(!allows(&classic, "GET", "/rest/api/3/myself"));
        assert!(allows(
            &scopes(&["read:jira-user"]),
            "GET",
            "/rest/api/3/myself"
        ));
    }

    #[test]
    fn agile_operations_need_their_granular_scopes() {
        let classic = scopes(&["read:jira-work", "read:jira-user"]);
        assert!(!allows(&classic, "GET", "/rest/agile/1.0/board"));
        assert!(!allows(&classic, "GET", "/rest/agile/1.0/board/7/sprint"));
        let sprint = scopes(&["read:sprint:jira-software"]);
        assert!(allows(&sprint, "GET", "/rest/agile/1.0/board/7/sprint"));
        assert!(allows(&sprint, "GET", "/rest/agile/1.0/sprint/3"));
        let boards = scopes(&["read:board-scope:jira-software", "read:project:jira"]);
        assert!(allows(&boards, "GET", "/rest/agile/1.0/board?startAt=50"));
        assert!(!allows(&boards[..1], "GET", "/rest/agile/1.0/board"));
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        let op = operation("POST", "/rest/api/3/issue/bulkfetch").expect("bulkfetch");
        assert_eq!(op.template, "/rest/api/3/issue/bulkfetch");
        let op = operation("GET", "/rest/api/3/issue/X-1").expect("issue");
        assert_eq!(op.template, "/rest/api/3/issue/{issueIdOrKey}");
    }

    #[test]
    fn empty_sets_need_no_scope_and_unknown_operations_pass_no_token() {
        assert!(allows(&[], "GET", "/rest/api/3/serverInfo"));
        let everything = scopes(&["read:jira-work", "write:jira-work", "read:jira-user"]);
        assert!(!allows(&everything, "GET", "/rest/api/3/no-such-resource"));
        assert!(operation_count() > 600);
    }
}
