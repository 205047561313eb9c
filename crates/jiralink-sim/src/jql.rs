//! JQL: the subset integrations use, parsed into a query, compiled against the site (names resolved
//! to ids once, dates read in the caller's time zone) and evaluated per issue without allocation.
//! What it does not support is a 400 with Jira's wording, never a silent mismatch.

use std::cmp::Ordering;
use std::collections::HashSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone};

use crate::model::*;

/// A message as Jira puts it in `errorMessages`; the caller answers 400 with it.
#[derive(Debug, Clone, PartialEq)]
pub struct JqlError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, JqlError> {
    Err(JqlError(msg.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Op(&'static str),
}

fn tokenize(s: &str) -> Result<Vec<(Tok, usize)>, JqlError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, at));
                i += 1
            }
            ')' => {
                out.push((Tok::RParen, at));
                i += 1
            }
            ',' => {
                out.push((Tok::Comma, at));
                i += 1
            }
            '"' | '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err(format!("Error in the JQL Query: The quoted string starting at character {at} is not terminated.")),
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                v.push(*n);
                            }
                            i += 2;
                        }
                        Some(q) if *q == c => {
                            i += 1;
                            break;
                        }
                        Some(x) => {
                            v.push(*x);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Str(v), at));
            }
            '=' | '!' | '<' | '>' | '~' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    "!=" => "!=",
                    "<=" => "<=",
                    ">=" => ">=",
                    "!~" => "!~",
                    _ => match c {
                        '=' => "=",
                        '<' => "<",
                        '>' => ">",
                        '~' => "~",
                        _ => return err(format!("Error in the JQL Query: The character '!' is a reserved JQL character (line 1, character {at}).")),
                    },
                };
                i += op.len();
                out.push((Tok::Op(op), at));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"()=,!<>~\"'".contains(chars[i])
                {
                    i += 1;
                }
                out.push((Tok::Word(chars[start..i].iter().collect()), at));
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Project,
    Key,
    Id,
    Updated,
    Created,
    Resolved,
    Status,
    StatusCategory,
    IssueType,
    Priority,
    Resolution,
    Assignee,
    Reporter,
    Sprint,
    Parent,
    Labels,
    Summary,
    Text,
    Rank,
}

fn field(name: &str) -> Option<Field> {
    Some(match name.to_ascii_lowercase().as_str() {
        "project" => Field::Project,
        "key" | "issuekey" | "issue" => Field::Key,
        "id" => Field::Id,
        "updated" | "updateddate" => Field::Updated,
        "created" | "createddate" => Field::Created,
        "resolved" | "resolutiondate" => Field::Resolved,
        "status" => Field::Status,
        "statuscategory" => Field::StatusCategory,
        "issuetype" | "type" => Field::IssueType,
        "priority" => Field::Priority,
        "resolution" => Field::Resolution,
        "assignee" => Field::Assignee,
        "reporter" => Field::Reporter,
        "sprint" | "cf[10020]" => Field::Sprint,
        "parent" | "\"epic link\"" | "epic link" | "cf[10014]" => Field::Parent,
        "labels" | "label" => Field::Labels,
        "summary" => Field::Summary,
        "text" => Field::Text,
        "rank" => Field::Rank,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Is,
    IsNot,
    Like,
    NotLike,
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Text(String),
    Func(String, Vec<String>),
    Empty,
}

#[derive(Debug, Clone)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Clause {
        field: Field,
        name: String,
        op: Op,
        values: Vec<Val>,
    },
}

/// A parsed JQL query: an optional filter and an ORDER BY.
#[derive(Debug, Clone)]
pub struct Query {
    filter: Option<Expr>,
    order: Vec<(Field, bool)>,
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map(|(_, a)| *a).unwrap_or(0)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        t
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn unexpected<T>(&self, expecting: &str) -> Result<T, JqlError> {
        let got = match self.peek() {
            None => "end of query".to_owned(),
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => format!("'{w}'"),
            Some(Tok::Op(o)) => format!("'{o}'"),
            Some(Tok::LParen) => "'('".into(),
            Some(Tok::RParen) => "')'".into(),
            Some(Tok::Comma) => "','".into(),
        };
        err(format!(
            "Error in the JQL Query: Expecting {expecting} but got {got}. (line 1, character {})",
            self.at()
        ))
    }

