//! JQL: the language integrations and people write, parsed into a query (`parse`), compiled against
//! the site (`compile`: names resolved to ids once, dates read in the caller's time zone) and
//! evaluated per issue without allocation for the clauses the sync sends. Text search is in `text`.
//! Errors carry Jira's wording (Cloud's or Data Center's); what the simulator does not evaluate
//! says "not supported by the simulator", never a silent mismatch. docs/simulator.md ("JQL") lists
//! the conformance table that tests/it/jql.rs runs.

mod compile;
mod parse;
mod text;

use std::cmp::Ordering;

use crate::model::*;
use compile::Pred;
use parse::{Expr, Field, Op, Parser, Tok, Val};

/// A message as Jira puts it in `errorMessages`; the caller answers 400 with it.
#[derive(Debug, Clone, PartialEq)]
pub struct JqlError(pub String);

/// A parsed JQL query: an optional filter and an ORDER BY.
#[derive(Debug, Clone)]
pub struct Query {
    filter: Option<Expr>,
    order: Vec<(Field, bool)>,
}

/// Parses JQL with the syntax-error wording of `deployment`; syntax errors and unknown fields are
/// errors here, unknown values at `compile`.
pub fn parse(jql: &str, deployment: Deployment) -> Result<Query, JqlError> {
    let prefix = parse::prefix(deployment);
    let lexed = parse::tokenize(jql, prefix)?;
    let mut p = Parser {
        toks: lexed.toks,
        chars: lexed.chars,
        pos: 0,
        prefix,
        unknown_field: None,
    };
    let filter = if p.peek().is_none() || p.is_kw("order") {
        None
    } else {
        Some(p.or()?)
    };
    let mut order = Vec::new();
    let mut sort_error = None;
    if p.is_kw("order") {
        p.pos += 1;
        if !p.is_kw("by") {
            return p.unexpected("'BY'");
        }
        p.pos += 1;
        loop {
            let name = match p.peek() {
                Some(Tok::Word(w)) | Some(Tok::Str(w)) => w.clone(),
                _ => return p.unexpected("a field name"),
            };
            p.pos += 1;
            match parse::field(&name) {
                Some(
                    f @ (Field::Key
                    | Field::Id
                    | Field::Created
                    | Field::Updated
                    | Field::Resolved
                    | Field::DueDate
                    | Field::Priority
                    | Field::Status
                    | Field::StatusCategory
                    | Field::IssueType
                    | Field::Resolution
                    | Field::Assignee
                    | Field::Reporter
                    | Field::Summary
                    | Field::StoryPoints
                    | Field::Rank
                    | Field::Project),
                ) => {
                    let mut desc = false;
                    if p.is_kw("desc") {
                        desc = true;
                        p.pos += 1;
                    } else if p.is_kw("asc") {
                        p.pos += 1;
                    }
                    order.push((f, desc));
                }
                Some(_) => {
                    sort_error.get_or_insert(format!("Field '{name}' does not support sorting."));
                    if p.is_kw("desc") || p.is_kw("asc") {
                        p.pos += 1;
                    }
                }
                None => {
                    if p.unknown_field.is_none() {
                        p.unknown_field = Some(name);
                    }
                    if p.is_kw("desc") || p.is_kw("asc") {
                        p.pos += 1;
                    }
                }
            }
            if p.peek() == Some(&Tok::Comma) {
                p.pos += 1;
            } else {
                break;
            }
        }
    }
    if p.peek().is_some() {
        return p.unexpected("either 'OR' or 'AND'");
    }
    if let Some(name) = p.unknown_field {
        return Err(JqlError(format!(
            "Field '{name}' does not exist or you do not have permission to view it."
        )));
    }
    if let Some(e) = sort_error {
        return Err(JqlError(e));
    }
    Ok(Query { filter, order })
}

/// The site, the caller (for `currentUser()` and the time zone of dates) and the instant of `now()`.
pub struct Ctx<'a> {
    pub site: &'a Site,
    pub user: UserIx,
    pub now: Millis,
}

/// A query ready to run.
pub struct Compiled {
    pred: Pred,
}

impl Compiled {
    pub fn matches(&self, site: &Site, issue: &Issue) -> bool {
        compile::eval(&self.pred, site, issue)
    }
}

/// One ORDER BY key of an issue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Num(i64, i64),
    Text(String),
}

impl Query {
    /// Whether the query restricts the search (Cloud refuses unbounded queries on search/jql).
    pub fn is_bounded(&self) -> bool {
        self.filter.is_some()
    }

