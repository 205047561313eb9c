//! JQL compiled against the site: names resolved to ids, dates and functions to instants once per
//! query; the resulting predicate is evaluated per issue (the hot path: no allocation for the
//! clauses the sync sends).

use std::cmp::Ordering;
use std::collections::HashSet;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, TimeZone};

use super::parse::{Expr, Field, HistKw, Op, Val};
use super::text::TextQuery;
use super::{Ctx, JqlError};
use crate::model::*;

fn err<T>(msg: impl Into<String>) -> Result<T, JqlError> {
    Err(JqlError(msg.into()))
}

#[derive(Debug, Clone, Copy)]
pub(super) enum TimeField {
    Created,
    Updated,
    Resolved,
    Due,
}

/// Which texts a `~` clause searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextIn {
    Summary,
    Description,
    Comment,
    Environment,
    All,
}

/// A field whose history WAS and CHANGED read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HistField {
    Status,
    Assignee,
    Reporter,
    Priority,
    Resolution,
    FixVersion,
}

/// A WAS or CHANGED clause with every value resolved; values are indices, `None` is empty.
#[derive(Debug, Clone)]
pub(super) struct History {
    field: HistField,
    /// WAS: the values; CHANGED: none.
    values: Vec<Option<i64>>,
    changed: bool,
    from: Option<Vec<Option<i64>>>,
    to: Option<Vec<Option<i64>>>,
    by: Option<Vec<UserIx>>,
    /// The instants the value or the change must touch: [start, end).
    range: (Millis, Millis),
}

/// A predicate with every name resolved to ids.
#[derive(Debug, Clone)]
pub(super) enum Pred {
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    Const(bool),
    Project(Vec<ProjectIx>),
    Ids(HashSet<IssueId>),
    /// Key comparison within one project by number.
    KeyCmp(ProjectIx, Op, u32),
    IdCmp(Op, IssueId),
    Time(TimeField, Op, Millis),
    /// The field has no value.
    Empty(Field),
    Status(Vec<u16>),
    Category(Vec<StatusCategory>),
    Type(Vec<u16>),
    Priority(Vec<u8>),
    /// Priority order: `priority > Medium` holds for High and Highest.
    PriorityCmp(Op, u8),
    Resolution(Vec<u8>),
    Assignee(Vec<UserIx>),
    Reporter(Vec<UserIx>),
    Sprint(Vec<u32>),
    Parent(Vec<IssueId>),
    Label(Vec<String>),
    FixVersion(Vec<u32>),
    Component(Vec<u32>),
    StoryPoints(Op, f64),
    WorklogDate(Op, Millis),
    WorklogAuthor(Vec<UserIx>),
    /// Link type index and the side (`Some(true)`: outward), `None` for either side.
    LinkType(Vec<(u8, Option<bool>)>),
    Text(TextIn, Box<TextQuery>),
    History(Box<History>),
    /// `issue in updatedBy(user, from, to)`.
    UpdatedBy(Vec<UserIx>, Millis, Millis),
}

fn cmp_holds(op: Op, ord: Ordering) -> bool {
    match op {
        Op::Eq | Op::In | Op::Is => ord == Ordering::Equal,
        Op::Ne | Op::NotIn | Op::IsNot => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        _ => false,
    }
}