    fn or(&mut self) -> Result<Expr, JqlError> {
        let mut items = vec![self.and()?];
        while self.is_kw("or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, JqlError> {
        let mut items = vec![self.not()?];
        while self.is_kw("and") {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, JqlError> {
        if self.is_kw("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::RParen) {
                self.pos -= 1;
                return self.unexpected("')'");
            }
            return Ok(e);
        }
        self.clause()
    }

    fn clause(&mut self) -> Result<Expr, JqlError> {
        let name = match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => w,
            _ => {
                self.pos -= 1;
                return self.unexpected("a field name");
            }
        };
        let Some(f) = field(&name) else {
            return err(format!(
                "Field '{name}' does not exist or you do not have permission to view it."
            ));
        };
        let op = match self.next() {
            Some(Tok::Op("=")) => Op::Eq,
            Some(Tok::Op("!=")) => Op::Ne,
            Some(Tok::Op("<")) => Op::Lt,
            Some(Tok::Op("<=")) => Op::Le,
            Some(Tok::Op(">")) => Op::Gt,
            Some(Tok::Op(">=")) => Op::Ge,
            Some(Tok::Op("~")) => Op::Like,
            Some(Tok::Op("!~")) => Op::NotLike,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                if self.is_kw("not") {
                    self.pos += 1;
                    Op::IsNot
                } else {
                    Op::Is
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                if self.is_kw("in") {
                    self.pos += 1;
                    Op::NotIn
                } else {
                    return self.unexpected("'IN'");
                }
            }
            Some(Tok::Word(w)) if ["was", "changed"].contains(&w.to_ascii_lowercase().as_str()) => {
                return err(format!("The operator '{}' is not supported by the simulator; use =, !=, <, >, IN or IS.", w.to_uppercase()));
            }
            _ => {
                self.pos -= 1;
                return self.unexpected("an operator");
            }
        };
        let values = match op {
            Op::In | Op::NotIn => {
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    let mut vs = Vec::new();
                    loop {
                        vs.push(self.value()?);
                        match self.next() {
                            Some(Tok::Comma) => continue,
                            Some(Tok::RParen) => break,
                            _ => {
                                self.pos -= 1;
                                return self.unexpected("',' or ')'");
                            }
                        }
                    }
                    vs
                } else {
                    vec![self.value()?]
                }
            }
            Op::Is | Op::IsNot => {
                if self.is_kw("empty") || self.is_kw("null") {
                    self.pos += 1;
                    vec![Val::Empty]
                } else {
                    return self.unexpected("EMPTY or NULL");
                }
            }
            _ => vec![self.value()?],
        };
        Ok(Expr::Clause {
            field: f,
            name,
            op,
            values,
        })
    }

    fn value(&mut self) -> Result<Val, JqlError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Val::Text(s)),
            Some(Tok::Word(w)) => {
                if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") {
                    return Ok(Val::Empty);
                }
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    let mut args = Vec::new();
                    loop {
                        match self.next() {
                            Some(Tok::RParen) => break,
                            Some(Tok::Comma) => continue,
                            Some(Tok::Word(a)) | Some(Tok::Str(a)) => args.push(a),
                            _ => {
                                self.pos -= 1;
                                return self.unexpected("a function argument or ')'");
                            }
                        }
                    }
                    return Ok(Val::Func(w.to_ascii_lowercase(), args));
                }
                Ok(Val::Text(w))
            }
            _ => {
                self.pos -= 1;
                self.unexpected("a value")
            }
        }
    }
}