    /// Resolves names to ids; unknown values are Jira's 400 messages.
    pub fn compile(&self, ctx: &Ctx) -> Result<Compiled, JqlError> {
        let pred = match &self.filter {
            Some(e) => compile::compile(e, ctx)?,
            None => Pred::Const(true),
        };
        Ok(Compiled { pred })
    }

    /// The projects the query is restricted to, when a top-level `project =`/`in` says so.
    pub fn projects(&self, ctx: &Ctx) -> Option<Vec<ProjectIx>> {
        let top: Vec<&Expr> = match &self.filter {
            Some(Expr::And(items)) => items.iter().collect(),
            Some(e) => vec![e],
            None => return None,
        };
        top.into_iter().find_map(|e| match e {
            Expr::Clause {
                field: Field::Project,
                op: Op::Eq | Op::In,
                values,
                ..
            } => values
                .iter()
                .map(|v| match v {
                    Val::Text(t) => ctx.site.project_by_key_or_id(t).or_else(|| {
                        ctx.site
                            .projects
                            .iter()
                            .position(|p| p.name.eq_ignore_ascii_case(t))
                            .map(|p| p as ProjectIx)
                    }),
                    _ => None,
                })
                .collect(),
            _ => None,
        })
    }

    /// Sorts issue ids by the ORDER BY clause (default: key descending, as Jira's navigator).
    pub fn sort(&self, ctx: &Ctx, ids: &mut [IssueId]) {
        let site = ctx.site;
        let mut rank: Vec<usize> = (0..site.projects.len()).collect();
        rank.sort_by(|a, b| site.projects[*a].key.cmp(&site.projects[*b].key));
        let mut project_rank = vec![0usize; site.projects.len()];
        for (r, p) in rank.into_iter().enumerate() {
            project_rank[p] = r;
        }
        let default = [(Field::Key, true)];
        let order: &[(Field, bool)] = if self.order.is_empty() {
            &default
        } else {
            &self.order
        };
        // Empty values sort last ascending (and first descending), as in Jira.
        let user = |u: Option<UserIx>| match u {
            Some(u) => SortKey::Text(site.users[u as usize].display_name.to_lowercase()),
            None => SortKey::Text("\u{10FFFF}".into()),
        };
        let key = |f: Field, i: &Issue| -> SortKey {
            match f {
                Field::Key | Field::Project => {
                    SortKey::Num(project_rank[i.project as usize] as i64, i.number as i64)
                }
                Field::Id | Field::Rank => SortKey::Num(i.id as i64, 0),
                Field::Created => SortKey::Num(i.created, 0),
                Field::Updated => SortKey::Num(i.updated, 0),
                Field::Resolved => SortKey::Num(i.resolved.unwrap_or(i64::MAX), 0),
                // Ascending is lowest priority first: `ORDER BY priority DESC` starts at Highest.
                Field::Priority => SortKey::Num(-(i.priority as i64), 0),
                Field::Status => SortKey::Num(
                    site.statuses[i.status as usize].category as i64,
                    i.status as i64,
                ),
                Field::StatusCategory => {
                    SortKey::Num(site.statuses[i.status as usize].category as i64, 0)
                }
                Field::IssueType => SortKey::Num(i.issue_type as i64, 0),
                Field::Resolution => {
                    SortKey::Num(i.resolution.map(i64::from).unwrap_or(i64::MAX), 0)
                }
                Field::StoryPoints => SortKey::Num(
                    i.story_points
                        .map(|p| (p as f64 * 1000.0) as i64)
                        .unwrap_or(i64::MAX),
                    0,
                ),
                Field::Assignee => user(i.assignee),
                Field::Reporter => user(Some(i.reporter)),
                Field::Summary => SortKey::Text(crate::render::summary(i).to_lowercase()),
                _ => SortKey::Num(0, 0),
            }
        };
        let cmp = |x: &[SortKey], y: &[SortKey]| -> Ordering {
            for ((a, b), (_, desc)) in x.iter().zip(y).zip(order) {
                let o = a.cmp(b);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        };
        let texty = order
            .iter()
            .any(|(f, _)| matches!(f, Field::Assignee | Field::Reporter | Field::Summary));
        if texty {
            // Keys with text are computed once per issue.
            let mut keyed: Vec<(Vec<SortKey>, IssueId)> = ids
                .iter()
                .map(|id| {
                    let k = site
                        .issue(*id)
                        .map(|i| order.iter().map(|(f, _)| key(*f, i)).collect())
                        .unwrap_or_default();
                    (k, *id)
                })
                .collect();
            keyed.sort_by(|(a, x), (b, y)| cmp(a, b).then(x.cmp(y)));
            for (slot, (_, id)) in ids.iter_mut().zip(keyed) {
                *slot = id;
            }
            return;
        }
        ids.sort_by(|a, b| {
            let (Some(x), Some(y)) = (site.issue(*a), site.issue(*b)) else {
                return a.cmp(b);
            };
            for (f, desc) in order {
                let o = key(*f, x).cmp(&key(*f, y));
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.cmp(b)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GenConfig;
    use chrono::TimeZone;

    fn site() -> Site {
        crate::generate::generate(&GenConfig {
            deployment: Deployment::Cloud,
            seed: 5,
            issues: 600,
            projects: Some(4),
        })
        .0
    }

    fn run(site: &Site, user: UserIx, jql: &str) -> Result<Vec<IssueId>, JqlError> {
        let q = parse(jql, site.deployment)?;
        let ctx = Ctx {
            site,
            user,
            now: site.generated_at,
        };
        let c = q.compile(&ctx)?;
        let mut ids: Vec<IssueId> = site
            .issues
            .iter()
            .filter(|i| c.matches(site, i))
            .map(|i| i.id)
            .collect();
        q.sort(&ctx, &mut ids);
        Ok(ids)
    }

    fn admin(site: &Site) -> UserIx {
        (0..site.users.len() as u32)
            .find(|u| site.is_site_admin(*u))
            .expect("an admin")
    }

    #[test]
    fn project_key_and_boolean_logic() {
        let s = site();
        let a = admin(&s);
        let key = s.projects[1].key.clone();
        let in_project = run(&s, a, &format!("project = {key}")).expect("ok");
        assert_eq!(
            in_project.len(),
            s.issues.iter().filter(|i| i.project == 1).count()
        );
        let both = run(
            &s,
            a,
            &format!(
                "project in ({}, \"{}\")",
                s.projects[0].key, s.projects[1].name
            ),
        )
        .expect("ok");
        assert_eq!(
            both.len(),
            s.issues.iter().filter(|i| i.project <= 1).count()
        );
        let not = run(
            &s,
            a,
            &format!("NOT project = {key} AND project != {}", s.projects[0].key),
        )
        .expect("ok");
        assert_eq!(
            not.len(),
            s.issues.iter().filter(|i| i.project >= 2).count()
        );
        let first = s.issue_key(&s.issues[0]);
        assert_eq!(
            run(&s, a, &format!("key = {first} OR id = 10001"))
                .expect("ok")
                .len(),
            2
        );
        let lower = run(
            &s,
            a,
            &format!("project = {key} AND key <= {key}-3 ORDER BY key ASC"),
        )
        .expect("ok");
        assert_eq!(
            lower
                .iter()
                .map(|id| s.issue(*id).map(|i| i.number))
                .collect::<Vec<_>>(),
            vec![Some(1), Some(2), Some(3)]
        );
        assert_eq!(run(&s, a, "id > 10590").expect("ok").len(), 9);
    }

    #[test]
    fn dates_are_read_in_the_callers_time_zone() {
        let mut s = site();
        let a = admin(&s);
        s.users[a as usize].time_zone = chrono_tz::Australia::Sydney;
        let t = chrono::Utc
            .with_ymd_and_hms(2024, 1, 1, 13, 0, 0)
            .single()
            .expect("time")
            .timestamp_millis();
        s.issues[0].updated = t;
        s.issues[1].updated = t - 60_000;
        let got = run(
            &s,
            a,
            "updated >= \"2024-01-02 00:00\" AND updated <= \"2024/01/02 00:00\"",
        )
        .expect("ok");
        assert_eq!(
            got,
            vec![s.issues[0].id],
            "midnight in Sydney is 13:00 UTC the day before (summer time)"
        );
        let recent = run(&s, a, "updated >= -1w").expect("ok");
        assert!(recent.iter().all(|id| s
            .issue(*id)
            .is_some_and(|i| i.updated >= s.generated_at - 7 * 86_400_000)));
        assert!(run(&s, a, "created >= startOfDay(-30)").is_ok());
        assert!(run(&s, a, "updated > 1704067200000").is_ok());
        let e = run(&s, a, "updated > \"yesterday\"").expect_err("bad date");
        assert!(e.0.contains("Date value 'yesterday'"), "{e:?}");
    }

    #[test]
    fn names_resolve_and_unknown_values_are_errors() {
        let s = site();
        let a = admin(&s);
        let done = run(&s, a, "statusCategory = Done AND resolution is not EMPTY").expect("ok");
        assert!(!done.is_empty());
        assert_eq!(
            done.len(),
            run(&s, a, "statusCategory = done").expect("ok").len()
        );
        let open = run(&s, a, "resolution = Unresolved").expect("ok");
        assert_eq!(open.len() + done.len(), s.issues.len());
        assert!(!run(
            &s,
            a,
            "issuetype in (Story, Bug) AND status in (\"In Progress\", Done)"
        )
        .expect("ok")
        .is_empty());
        assert!(!run(&s, a, "sprint in openSprints()")
            .expect("ok")
            .is_empty());
        assert!(!run(&s, a, "sprint is EMPTY").expect("ok").is_empty());
        assert!(!run(&s, a, "assignee = currentUser() OR assignee is EMPTY")
            .expect("ok")
            .is_empty());
        assert!(run(&s, a, "summary ~ \"login\"").is_ok());
        assert_eq!(
            run(&s, a, "project = NOPE").expect_err("unknown").0,
            "The value 'NOPE' does not exist for the field 'project'."
        );
        assert!(run(&s, a, "foo = bar")
            .expect_err("field")
            .0
            .contains("Field 'foo' does not exist"));
        assert!(run(&s, a, "status = Nope")
            .expect_err("status")
            .0
            .contains("'Nope' does not exist"));
        assert!(run(&s, a, "project ~ X")
            .expect_err("op")
            .0
            .contains("operator '~' is not supported"));
        assert!(run(&s, a, "summary was Done").is_err());
        assert!(run(&s, a, "project = ENG garbage")
            .expect_err("syntax")
            .0
            .contains("Expecting either 'OR' or 'AND'"));
        assert!(run(&s, a, "(project = ENG").is_err());
    }

    #[test]
    fn order_by_and_bounds() {
        let s = site();
        let a = admin(&s);
        let q = parse("order by updated desc", Deployment::Cloud).expect("ok");
        assert!(!q.is_bounded());
        assert!(parse("project is not EMPTY", Deployment::Cloud)
            .expect("ok")
            .is_bounded());
        let ids = run(&s, a, "project is not EMPTY ORDER BY updated DESC, id ASC").expect("ok");
        let times: Vec<Millis> = ids
            .iter()
            .filter_map(|id| s.issue(*id).map(|i| i.updated))
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]));
        let ids = run(&s, a, "project is not EMPTY").expect("ok");
        let first = s.issue(ids[0]).expect("issue");
        assert_eq!(
            first.number,
            s.issues
                .iter()
                .filter(|i| i.project == first.project)
                .map(|i| i.number)
                .max()
                .expect("max"),
            "default order is key descending"
        );
        let q = parse(
            &format!("project = {} AND status = Done", s.projects[2].key),
            s.deployment,
        )
        .expect("ok");
        assert_eq!(
            q.projects(&Ctx {
                site: &s,
                user: a,
                now: 0
            }),
            Some(vec![2])
        );
    }

    #[test]
    fn hidden_projects_do_not_exist_for_the_caller() {
        let s = site();
        let reader = (0..s.users.len() as u32)
            .find(|u| {
                (0..s.projects.len() as u32).any(|p| !s.can_browse(*u, p))
                    && (0..s.projects.len() as u32).any(|p| s.can_browse(*u, p))
                    && s.users[*u as usize].active
            })
            .expect("a partial reader");
        let hidden = (0..s.projects.len() as u32)
            .find(|p| !s.can_browse(reader, *p))
            .expect("hidden");
        let e = run(
            &s,
            reader,
            &format!("project = {}", s.projects[hidden as usize].key),
        )
        .expect_err("hidden project");
        assert!(e.0.contains("does not exist for the field 'project'"));
    }

    fn count(s: &Site, f: impl Fn(&Issue) -> bool) -> usize {
        s.issues.iter().filter(|i| f(i)).count()
    }

    #[test]
    fn fields_match_the_model() {
        let s = site();
        let a = admin(&s);
        let n = |jql: &str| run(&s, a, jql).expect(jql).len();
        let v10 = s.projects[0].versions[0].id;
        assert_eq!(
            n(&format!("fixVersion = {v10}")),
            count(&s, |i| i.fix_versions.contains(&v10))
        );
        let backend: Vec<u32> = s
            .projects
            .iter()
            .flat_map(|p| p.components.iter())
            .filter(|c| c.name == "Backend")
            .map(|c| c.id)
            .collect();
        assert_eq!(
            n("component = backend"),
            count(&s, |i| i.components.iter().any(|c| backend.contains(c)))
        );
        assert_eq!(
            n("component != backend"),
            count(&s, |i| !i.components.is_empty()
                && !i.components.iter().any(|c| backend.contains(c))),
            "!= leaves out issues without a component"
        );
        assert_eq!(
            n("\"Story Points\" >= 3"),
            count(&s, |i| i.story_points.is_some_and(|p| p >= 3.0))
        );
        assert_eq!(
            n("cf[10016] is EMPTY"),
            count(&s, |i| i.story_points.is_none())
        );
        assert_eq!(n("priority > Medium"), count(&s, |i| i.priority < 2));
        assert_eq!(n("priority <= Medium"), count(&s, |i| i.priority >= 2));
        assert_eq!(
            n("issueLinkType = blocks"),
            count(&s, |i| i
                .links
                .iter()
                .any(|l| l.link_type == 0 && l.outward))
        );
        assert_eq!(
            n("issueLinkType = \"Blocks\" OR issueLinkType = \"is blocked by\""),
            count(&s, |i| i.links.iter().any(|l| l.link_type == 0))
        );
        assert_eq!(
            n("worklogAuthor = currentUser()"),
            count(&s, |i| i.worklogs.iter().any(|w| w.author == a))
        );
        assert_eq!(n("watcher = currentUser()"), count(&s, |i| i.reporter == a));
        assert_eq!(
            n("issue in watchedIssues()"),
            count(&s, |i| i.reporter == a)
        );
        let linked = s.issues.iter().find(|i| i.links.len() > 1).expect("links");
        let others: std::collections::HashSet<IssueId> =
            linked.links.iter().map(|l| l.other).collect();
        assert_eq!(
            run(
                &s,
                a,
                &format!("issue in linkedIssues({})", s.issue_key(linked))
            )
            .expect("linked")
            .into_iter()
            .collect::<std::collections::HashSet<_>>(),
            others
        );
        assert_eq!(n("attachments is EMPTY"), s.issues.len());
        assert_eq!(n("affectedVersion = \"1.0\""), 0);
        assert_eq!(n("duedate < now()"), 0);
        let week = s.generated_at - 7 * 86_400_000;
        assert_eq!(
            n("worklogDate >= -1w"),
            count(&s, |i| i.worklogs.iter().any(|w| w.started >= week))
        );
        let devs = s
            .groups
            .iter()
            .position(|g| g.name == "developers")
            .expect("group") as u16;
        assert_eq!(
            n("assignee in membersOf(developers)"),
            count(&s, |i| i
                .assignee
                .is_some_and(|u| s.users[u as usize].groups.contains(&devs)))
        );
        let actor = s
            .issues
            .iter()
            .find_map(|i| i.changelog.first().map(|g| g.author))
            .expect("a change");
        let touched = count(&s, |i| {
            i.reporter == actor
                || i.changelog.iter().any(|g| g.author == actor)
                || i.comments.iter().any(|c| c.author == actor)
                || i.worklogs.iter().any(|w| w.author == actor)
        });
        assert!(touched > 0);
        assert_eq!(
            n(&format!(
                "issue in updatedBy(\"{}\")",
                s.users[actor as usize].account_id
            )),
            touched
        );
    }

    #[test]
    fn history_operators_read_the_changelog() {
        let s = site();
        let a = admin(&s);
        let n = |jql: &str| run(&s, a, jql).expect(jql).len();
        let done = s
            .statuses
            .iter()
            .position(|x| x.name == "Done")
            .expect("Done") as u16;
        let was_done = |i: &Issue| {
            i.status == done
                || i.changelog.iter().flat_map(|g| &g.items).any(|it| {
                    matches!(it, ChangeValue::Status { from, to } if *from == done || *to == done)
                })
        };
        assert_eq!(n("status WAS Done"), count(&s, was_done));
        assert_eq!(n("status WAS NOT Done"), count(&s, |i| !was_done(i)));
        let changed = |i: &Issue| {
            i.changelog
                .iter()
                .flat_map(|g| &g.items)
                .any(|it| matches!(it, ChangeValue::Status { .. }))
        };
        assert_eq!(n("status CHANGED"), count(&s, changed));
        assert_eq!(
            n("status CHANGED TO Done"),
            count(&s, |i| i.changelog.iter().flat_map(|g| &g.items).any(
                |it| matches!(it, ChangeValue::Status { to, .. } if *to == done)
            ))
        );
        assert_eq!(
            n("status CHANGED BY currentUser()"),
            count(&s, |i| i.changelog.iter().any(|g| g.author == a
                && g.items
                    .iter()
                    .any(|it| matches!(it, ChangeValue::Status { .. }))))
        );
        let later = n("status CHANGED AFTER -4w");
        assert!(later > 0 && later < n("status CHANGED"));
        assert_eq!(
            n("status CHANGED DURING (\"1990/01/01\", \"1990/01/02\")"),
            0
        );
        assert_eq!(n("status WAS Done BEFORE \"1990/01/01\""), 0);
    }

    #[test]
    fn text_search_and_ordering() {
        let s = site();
        let a = admin(&s);
        let ids = run(&s, a, "summary ~ \"LOGIN flows\"").expect("ok");
        assert_eq!(
            ids.len(),
            count(&s, |i| crate::render::summary(i).contains("login flow"))
        );
        assert!(run(&s, a, "summary ~ \"zzz\"").expect("ok").is_empty());
        let by_prio = run(
            &s,
            a,
            "project is not EMPTY ORDER BY priority DESC, key ASC",
        )
        .expect("ok");
        let prios: Vec<u8> = by_prio
            .iter()
            .filter_map(|id| s.issue(*id).map(|i| i.priority))
            .collect();
        assert!(
            prios.windows(2).all(|w| w[0] <= w[1]),
            "Highest (index 0) first"
        );
        let by_assignee = run(&s, a, "assignee is not EMPTY ORDER BY assignee ASC").expect("ok");
        let names: Vec<String> = by_assignee
            .iter()
            .filter_map(|id| s.issue(*id).and_then(|i| i.assignee))
            .map(|u| s.users[u as usize].display_name.to_lowercase())
            .collect();
        assert!(names.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn syntax_errors_carry_the_deployments_wording() {
        let cloud = parse("project = ENG foo", Deployment::Cloud).expect_err("syntax");
        assert_eq!(
            cloud.0,
            "Error in JQL Query: Expecting either 'OR' or 'AND' but got 'foo'. (line 1, character 15)"
        );
        let dc = parse(
            "project = ENG\nAND status = Done bar",
            Deployment::Datacenter,
        )
        .expect_err("syntax");
        assert_eq!(
            dc.0,
            "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'bar'. (line 2, character 19)"
        );
    }

    #[test]
    fn date_functions_take_increments_in_their_own_period() {
        let mut s = site();
        let a = admin(&s);
        s.users[a as usize].time_zone = chrono_tz::UTC;
        // Wednesday 2024-05-15 12:00 UTC.
        let now = chrono::Utc
            .with_ymd_and_hms(2024, 5, 15, 12, 0, 0)
            .single()
            .expect("time")
            .timestamp_millis();
        let ctx = Ctx {
            site: &s,
            user: a,
            now,
        };
        let at = |f: &str, args: &[&str]| {
            ctx.date(
                &Val::Func(
                    f.to_lowercase(),
                    f.into(),
                    args.iter().map(|x| x.to_string()).collect(),
                ),
                "created",
            )
            .expect(f)
        };
        let utc = |y, m, d| {
            chrono::Utc
                .with_ymd_and_hms(y, m, d, 0, 0, 0)
                .single()
                .expect("time")
                .timestamp_millis()
        };
        assert_eq!(at("startOfWeek", &[]), utc(2024, 5, 12));
        assert_eq!(at("startOfWeek", &["-1w"]), utc(2024, 5, 5));
        assert_eq!(
            at("startOfWeek", &["-1"]),
            utc(2024, 5, 5),
            "a bare number counts weeks"
        );
        assert_eq!(at("startOfMonth", &["-1M"]), utc(2024, 4, 1));
        assert_eq!(at("endOfMonth", &[]), utc(2024, 6, 1) - 1);
        assert_eq!(at("startOfYear", &["1"]), utc(2025, 1, 1));
        assert_eq!(at("endOfYear", &[]), utc(2025, 1, 1) - 1);
        assert_eq!(at("startOfDay", &["-30"]), utc(2024, 4, 15));
        assert_eq!(at("endOfDay", &[]), utc(2024, 5, 16) - 1);
        assert_eq!(at("now", &["-1h"]), now - 3_600_000);
    }
}