pub(super) fn eval(p: &Pred, site: &Site, i: &Issue) -> bool {
    match p {
        Pred::And(ps) => ps.iter().all(|p| eval(p, site, i)),
        Pred::Or(ps) => ps.iter().any(|p| eval(p, site, i)),
        Pred::Not(p) => !eval(p, site, i),
        Pred::Const(b) => *b,
        Pred::Project(ps) => ps.contains(&i.project),
        Pred::Ids(ids) => ids.contains(&i.id),
        Pred::KeyCmp(project, op, n) => i.project == *project && cmp_holds(*op, i.number.cmp(n)),
        Pred::IdCmp(op, id) => cmp_holds(*op, i.id.cmp(id)),
        Pred::Time(f, op, t) => {
            let v = match f {
                TimeField::Created => Some(i.created),
                TimeField::Updated => Some(i.updated),
                TimeField::Resolved => i.resolved,
                TimeField::Due => None,
            };
            v.is_some_and(|v| cmp_holds(*op, v.cmp(t)))
        }
        Pred::Empty(f) => match f {
            Field::Assignee => i.assignee.is_none(),
            Field::Resolution => i.resolution.is_none(),
            Field::Resolved => i.resolved.is_none(),
            Field::Sprint => i.sprints.is_empty(),
            Field::Parent => i.parent.is_none(),
            Field::Labels => i.labels.is_empty(),
            Field::FixVersion => i.fix_versions.is_empty(),
            Field::Component => i.components.is_empty(),
            Field::Description => i.description.is_none(),
            Field::Comment => i.comments.is_empty(),
            Field::StoryPoints => i.story_points.is_none(),
            Field::WorklogDate | Field::WorklogAuthor => i.worklogs.is_empty(),
            Field::IssueLinkType => i.links.is_empty(),
            // Rendered as null or [] for every issue.
            Field::DueDate | Field::AffectedVersion | Field::Environment | Field::Attachments => {
                true
            }
            _ => false,
        },
        Pred::Status(s) => s.contains(&i.status),
        Pred::Category(c) => c.contains(&site.statuses[i.status as usize].category),
        Pred::Type(t) => t.contains(&i.issue_type),
        Pred::Priority(p) => p.contains(&i.priority),
        Pred::PriorityCmp(op, p) => cmp_holds(*op, p.cmp(&i.priority)),
        Pred::Resolution(r) => i.resolution.is_some_and(|x| r.contains(&x)),
        Pred::Assignee(u) => i.assignee.is_some_and(|a| u.contains(&a)),
        Pred::Reporter(u) => u.contains(&i.reporter),
        Pred::Sprint(s) => i.sprints.iter().any(|x| s.contains(x)),
        Pred::Parent(p) => i.parent.is_some_and(|x| p.contains(&x)),
        Pred::Label(l) => i
            .labels
            .iter()
            .any(|x| l.iter().any(|y| y.eq_ignore_ascii_case(x))),
        Pred::FixVersion(v) => i.fix_versions.iter().any(|x| v.contains(x)),
        Pred::Component(c) => i.components.iter().any(|x| c.contains(x)),
        Pred::StoryPoints(op, v) => i.story_points.is_some_and(|sp| {
            (sp as f64)
                .partial_cmp(v)
                .is_some_and(|o| cmp_holds(*op, o))
        }),
        Pred::WorklogDate(op, t) => i.worklogs.iter().any(|w| cmp_holds(*op, w.started.cmp(t))),
        Pred::WorklogAuthor(u) => i.worklogs.iter().any(|w| u.contains(&w.author)),
        Pred::LinkType(ts) => i.links.iter().any(|l| {
            ts.iter()
                .any(|(t, side)| *t == l.link_type && side.is_none_or(|o| o == l.outward))
        }),
        Pred::Text(within, q) => text_matches(*within, q, i),
        Pred::History(h) => history_matches(h, i),
        Pred::UpdatedBy(users, from, to) => {
            let within = |t: Millis| t >= *from && t < *to;
            (users.contains(&i.reporter) && within(i.created))
                || i.changelog
                    .iter()
                    .any(|g| users.contains(&g.author) && within(g.created))
                || i.comments
                    .iter()
                    .any(|c| users.contains(&c.author) && within(c.updated))
                || i.worklogs
                    .iter()
                    .any(|w| users.contains(&w.author) && within(w.updated))
        }
    }
}

fn text_matches(within: TextIn, q: &TextQuery, i: &Issue) -> bool {
    let summary = crate::render::summary(i);
    let comments: Vec<String> = match within {
        TextIn::Comment | TextIn::All => {
            i.comments.iter().map(crate::render::comment_text).collect()
        }
        _ => Vec::new(),
    };
    let mut texts: Vec<&str> = Vec::new();
    if matches!(within, TextIn::Summary | TextIn::All) {
        texts.push(&summary);
    }
    if matches!(within, TextIn::Description | TextIn::All) {
        texts.extend(i.description.as_deref());
    }
    texts.extend(comments.iter().map(String::as_str));
    match within {
        // `comment ~` matches when one comment holds every term, as each comment is a document.
        TextIn::Comment => comments.iter().any(|c| q.matches([c.as_str()].into_iter())),
        _ => q.matches(texts.iter().copied()),
    }
}

/// One stretch of a field's history: the value, from when, until when, and who set it.
struct Span {
    value: Option<i64>,
    start: Millis,
    end: Millis,
    by: UserIx,
}

fn change_of(f: HistField, item: &ChangeValue) -> Option<(Option<i64>, Option<i64>)> {
    Some(match (f, item) {
        (HistField::Status, ChangeValue::Status { from, to }) => {
            (Some(*from as i64), Some(*to as i64))
        }
        (HistField::Assignee, ChangeValue::Assignee { from, to }) => {
            (from.map(i64::from), to.map(i64::from))
        }
        (HistField::Priority, ChangeValue::Priority { from, to }) => {
            (Some(*from as i64), Some(*to as i64))
        }
        (HistField::Resolution, ChangeValue::Resolution { from, to }) => {
            (from.map(i64::from), to.map(i64::from))
        }
        _ => return None,
    })
}

fn current(f: HistField, i: &Issue) -> Vec<Option<i64>> {
    match f {
        HistField::Status => vec![Some(i.status as i64)],
        HistField::Assignee => vec![i.assignee.map(i64::from)],
        HistField::Reporter => vec![Some(i.reporter as i64)],
        HistField::Priority => vec![Some(i.priority as i64)],
        HistField::Resolution => vec![i.resolution.map(i64::from)],
        HistField::FixVersion if i.fix_versions.is_empty() => vec![None],
        HistField::FixVersion => i.fix_versions.iter().map(|v| Some(*v as i64)).collect(),
    }
}