/// Parses JQL; syntax errors and unknown fields are errors here, unknown values at `compile`.
pub fn parse(jql: &str) -> Result<Query, JqlError> {
    let toks = tokenize(jql)?;
    let mut p = Parser { toks, pos: 0 };
    let filter = if p.peek().is_none() || p.is_kw("order") {
        None
    } else {
        Some(p.or()?)
    };
    let mut order = Vec::new();
    if p.is_kw("order") {
        p.pos += 1;
        if !p.is_kw("by") {
            return p.unexpected("'BY'");
        }
        p.pos += 1;
        loop {
            let name = match p.next() {
                Some(Tok::Word(w)) | Some(Tok::Str(w)) => w,
                _ => {
                    p.pos -= 1;
                    return p.unexpected("a field name");
                }
            };
            let f = match field(&name) {
                Some(
                    f @ (Field::Key
                    | Field::Id
                    | Field::Created
                    | Field::Updated
                    | Field::Resolved
                    | Field::Priority
                    | Field::Status
                    | Field::Rank
                    | Field::Project),
                ) => f,
                _ => return err(format!("Not able to sort using field '{name}'.")),
            };
            let mut desc = false;
            if p.is_kw("desc") {
                desc = true;
                p.pos += 1;
            } else if p.is_kw("asc") {
                p.pos += 1;
            }
            order.push((f, desc));
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
    Ok(Query { filter, order })
}

/// The site, the caller (for `currentUser()` and the time zone of dates) and the instant of `now()`.
pub struct Ctx<'a> {
    pub site: &'a Site,
    pub user: UserIx,
    pub now: Millis,
}

#[derive(Debug, Clone, Copy)]
enum TimeField {
    Created,
    Updated,
    Resolved,
}

/// A predicate with every name resolved to ids.
#[derive(Debug, Clone)]
enum Pred {
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
    Resolution(Vec<u8>),
    Assignee(Vec<UserIx>),
    Reporter(Vec<UserIx>),
    Sprint(Vec<u32>),
    Parent(Vec<IssueId>),
    Label(Vec<String>),
    Like(bool, String),
}

/// A query ready to run.
pub struct Compiled {
    pred: Pred,
}

impl Compiled {
    pub fn matches(&self, site: &Site, issue: &Issue) -> bool {
        eval(&self.pred, site, issue)
    }
}

fn cmp_holds(op: Op, ord: Ordering) -> bool {
    match op {
        Op::Eq | Op::In | Op::Is => ord == Ordering::Equal,
        Op::Ne | Op::NotIn | Op::IsNot => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Like | Op::NotLike => false,
    }
}

fn eval(p: &Pred, site: &Site, i: &Issue) -> bool {
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
            Field::Summary
            | Field::Project
            | Field::Key
            | Field::Id
            | Field::Created
            | Field::Updated
            | Field::Status
            | Field::IssueType
            | Field::Priority
            | Field::Reporter => false,
            _ => false,
        },
        Pred::Status(s) => s.contains(&i.status),
        Pred::Category(c) => c.contains(&site.statuses[i.status as usize].category),
        Pred::Type(t) => t.contains(&i.issue_type),
        Pred::Priority(p) => p.contains(&i.priority),
        Pred::Resolution(r) => i.resolution.is_some_and(|x| r.contains(&x)),
        Pred::Assignee(u) => i.assignee.is_some_and(|a| u.contains(&a)),
        Pred::Reporter(u) => u.contains(&i.reporter),
        Pred::Sprint(s) => i.sprints.iter().any(|x| s.contains(x)),
        Pred::Parent(p) => i.parent.is_some_and(|x| p.contains(&x)),
        Pred::Label(l) => i
            .labels
            .iter()
            .any(|x| l.iter().any(|y| y.eq_ignore_ascii_case(x))),
        Pred::Like(text, needle) => {
            let s = crate::render::summary(i).to_lowercase();
            s.contains(needle.as_str())
                || (*text
                    && i.description
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(needle.as_str())))
        }
    }
}

fn not_found(value: &str, name: &str) -> JqlError {
    JqlError(format!(
        "The value '{value}' does not exist for the field '{name}'."
    ))
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
    fn date(&self, v: &Val, name: &str) -> Result<Millis, JqlError> {
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
                if let Some(offset) = period(s) {
                    return Ok(self.now + offset);
                }
                err(format!("Date value '{s}' for field '{name}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."))
            }
            Val::Func(f, args) => {
                let days = args
                    .first()
                    .and_then(|a| {
                        period(a).or_else(|| a.parse::<i64>().ok().map(|d| d * 86_400_000))
                    })
                    .unwrap_or(0);
                let today = local_now.date();
                let base = match f.as_str() {
                    "now" => return Ok(self.now + days),
                    "startofday" => day_start(today),
                    "endofday" => day_start(today) + 86_400_000 - 1,
                    "startofweek" => day_start(
                        today - chrono::Days::new(today.weekday().num_days_from_sunday() as u64),
                    ),
                    "endofweek" => {
                        day_start(
                            today
                                + chrono::Days::new(
                                    7 - today.weekday().num_days_from_sunday() as u64,
                                ),
                        ) - 1
                    }
                    "startofmonth" => day_start(today.with_day(1).unwrap_or(today)),
                    "startofyear" => {
                        day_start(NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today))
                    }
                    _ => return err(format!("Unable to find JQL function '{f}()'.")),
                };
                Ok(base + days)
            }
            Val::Empty => err(format!("The field '{name}' needs a date here, not EMPTY.")),
        }
    }

    fn user(&self, v: &Val, name: &str) -> Result<Option<UserIx>, JqlError> {
        match v {
            Val::Empty => Ok(None),
            Val::Func(f, _) if f == "currentuser" => Ok(Some(self.user)),
            Val::Func(f, _) => err(format!("Unable to find JQL function '{f}()'.")),
            Val::Text(t) => self
                .site
                .users
                .iter()
                .position(|u| {
                    u.account_id == *t
                        || u.username.eq_ignore_ascii_case(t)
                        || u.email.eq_ignore_ascii_case(t)
                })
                .map(|u| Some(u as UserIx))
                .ok_or_else(|| not_found(t, name)),
        }
    }

    fn issue_id(&self, t: &str) -> Option<IssueId> {
        match t.parse::<IssueId>() {
            Ok(id) => Some(id),
            Err(_) => self.site.keys.get(&t.to_ascii_uppercase()).copied(),
        }
    }
}

