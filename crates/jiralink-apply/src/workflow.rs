//! Reaching a record's target status: the workflow's transitions as Jira offers them from each
//! status (`transitions?expand=transitions.fields`), learnt during the run, a shortest known path
//! to the target, and, where none is known yet, the step that leads closest to it (by status
//! category). An account without admin rights cannot read a workflow whole, so the run learns
//! it one status at a time; later records of the same workflow go straight.

use std::collections::{HashMap, HashSet, VecDeque};

use jiralink_api::write::{AllowedValue, Transition};

/// A field of a transition's screen.
#[derive(Debug, Clone)]
pub(crate) struct ScreenField {
    pub id: String,
    pub name: String,
    pub required: bool,
    pub schema_type: String,
    pub items: Option<String>,
    pub allowed: Option<Vec<AllowedValue>>,
}

/// A transition offered from a status.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub id: String,
    pub name: String,
    pub to_id: String,
    pub to_name: String,
    pub to_category: Option<String>,
    pub fields: Vec<ScreenField>,
}

/// The steps of the transitions Jira offers from a status
/// (`GET issue/{id}/transitions?expand=transitions.fields`).
pub(crate) fn steps_of(transitions: Vec<Transition>) -> Vec<Step> {
    transitions
        .into_iter()
        .map(|t| Step {
            id: t.id,
            name: t.name,
            to_id: t.to.id,
            to_name: t.to.name,
            to_category: t.to.category,
            fields: t
                .fields
                .into_iter()
                .map(|f| ScreenField {
                    id: f.id,
                    name: f.name,
                    required: f.required,
                    schema_type: f.schema_type,
                    items: f.items,
                    allowed: f.allowed_values,
                })
                .collect(),
        })
        .collect()
}

/// Where a status category stands on the way from new to done.
fn rank(category: &str) -> i32 {
    match category {
        "new" => 0,
        "done" => 2,
        _ => 1,
    }
}

/// The transitions seen from each status, per workflow (named by project and issue type: the
/// workflow scheme maps those to one workflow).
#[derive(Debug, Default)]
pub(crate) struct Graph {
    from: HashMap<(String, String), Vec<Step>>,
}

impl Graph {
    pub fn learn(&mut self, workflow: &str, status: &str, steps: Vec<Step>) {
        self.from
            .insert((workflow.to_owned(), status.to_owned()), steps);
    }

    /// The first step of a shortest known path from `status` to a status named `target`.
    pub fn route(&self, workflow: &str, status: &str, target: &str) -> Option<Step> {
        let mut first: HashMap<String, Step> = HashMap::new();
        let mut queue = VecDeque::from([status.to_owned()]);
        let mut seen = HashSet::from([status.to_owned()]);
        while let Some(s) = queue.pop_front() {
            let Some(steps) = self.from.get(&(workflow.to_owned(), s.clone())) else {
                continue;
            };
            for step in steps {
                if !seen.insert(step.to_id.clone()) {
                    continue;
                }
                let head = first.get(&s).cloned().unwrap_or_else(|| step.clone());
                if step.to_name.eq_ignore_ascii_case(target) {
                    return Some(head);
                }
                first.insert(step.to_id.clone(), head);
                queue.push_back(step.to_id.clone());
            }
        }
        None
    }
}

/// When no known path reaches the target: of the steps offered, one to a status not visited yet,
/// closest to the target's category, asking for the fewest required fields, unexplored first.
pub(crate) fn explore<'s>(
    graph: &Graph,
    workflow: &str,
    steps: &'s [Step],
    visited: &HashSet<String>,
    target_category: Option<&str>,
) -> Option<&'s Step> {
    steps
        .iter()
        .filter(|s| !visited.contains(&s.to_id))
        .min_by_key(|s| {
            let distance = match (target_category, s.to_category.as_deref()) {
                (Some(t), Some(c)) => (rank(t) - rank(c)).abs(),
                _ => 1,
            };
            let required = s.fields.iter().filter(|f| f.required).count();
            let known = graph
                .from
                .contains_key(&(workflow.to_owned(), s.to_id.clone()));
            (distance, required, known)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn step(id: &str, to: &str, name: &str, cat: &str, required: bool) -> Value {
        let fields = if required {
            json!({"resolution": {"required": true, "name": "Resolution", "schema": {"type": "resolution"}}})
        } else {
            json!({})
        };
        json!({"id": id, "name": name, "to": {"id": to, "name": name, "statusCategory": {"key": cat}}, "fields": fields})
    }

    /// Backlog (1) -> Selected (2) -> In Progress (3) -> Blocked (4); Backlog -> Closed (5).
    fn business() -> Graph {
        let mut g = Graph::default();
        let table = [
            (
                "1",
                [
                    ("21", "2", "Selected", "new", false),
                    ("51", "5", "Closed", "done", true),
                ],
            ),
            (
                "2",
                [
                    ("11", "1", "Backlog", "new", false),
                    ("31", "3", "In Progress", "indeterminate", false),
                ],
            ),
            (
                "3",
                [
                    ("41", "4", "Blocked", "indeterminate", false),
                    ("51", "5", "Closed", "done", true),
                ],
            ),
        ];
        for (status, steps) in table {
            let list: Vec<Value> = steps
                .iter()
                .map(|(id, to, name, cat, req)| step(id, to, name, cat, *req))
                .collect();
            let answer =
                serde_json::from_value(json!({ "transitions": list })).expect("transitions");
            g.learn("w", status, steps_of(Transition::list(answer)));
        }
        g
    }

    #[test]
    fn a_known_workflow_is_walked_by_its_shortest_path() {
        let g = business();
        assert_eq!(
            g.route("w", "1", "blocked").map(|s| s.to_id),
            Some("2".into())
        );
        assert_eq!(
            g.route("w", "2", "Blocked").map(|s| s.to_id),
            Some("3".into())
        );
        assert_eq!(
            g.route("w", "1", "Closed").map(|s| s.to_id),
            Some("5".into())
        );
        assert!(g.route("w", "1", "Nowhere").is_none());
        assert!(g.route("other", "1", "Blocked").is_none());
    }

    #[test]
    fn an_unknown_workflow_is_explored_toward_the_target_category() {
        let g = Graph::default();
        let steps = business().from[&("w".to_owned(), "1".to_owned())].clone();
        let visited = HashSet::from(["1".to_owned()]);
        // Toward an in-progress status: both are one category away; the one without a
        // required field wins.
        let s = explore(&g, "w", &steps, &visited, Some("indeterminate")).expect("a step");
        assert_eq!(s.to_id, "2");
        let s = explore(&g, "w", &steps, &visited, Some("done")).expect("a step");
        assert_eq!(s.to_id, "5");
        let all = HashSet::from(["1".to_owned(), "2".to_owned(), "5".to_owned()]);
        assert!(explore(&g, "w", &steps, &all, None).is_none());
    }
}