fn history_matches(h: &History, i: &Issue) -> bool {
    let (lo, hi) = h.range;
    let by_ok = |u: UserIx| h.by.as_ref().is_none_or(|b| b.contains(&u));
    let changes = i.changelog.iter().flat_map(|g| {
        g.items
            .iter()
            .filter_map(move |it| change_of(h.field, it).map(|(f, t)| (g.created, g.author, f, t)))
    });
    if h.changed {
        let within = |v: &Option<i64>, set: &Option<Vec<Option<i64>>>| {
            set.as_ref().is_none_or(|s| s.contains(v))
        };
        return changes.into_iter().any(|(t, by, from, to)| {
            t >= lo && t < hi && by_ok(by) && within(&from, &h.from) && within(&to, &h.to)
        });
    }
    // WAS: build the spans the field held, then look for one with a wanted value in range.
    let mut spans = Vec::new();
    let mut start = i.created;
    let mut setter = i.reporter;
    let mut first: Option<Option<i64>> = None;
    for (t, by, from, to) in changes {
        if first.is_none() {
            first = Some(from);
            spans.push(Span {
                value: from,
                start,
                end: t,
                by: setter,
            });
        }
        if let Some(last) = spans.last_mut() {
            last.end = t;
        }
        spans.push(Span {
            value: to,
            start: t,
            end: Millis::MAX,
            by,
        });
        start = t;
        setter = by;
    }
    if spans.is_empty() {
        for v in current(h.field, i) {
            spans.push(Span {
                value: v,
                start: i.created,
                end: Millis::MAX,
                by: i.reporter,
            });
        }
    }
    spans
        .iter()
        .any(|s| h.values.contains(&s.value) && s.start < hi && s.end > lo && by_ok(s.by))
}

fn not_found(value: &str, name: &str) -> JqlError {
    JqlError(format!(
        "The value '{value}' does not exist for the field '{name}'."
    ))
}

fn unsupported(op: Op, name: &str) -> JqlError {
    JqlError(format!(
        "The operator '{}' is not supported by the '{name}' field.",
        op.text()
    ))
}

/// Functions Jira has that the simulator does not evaluate.
const UNSUPPORTED_FUNCTIONS: &[&str] = &[
    "issuehistory",
    "votedissues",
    "releasedversions",
    "unreleasedversions",
    "latestreleasedversion",
    "earliestunreleasedversion",
    "componentsleadbyuser",
    "projectsleadbyuser",
    "projectswhereuserhaspermission",
    "projectswhereuserhasrole",
    "lastlogin",
    "currentlogin",
    "issueswithremotelinksbyglobalid",
    "cascadeoption",
    "approved",
    "approver",
    "pending",
    "pendingby",
    "myapproval",
    "mypending",
    "breached",
    "completed",
    "elapsed",
    "everbreached",
    "paused",
    "remaining",
    "running",
    "withincalendarhours",
    "choiceoption",
    "currentuserhaspermission",
    "linkedissuesof",
    "opensprintsof",
];

/// The error for a function used where it does not fit.
pub(super) fn function_error(fname: &str, written: &str, name: &str) -> JqlError {
    let known = [
        "currentuser",
        "membersof",
        "opensprints",
        "closedsprints",
        "futuresprints",
        "startofday",
        "startofweek",
        "startofmonth",
        "startofyear",
        "endofday",
        "endofweek",
        "endofmonth",
        "endofyear",
        "now",
        "updatedby",
        "watchedissues",
        "linkedissues",
        "standardissuetypes",
        "subtaskissuetypes",
    ];
    if UNSUPPORTED_FUNCTIONS.contains(&fname) {
        JqlError(format!(
            "The function '{written}' is not supported by the simulator."
        ))
    } else if known.contains(&fname) {
        JqlError(format!(
            "Function '{written}' is not supported for the field '{name}'."
        ))
    } else {
        JqlError(format!("Unable to find JQL function '{written}()'."))
    }
}