/// `-5d`, `4w 2d`, `-30m`, `1h`: a signed period in millis.
fn period(s: &str) -> Option<Millis> {
    let s = s.trim();
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut total = 0i64;
    let mut any = false;
    for part in rest.split_whitespace() {
        let (num, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit())?);
        let n: i64 = num.parse().ok()?;
        total += n * match unit {
            "w" => 7 * 86_400_000,
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" => 60_000,
            _ => return None,
        };
        any = true;
    }
    any.then_some(sign * total)
}

impl Query {
    /// Whether the query restricts the search (Cloud refuses unbounded queries on search/jql).
    pub fn is_bounded(&self) -> bool {
        self.filter.is_some()
    }

    /// Resolves names to ids; unknown values are Jira's 400 messages.
    pub fn compile(&self, ctx: &Ctx) -> Result<Compiled, JqlError> {
        let pred = match &self.filter {
            Some(e) => compile(e, ctx)?,
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
        let key = |f: Field, i: &Issue| -> (i64, i64) {
            match f {
                Field::Key | Field::Project => {
                    (project_rank[i.project as usize] as i64, i.number as i64)
                }
                Field::Id | Field::Rank => (i.id as i64, 0),
                Field::Created => (i.created, 0),
                Field::Updated => (i.updated, 0),
                Field::Resolved => (i.resolved.unwrap_or(i64::MAX), 0),
                Field::Priority => (i.priority as i64, 0),
                Field::Status => (
                    site.statuses[i.status as usize].category as i64,
                    i.status as i64,
                ),
                _ => (0, 0),
            }
        };
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

fn compile(e: &Expr, ctx: &Ctx) -> Result<Pred, JqlError> {
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
        } => clause(*field, name, *op, values, ctx)?,
    })
}

fn unsupported(op: Op, name: &str) -> JqlError {
    let o = match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::In => "in",
        Op::NotIn => "not in",
        Op::Is => "is",
        Op::IsNot => "is not",
        Op::Like => "~",
        Op::NotLike => "!~",
    };
    JqlError(format!(
        "The operator '{o}' is not supported by the '{name}' field."
    ))
}