impl Ctx<'_> {
    fn tz(&self) -> chrono_tz::Tz {
        self.site
            .users
            .get(self.user as usize)
            .map(|u| u.time_zone)
            .unwrap_or(chrono_tz::UTC)
    }

    /// A JQL date value as UTC millis, read in the caller's time zone.
    pub(super) fn date(&self, v: &Val, name: &str) -> Result<Millis, JqlError> {
        let tz = self.tz();
        let local_now = tz
            .timestamp_millis_opt(self.now)
            .single()
            .map(|t| t.naive_local())
            .unwrap_or_default();
        let to_utc = |n: NaiveDateTime| -> Millis {
            tz.from_local_datetime(&n)
                .earliest()
                .map(|t| t.timestamp_millis())
                .unwrap_or(n.and_utc().timestamp_millis())
        };
        let day_start = |d: NaiveDate| to_utc(d.and_hms_opt(0, 0, 0).unwrap_or_default());
        match v {
            Val::Text(s) => {
                let s = s.trim();
                if let Ok(ms) = s.parse::<i64>() {
                    return Ok(ms);
                }
                for fmt in ["%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M"] {
                    if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
                        return Ok(to_utc(n));
                    }
                }
                for fmt in ["%Y/%m/%d", "%Y-%m-%d"] {
                    if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
                        return Ok(day_start(d));
                    }
                }
                if let Some(offset) = period(s, None) {
                    return Ok(shift(local_now, offset, to_utc));
                }
                err(format!("Date value '{s}' for field '{name}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."))
            }
            Val::Func(f, written, args) => {
                // The increment's default unit is the function's own period.
                let unit = match f.as_str() {
                    "startofday" | "endofday" => 'd',
                    "startofweek" | "endofweek" => 'w',
                    "startofmonth" | "endofmonth" => 'M',
                    "startofyear" | "endofyear" => 'y',
                    _ => 'm',
                };
                let inc = match args.first() {
                    None => Period::default(),
                    Some(a) => period(a, Some(unit)).ok_or_else(|| {
                        JqlError(format!(
                            "Unable to parse the increment '{a}' of the function '{written}'."
                        ))
                    })?,
                };
                let today = local_now.date();
                let week_start =
                    today - chrono::Days::new(today.weekday().num_days_from_sunday() as u64);
                let month_start = today.with_day(1).unwrap_or(today);
                let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
                let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default();
                // Start and end functions shift the period first, then take its bound.
                let (base, end) = match f.as_str() {
                    "now" => return Ok(shift(local_now, inc, to_utc)),
                    "startofday" => (midnight(today), None),
                    "endofday" => (midnight(today), Some(Period::days(1))),
                    "startofweek" => (midnight(week_start), None),
                    "endofweek" => (midnight(week_start), Some(Period::days(7))),
                    "startofmonth" => (midnight(month_start), None),
                    "endofmonth" => (midnight(month_start), Some(Period::months(1))),
                    "startofyear" => (midnight(year_start), None),
                    "endofyear" => (midnight(year_start), Some(Period::months(12))),
                    _ => return Err(function_error(f, written, name)),
                };
                let shifted = shift_naive(base, inc);
                Ok(match end {
                    None => to_utc(shifted),
                    Some(len) => to_utc(shift_naive(shifted, len)) - 1,
                })
            }
            Val::Empty => err(format!("The field '{name}' needs a date here, not EMPTY.")),
        }
    }

    /// Users a value names: a user, `currentUser()`, `membersOf(group)`; `Ok(false)` for EMPTY.
    fn users(&self, v: &Val, name: &str, out: &mut Vec<UserIx>) -> Result<bool, JqlError> {
        match v {
            Val::Empty => Ok(false),
            Val::Func(f, _, _) if f == "currentuser" => {
                out.push(self.user);
                Ok(true)
            }
            Val::Func(f, written, args) if f == "membersof" => {
                let group = args.first().map(String::as_str).unwrap_or("");
                let g = self
                    .site
                    .groups
                    .iter()
                    .position(|g| g.name.eq_ignore_ascii_case(group))
                    .ok_or_else(|| {
                        JqlError(format!("Function '{written}' can not generate a list of usernames for group '{group}'; the group does not exist."))
                    })?;
                out.extend(
                    (0..self.site.users.len() as UserIx)
                        .filter(|u| self.site.users[*u as usize].groups.contains(&(g as u16))),
                );
                Ok(true)
            }
            Val::Func(f, written, _) => Err(function_error(f, written, name)),
            Val::Text(t) => {
                let u = self
                    .site
                    .users
                    .iter()
                    .position(|u| {
                        u.account_id == *t
                            || u.username.eq_ignore_ascii_case(t)
                            || u.email.eq_ignore_ascii_case(t)
                            || u.display_name.eq_ignore_ascii_case(t)
                    })
                    .ok_or_else(|| not_found(t, name))?;
                out.push(u as UserIx);
                Ok(true)
            }
        }
    }

    fn issue_id(&self, t: &str) -> Option<IssueId> {
        match t.parse::<IssueId>() {
            Ok(id) => Some(id),
            Err(_) => self.site.keys.get(&t.to_ascii_uppercase()).copied(),
        }
    }
}

/// A signed calendar period: months (for `M` and `y`) and millis.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Period {
    months: i32,
    millis: i64,
}

impl Period {
    fn days(n: i64) -> Period {
        Period {
            months: 0,
            millis: n * 86_400_000,
        }
    }
    fn months(n: i32) -> Period {
        Period {
            months: n,
            millis: 0,
        }
    }
}

/// `-5d`, `4w 2d`, `-30m`, `1h`, `-1M`, `+1y`; a bare number takes `default_unit` (a function's
/// own period; plain dates have none).
fn period(s: &str, default_unit: Option<char>) -> Option<Period> {
    let s = s.trim();
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut p = Period::default();
    let mut any = false;
    for part in rest.split_whitespace() {
        let split = part
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(part.len());
        let (num, unit) = part.split_at(split);
        let n: i64 = num.parse().ok()?;
        let unit = match unit.chars().next() {
            None => default_unit?,
            Some(u) if unit.len() == 1 => u,
            Some(_) => return None,
        };
        match unit {
            'y' => p.months += 12 * n as i32,
            'M' => p.months += n as i32,
            'w' => p.millis += n * 7 * 86_400_000,
            'd' => p.millis += n * 86_400_000,
            'h' => p.millis += n * 3_600_000,
            'm' => p.millis += n * 60_000,
            _ => return None,
        }
        any = true;
    }
    any.then_some(Period {
        months: sign * p.months,
        millis: sign as i64 * p.millis,
    })
}

fn shift_naive(t: NaiveDateTime, p: Period) -> NaiveDateTime {
    let t = match p.months.cmp(&0) {
        Ordering::Greater => t
            .checked_add_months(Months::new(p.months as u32))
            .unwrap_or(t),
        Ordering::Less => t
            .checked_sub_months(Months::new(p.months.unsigned_abs()))
            .unwrap_or(t),
        Ordering::Equal => t,
    };
    t + chrono::Duration::milliseconds(p.millis)
}

fn shift(local_now: NaiveDateTime, p: Period, to_utc: impl Fn(NaiveDateTime) -> Millis) -> Millis {
    if p.months == 0 {
        // Exact arithmetic on the instant (no local-time round trip across DST).
        to_utc(local_now) + p.millis
    } else {
        to_utc(shift_naive(local_now, p))
    }
}

pub(super) fn compile(e: &Expr, ctx: &Ctx) -> Result<Pred, JqlError> {
    Ok(match e {
        Expr::And(items) => Pred::And(
            items
                .iter()
                .map(|i| compile(i, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(items) => Pred::Or(
            items
                .iter()
                .map(|i| compile(i, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(inner) => Pred::Not(Box::new(compile(inner, ctx)?)),
        Expr::Clause {
            field,
            name,
            op,
            values,
            history,
        } => {
            if matches!(
                op,
                Op::Was | Op::WasNot | Op::WasIn | Op::WasNotIn | Op::Changed
            ) {
                history_clause(*field, name, *op, values, history, ctx)?
            } else {
                clause(*field, name, *op, values, ctx)?
            }
        }
    })
}

fn history_clause(
    f: Field,
    name: &str,
    op: Op,
    values: &[Val],
    preds: &[(HistKw, Vec<Val>)],
    ctx: &Ctx,
) -> Result<Pred, JqlError> {
    let hf = match f {
        Field::Status => HistField::Status,
        Field::Assignee => HistField::Assignee,
        Field::Reporter => HistField::Reporter,
        Field::Priority => HistField::Priority,
        Field::Resolution => HistField::Resolution,
        Field::FixVersion => HistField::FixVersion,
        _ => return Err(unsupported(op, name)),
    };
    let resolve = |vals: &[Val]| -> Result<Vec<Option<i64>>, JqlError> {
        let mut out = Vec::new();
        for v in vals {
            if *v == Val::Empty {
                out.push(None);
                continue;
            }
            match hf {
                HistField::Assignee | HistField::Reporter => {
                    let mut us = Vec::new();
                    ctx.users(v, name, &mut us)?;
                    out.extend(us.into_iter().map(|u| Some(u as i64)));
                }
                _ => {
                    let Val::Text(t) = v else {
                        let Val::Func(fname, written, _) = v else {
                            continue;
                        };
                        return Err(function_error(fname, written, name));
                    };
                    if hf == HistField::Resolution && t.eq_ignore_ascii_case("unresolved") {
                        out.push(None);
                        continue;
                    }
                    let ix = match hf {
                        HistField::Status => {
                            named_ix(ctx.site.statuses.iter().map(|s| (s.id, s.name.as_str())), t)
                        }
                        HistField::Priority => named_ix(
                            ctx.site.priorities.iter().map(|s| (s.id, s.name.as_str())),
                            t,
                        ),
                        HistField::Resolution => named_ix(
                            ctx.site.resolutions.iter().map(|s| (s.id, s.name.as_str())),
                            t,
                        ),
                        _ => {
                            let ids = versions(ctx.site, t);
                            if ids.is_empty() {
                                return Err(not_found(t, name));
                            }
                            out.extend(ids.into_iter().map(|v| Some(v as i64)));
                            continue;
                        }
                    };
                    out.push(Some(ix.ok_or_else(|| not_found(t, name))? as i64));
                }
            }
        }
        Ok(out)
    };
    let mut h = History {
        field: hf,
        values: if op == Op::Changed {
            Vec::new()
        } else {
            resolve(values)?
        },
        changed: op == Op::Changed,
        from: None,
        to: None,
        by: None,
        range: (Millis::MIN, Millis::MAX),
    };
    let day = 86_400_000;
    for (kw, vals) in preds {
        match kw {
            HistKw::From => h.from = Some(resolve(vals)?),
            HistKw::To => h.to = Some(resolve(vals)?),
            HistKw::By => {
                let mut us = Vec::new();
                for v in vals {
                    ctx.users(v, name, &mut us)?;
                }
                h.by = Some(us);
            }
            HistKw::After => h.range.0 = h.range.0.max(ctx.date(&vals[0], name)?),
            HistKw::Before => h.range.1 = h.range.1.min(ctx.date(&vals[0], name)?),
            HistKw::On => {
                let t = ctx.date(&vals[0], name)?;
                h.range = (h.range.0.max(t), h.range.1.min(t + day));
            }
            HistKw::During => {
                let a = ctx.date(&vals[0], name)?;
                let b = ctx.date(&vals[1], name)?;
                h.range = (h.range.0.max(a), h.range.1.min(b.saturating_add(1)));
            }
        }
    }
    let p = Pred::History(Box::new(h));
    Ok(if matches!(op, Op::WasNot | Op::WasNotIn) {
        Pred::Not(Box::new(p))
    } else {
        p
    })
}

fn named_ix<'a>(items: impl Iterator<Item = (u32, &'a str)>, t: &str) -> Option<usize> {
    items
        .enumerate()
        .find(|(_, (id, n))| n.eq_ignore_ascii_case(t) || id.to_string() == t)
        .map(|(ix, _)| ix)
}

/// Version ids (over every project) with this name or id.
fn versions(site: &Site, t: &str) -> Vec<u32> {
    site.projects
        .iter()
        .flat_map(|p| p.versions.iter())
        .filter(|v| v.name.eq_ignore_ascii_case(t) || v.id.to_string() == t)
        .map(|v| v.id)
        .collect()
}

/// `linkedIssues(key[, link description])`: the issues linked to `key`, optionally by one side.
fn linked(ctx: &Ctx, written: &str, args: &[String]) -> Result<HashSet<IssueId>, JqlError> {
    let key = args.first().ok_or_else(|| {
        JqlError(format!(
            "Function '{written}' expects between 1 and 2 arguments, but got 0."
        ))
    })?;
    let issue = ctx
        .site
        .find_issue(key)
        .filter(|i| ctx.site.can_browse(ctx.user, i.project))
        .ok_or_else(|| {
            JqlError(format!(
                "Issue '{key}' could not be found in function '{written}'."
            ))
        })?;
    let side = |l: &IssueLink| -> bool {
        let Some(kind) = args.get(1) else {
            return true;
        };
        let t = &ctx.site.link_types[l.link_type as usize];
        let desc = if l.outward { t.outward } else { t.inward };
        desc.eq_ignore_ascii_case(kind) || t.name.eq_ignore_ascii_case(kind)
    };
    Ok(issue
        .links
        .iter()
        .filter(|l| side(l))
        .map(|l| l.other)
        .collect())
}

fn clause(f: Field, name: &str, op: Op, values: &[Val], ctx: &Ctx) -> Result<Pred, JqlError> {
    let site = ctx.site;
    let is_text_field = matches!(
        f,
        Field::Summary | Field::Description | Field::Comment | Field::Environment | Field::Text
    );
    // IS [NOT] EMPTY, and `= EMPTY` written as a value.
    if matches!(op, Op::Is | Op::IsNot)
        || (values.len() == 1 && values[0] == Val::Empty && matches!(op, Op::Eq | Op::Ne))
    {
        if matches!(f, Field::Key | Field::Id | Field::Rank) {
            return Err(unsupported(op, name));
        }
        let empty = Pred::Empty(f);
        return Ok(if matches!(op, Op::Is | Op::Eq) {
            empty
        } else {
            Pred::Not(Box::new(empty))
        });
    }
    let negated = matches!(op, Op::Ne | Op::NotIn | Op::NotLike);
    let set_op = matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn);
    let order_op = matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge);
    let texts = || -> Result<Vec<&str>, JqlError> {
        values
            .iter()
            .map(|v| match v {
                Val::Text(t) => Ok(t.as_str()),
                Val::Empty => Ok(""),
                Val::Func(fname, written, _) => Err(function_error(fname, written, name)),
            })
            .collect()
    };
    // A value set; negation (!=, NOT IN) also excludes issues where the field is empty, as in Jira.
    let wrap = |p: Pred, nullable: bool| -> Pred {
        if negated {
            let not = Pred::Not(Box::new(p));
            if nullable {
                Pred::And(vec![not, Pred::Not(Box::new(Pred::Empty(f)))])
            } else {
                not
            }
        } else {
            p
        }
    };
    let has_empty = values.contains(&Val::Empty);
    // `f in (a, EMPTY)` also matches issues where the field is empty.
    let or_empty = |p: Pred| -> Pred {
        if has_empty {
            Pred::Or(vec![p, Pred::Empty(f)])
        } else {
            p
        }
    };
    if is_text_field && !matches!(op, Op::Like | Op::NotLike) {
        return Err(unsupported(op, name));
    }
    let pred = match f {
        Field::Project => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let mut ps = Vec::new();
            for t in texts()? {
                let p = site
                    .project_by_key_or_id(t)
                    .or_else(|| {
                        site.projects
                            .iter()
                            .position(|p| p.name.eq_ignore_ascii_case(t))
                            .map(|p| p as ProjectIx)
                    })
                    .filter(|p| site.can_browse(ctx.user, *p))
                    .ok_or_else(|| not_found(t, "project"))?;
                ps.push(p);
            }
            wrap(Pred::Project(ps), false)
        }
        Field::Key | Field::Id => {
            if set_op {
                if let [Val::Func(fname, written, args)] = values {
                    match fname.as_str() {
                        // The reporter is every issue's one watcher.
                        "watchedissues" => return Ok(wrap(Pred::Reporter(vec![ctx.user]), false)),
                        "linkedissues" => {
                            return Ok(wrap(Pred::Ids(linked(ctx, written, args)?), false))
                        }
                        "updatedby" => {}
                        _ => return Err(function_error(fname, written, name)),
                    }
                    let mut users = Vec::new();
                    let who = args.first().map(|a| Val::Text(a.clone())).ok_or_else(|| {
                        JqlError(format!(
                            "Function '{written}' expects between 1 and 3 arguments, but got 0."
                        ))
                    })?;
                    ctx.users(&who, name, &mut users)?;
                    let from = match args.get(1) {
                        Some(a) => ctx.date(&Val::Text(a.clone()), name)?,
                        None => Millis::MIN,
                    };
                    let to = match args.get(2) {
                        Some(a) => ctx.date(&Val::Text(a.clone()), name)?,
                        None => Millis::MAX,
                    };
                    return Ok(wrap(Pred::UpdatedBy(users, from, to), false));
                }
                let mut ids = HashSet::new();
                for t in texts()? {
                    match ctx.issue_id(t) {
                        Some(id) => {
                            ids.insert(id);
                        }
                        None if f == Field::Key && !t.contains('-') => {
                            return err(format!(
                                "The issue key '{t}' for field '{name}' is invalid."
                            ))
                        }
                        None => {}
                    }
                }
                wrap(Pred::Ids(ids), false)
            } else if order_op {
                let t = texts()?.first().copied().unwrap_or("");
                match t.parse::<IssueId>() {
                    Ok(id) => Pred::IdCmp(op, id),
                    Err(_) => {
                        let Some((pk, n)) = t.rsplit_once('-') else {
                            return err(format!(
                                "The issue key '{t}' for field '{name}' is invalid."
                            ));
                        };
                        let project = site
                            .project_by_key_or_id(pk)
                            .ok_or_else(|| not_found(t, name))?;
                        let n: u32 = n.parse().map_err(|_| {
                            JqlError(format!(
                                "The issue key '{t}' for field '{name}' is invalid."
                            ))
                        })?;
                        Pred::KeyCmp(project, op, n)
                    }
                }
            } else {
                return Err(unsupported(op, name));
            }
        }
        Field::Updated | Field::Created | Field::Resolved | Field::DueDate => {
            let tf = match f {
                Field::Created => TimeField::Created,
                Field::Updated => TimeField::Updated,
                Field::DueDate => TimeField::Due,
                _ => TimeField::Resolved,
            };
            match op {
                Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq | Op::Ne => {
                    Pred::Time(tf, op, ctx.date(&values[0], name)?)
                }
                Op::In | Op::NotIn => {
                    let mut any = Vec::new();
                    for v in values {
                        any.push(Pred::Time(tf, Op::Eq, ctx.date(v, name)?));
                    }
                    wrap(Pred::Or(any), true)
                }
                _ => return Err(unsupported(op, name)),
            }
        }
        Field::WorklogDate => match op {
            Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq | Op::Ne => {
                Pred::WorklogDate(op, ctx.date(&values[0], name)?)
            }
            _ => return Err(unsupported(op, name)),
        },
        Field::Priority if order_op => {
            let t = texts()?.first().copied().unwrap_or("");
            let p = named_ix(site.priorities.iter().map(|p| (p.id, p.name.as_str())), t)
                .ok_or_else(|| not_found(t, name))?;
            Pred::PriorityCmp(op, p as u8)
        }
        Field::Status
        | Field::StatusCategory
        | Field::IssueType
        | Field::Priority
        | Field::Resolution => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let mut status = Vec::new();
            let mut cats = Vec::new();
            let mut types = Vec::new();
            let mut prios = Vec::new();
            let mut res = Vec::new();
            let mut unresolved = false;
            for v in values {
                match (f, v) {
                    (Field::IssueType, Val::Func(fname, _, _))
                        if fname == "standardissuetypes" || fname == "subtaskissuetypes" =>
                    {
                        let sub = fname == "subtaskissuetypes";
                        types.extend(
                            (0..site.issue_types.len() as u16)
                                .filter(|t| site.issue_types[*t as usize].subtask == sub),
                        );
                    }
                    (_, Val::Func(fname, written, _)) => {
                        return Err(function_error(fname, written, name))
                    }
                    (_, Val::Empty) => unresolved = true,
                    (Field::Status, Val::Text(t)) => status.push(
                        named_ix(site.statuses.iter().map(|s| (s.id, s.name.as_str())), t)
                            .ok_or_else(|| not_found(t, name))? as u16,
                    ),
                    (Field::StatusCategory, Val::Text(t)) => cats.push(
                        [
                            StatusCategory::ToDo,
                            StatusCategory::InProgress,
                            StatusCategory::Done,
                        ]
                        .into_iter()
                        .find(|c| {
                            c.name().eq_ignore_ascii_case(t)
                                || c.key().eq_ignore_ascii_case(t)
                                || c.id().to_string() == *t
                        })
                        .ok_or_else(|| not_found(t, name))?,
                    ),
                    (Field::IssueType, Val::Text(t)) => types.push(
                        named_ix(site.issue_types.iter().map(|s| (s.id, s.name.as_str())), t)
                            .ok_or_else(|| not_found(t, name))? as u16,
                    ),
                    (Field::Priority, Val::Text(t)) => prios.push(
                        named_ix(site.priorities.iter().map(|s| (s.id, s.name.as_str())), t)
                            .ok_or_else(|| not_found(t, name))? as u8,
                    ),
                    (Field::Resolution, Val::Text(t)) if t.eq_ignore_ascii_case("unresolved") => {
                        unresolved = true
                    }
                    (Field::Resolution, Val::Text(t)) => res.push(
                        named_ix(site.resolutions.iter().map(|s| (s.id, s.name.as_str())), t)
                            .ok_or_else(|| not_found(t, name))? as u8,
                    ),
                    _ => return Err(unsupported(op, name)),
                }
            }
            let p = match f {
                Field::Status => Pred::Status(status),
                Field::StatusCategory => Pred::Category(cats),
                Field::IssueType => Pred::Type(types),
                Field::Priority => Pred::Priority(prios),
                _ if unresolved => {
                    Pred::Or(vec![Pred::Resolution(res), Pred::Empty(Field::Resolution)])
                }
                _ => Pred::Resolution(res),
            };
            wrap(p, f == Field::Resolution && !unresolved)
        }
        Field::Assignee | Field::Reporter | Field::Watcher | Field::WorklogAuthor => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let mut users = Vec::new();
            for v in values {
                ctx.users(v, name, &mut users)?;
            }
            let p = match f {
                Field::Assignee => Pred::Assignee(users),
                Field::WorklogAuthor => Pred::WorklogAuthor(users),
                // The reporter is the one watcher of every issue (`watches.watchCount` is 1).
                _ => Pred::Reporter(users),
            };
            wrap(or_empty(p), !has_empty)
        }
        Field::Sprint => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let mut ids = Vec::new();
            for v in values {
                match v {
                    Val::Func(fname, written, _) => {
                        let state = match fname.as_str() {
                            "opensprints" => SprintState::Active,
                            "closedsprints" => SprintState::Closed,
                            "futuresprints" => SprintState::Future,
                            _ => return Err(function_error(fname, written, name)),
                        };
                        ids.extend(
                            site.sprints
                                .iter()
                                .filter(|s| s.state == state)
                                .map(|s| s.id),
                        );
                    }
                    Val::Text(t) => ids.extend(
                        site.sprints
                            .iter()
                            .filter(|s| s.id.to_string() == *t || s.name.eq_ignore_ascii_case(t))
                            .map(|s| s.id)
                            .next()
                            .ok_or_else(|| not_found(t, name)),
                    ),
                    Val::Empty => {}
                }
            }
            wrap(or_empty(Pred::Sprint(ids)), !has_empty)
        }
        Field::Parent => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let ids = texts()?
                .into_iter()
                .filter(|t| !t.is_empty())
                .map(|t| ctx.issue_id(t).ok_or_else(|| not_found(t, name)))
                .collect::<Result<_, _>>()?;
            wrap(or_empty(Pred::Parent(ids)), !has_empty)
        }
        Field::Labels => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let labels = texts()?
                .into_iter()
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            wrap(or_empty(Pred::Label(labels)), !has_empty)
        }
        Field::FixVersion | Field::AffectedVersion => {
            if !set_op {
                // Version order comparisons follow each project's release order in Jira.
                return if order_op {
                    err(format!("The operator '{}' on the '{name}' field (version order) is not supported by the simulator.", op.text()))
                } else {
                    Err(unsupported(op, name))
                };
            }
            let mut ids = Vec::new();
            for t in texts()?.into_iter().filter(|t| !t.is_empty()) {
                let found = versions(site, t);
                if found.is_empty() {
                    return Err(not_found(t, name));
                }
                ids.extend(found);
            }
            // No issue has an affects version (`versions` renders as []).
            let p = if f == Field::FixVersion {
                Pred::FixVersion(ids)
            } else {
                Pred::Const(false)
            };
            wrap(or_empty(p), !has_empty)
        }
        Field::Component => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let mut ids = Vec::new();
            for t in texts()?.into_iter().filter(|t| !t.is_empty()) {
                let before = ids.len();
                ids.extend(
                    site.projects
                        .iter()
                        .flat_map(|p| p.components.iter())
                        .filter(|c| c.name.eq_ignore_ascii_case(t) || c.id.to_string() == t)
                        .map(|c| c.id),
                );
                if ids.len() == before {
                    return Err(not_found(t, name));
                }
            }
            wrap(or_empty(Pred::Component(ids)), !has_empty)
        }
        Field::StoryPoints => {
            let num = |v: &Val| -> Result<f64, JqlError> {
                match v {
                    Val::Text(t) => t.trim().parse::<f64>().map_err(|_| {
                        JqlError(format!(
                            "The value '{t}' for field '{name}' is not a valid number."
                        ))
                    }),
                    Val::Func(fname, written, _) => Err(function_error(fname, written, name)),
                    Val::Empty => Ok(f64::NAN),
                }
            };
            match op {
                // An empty value fails every comparison, so != also leaves out empty ones.
                Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                    Pred::StoryPoints(op, num(&values[0])?)
                }
                Op::In | Op::NotIn => {
                    let mut any = Vec::new();
                    for v in values.iter().filter(|v| **v != Val::Empty) {
                        any.push(Pred::StoryPoints(Op::Eq, num(v)?));
                    }
                    wrap(or_empty(Pred::Or(any)), !has_empty)
                }
                _ => return Err(unsupported(op, name)),
            }
        }
        Field::IssueLinkType => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let mut ts = Vec::new();
            for t in texts()?.into_iter().filter(|t| !t.is_empty()) {
                let before = ts.len();
                // A side's description ("blocks", "is blocked by") first, else the type's name.
                for (ix, lt) in site.link_types.iter().enumerate() {
                    if lt.outward.eq_ignore_ascii_case(t) {
                        ts.push((ix as u8, Some(true)));
                    }
                    if lt.inward.eq_ignore_ascii_case(t) {
                        ts.push((ix as u8, Some(false)));
                    }
                }
                if ts.len() == before {
                    ts.extend(
                        (0..site.link_types.len())
                            .filter(|ix| site.link_types[*ix].name.eq_ignore_ascii_case(t))
                            .map(|ix| (ix as u8, None)),
                    );
                }
                if ts.len() == before {
                    return Err(not_found(t, name));
                }
            }
            wrap(or_empty(Pred::LinkType(ts)), !has_empty)
        }
        Field::Summary | Field::Description | Field::Comment | Field::Environment | Field::Text => {
            let value = texts()?.first().copied().unwrap_or("");
            let q = TextQuery::parse(value, name).map_err(JqlError)?;
            let within = match f {
                Field::Summary => TextIn::Summary,
                Field::Description => TextIn::Description,
                Field::Comment => TextIn::Comment,
                Field::Environment => TextIn::Environment,
                _ => TextIn::All,
            };
            wrap(Pred::Text(within, Box::new(q)), false)
        }
        Field::Attachments | Field::Rank => return Err(unsupported(op, name)),
    };
    Ok(pred)
}