fn clause(f: Field, name: &str, op: Op, values: &[Val], ctx: &Ctx) -> Result<Pred, JqlError> {
    let site = ctx.site;
    // IS [NOT] EMPTY, and `= EMPTY` written as a value.
    if matches!(op, Op::Is | Op::IsNot)
        || (values.len() == 1 && values[0] == Val::Empty && matches!(op, Op::Eq | Op::Ne))
    {
        let empty = Pred::Empty(f);
        return Ok(if matches!(op, Op::Is | Op::Eq) {
            empty
        } else {
            Pred::Not(Box::new(empty))
        });
    }
    let negated = matches!(op, Op::Ne | Op::NotIn | Op::NotLike);
    let set_op = matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn);
    let texts = || -> Result<Vec<&str>, JqlError> {
        values
            .iter()
            .map(|v| match v {
                Val::Text(t) => Ok(t.as_str()),
                Val::Empty => Ok(""),
                Val::Func(fname, _) => err(format!("Unable to find JQL function '{fname}()'.")),
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
            } else if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) {
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
        Field::Updated | Field::Created | Field::Resolved => {
            let tf = match f {
                Field::Created => TimeField::Created,
                Field::Updated => TimeField::Updated,
                _ => TimeField::Resolved,
            };
            match op {
                Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq | Op::Ne => {
                    let t = ctx.date(&values[0], name)?;
                    Pred::Time(tf, op, t)
                }
                _ => return Err(unsupported(op, name)),
            }
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
                    (Field::IssueType, Val::Func(fname, _))
                        if fname == "standardissuetypes" || fname == "subtaskissuetypes" =>
                    {
                        let sub = fname == "subtaskissuetypes";
                        types.extend(
                            (0..site.issue_types.len() as u16)
                                .filter(|t| site.issue_types[*t as usize].subtask == sub),
                        );
                    }
                    (_, Val::Func(fname, _)) => {
                        return err(format!("Unable to find JQL function '{fname}()'."))
                    }
                    (_, Val::Empty) => unresolved = true,
                    (Field::Status, Val::Text(t)) => status.extend(
                        site.statuses
                            .iter()
                            .position(|s| s.name.eq_ignore_ascii_case(t) || s.id.to_string() == *t)
                            .map(|s| s as u16)
                            .ok_or_else(|| not_found(t, name))
                            .map(Some)?,
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
                        site.issue_types
                            .iter()
                            .position(|x| x.name.eq_ignore_ascii_case(t) || x.id.to_string() == *t)
                            .map(|x| x as u16)
                            .ok_or_else(|| not_found(t, name))?,
                    ),
                    (Field::Priority, Val::Text(t)) => prios.push(
                        site.priorities
                            .iter()
                            .position(|x| x.name.eq_ignore_ascii_case(t) || x.id.to_string() == *t)
                            .map(|x| x as u8)
                            .ok_or_else(|| not_found(t, name))?,
                    ),
                    (Field::Resolution, Val::Text(t)) if t.eq_ignore_ascii_case("unresolved") => {
                        unresolved = true
                    }
                    (Field::Resolution, Val::Text(t)) => res.push(
                        site.resolutions
                            .iter()
                            .position(|x| x.name.eq_ignore_ascii_case(t) || x.id.to_string() == *t)
                            .map(|x| x as u8)
                            .ok_or_else(|| not_found(t, name))?,
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
        Field::Assignee | Field::Reporter => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let mut users = Vec::new();
            let mut empty = false;
            for v in values {
                match ctx.user(v, name)? {
                    Some(u) => users.push(u),
                    None => empty = true,
                }
            }
            let p = if f == Field::Assignee {
                Pred::Assignee(users)
            } else {
                Pred::Reporter(users)
            };
            let p = if empty {
                Pred::Or(vec![p, Pred::Empty(f)])
            } else {
                p
            };
            wrap(p, f == Field::Assignee && !empty)
        }
        Field::Sprint => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let mut ids = Vec::new();
            for v in values {
                match v {
                    Val::Func(fname, _) => {
                        let state = match fname.as_str() {
                            "opensprints" => SprintState::Active,
                            "closedsprints" => SprintState::Closed,
                            "futuresprints" => SprintState::Future,
                            _ => return err(format!("Unable to find JQL function '{fname}()'.")),
                        };
                        ids.extend(
                            site.sprints
                                .iter()
                                .filter(|s| s.state == state)
                                .map(|s| s.id),
                        );
                    }
                    Val::Text(t) => ids.push(
                        site.sprints
                            .iter()
                            .find(|s| s.id.to_string() == *t || s.name.eq_ignore_ascii_case(t))
                            .map(|s| s.id)
                            .ok_or_else(|| not_found(t, name))?,
                    ),
                    Val::Empty => return Ok(Pred::Empty(Field::Sprint)),
                }
            }
            wrap(Pred::Sprint(ids), true)
        }
        Field::Parent => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            let ids = texts()?
                .into_iter()
                .map(|t| ctx.issue_id(t).ok_or_else(|| not_found(t, name)))
                .collect::<Result<_, _>>()?;
            wrap(Pred::Parent(ids), true)
        }
        Field::Labels => {
            if !set_op {
                return Err(unsupported(op, name));
            }
            wrap(
                Pred::Label(texts()?.into_iter().map(str::to_owned).collect()),
                true,
            )
        }
        Field::Summary | Field::Text => {
            if !matches!(op, Op::Like | Op::NotLike) {
                return Err(unsupported(op, name));
            }
            let needle = texts()?
                .first()
                .map(|t| t.trim_matches('*').to_lowercase())
                .unwrap_or_default();
            wrap(Pred::Like(f == Field::Text, needle), false)
        }
        Field::Rank => return err("Field 'rank' can only be used in ORDER BY."),
    };
    Ok(pred)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Deployment, GenConfig};

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
        let q = parse(jql)?;
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
        assert!(run(&s, a, "project = ENG garbage")
            .expect_err("syntax")
            .0
            .contains("Expecting either 'OR' or 'AND'"));
        assert!(run(&s, a, "status was Done").is_err());
        assert!(run(&s, a, "(project = ENG").is_err());
    }

    #[test]
    fn order_by_and_bounds() {
        let s = site();
        let a = admin(&s);
        let q = parse("order by updated desc").expect("ok");
        assert!(!q.is_bounded());
        assert!(parse("project is not EMPTY").expect("ok").is_bounded());
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
        let q = parse(&format!(
            "project = {} AND status = Done",
            s.projects[2].key
        ))
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
}
