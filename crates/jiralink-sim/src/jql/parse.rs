//! JQL syntax: the tokenizer and the recursive-descent parser, with Jira's syntax-error texts
//! (Cloud says "Error in JQL Query:", Data Center "Error in the JQL Query:").

use super::JqlError;
use crate::model::Deployment;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Op(&'static str),
}

/// Words that are JQL syntax: unquoted as a value they are "Expecting either a value…".
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "empty", "null", "order", "by", "was", "changed", "after",
    "before", "on", "during", "from", "to", "cf",
];

/// Jira's reserved words: unquoted they are refused ("'x' is a reserved JQL word").
const RESERVED: &[&str] = &[
    "a",
    "an",
    "abort",
    "access",
    "add",
    "alias",
    "all",
    "alter",
    "any",
    "are",
    "as",
    "asc",
    "at",
    "audit",
    "avg",
    "be",
    "begin",
    "between",
    "boolean",
    "break",
    "but",
    "byte",
    "catch",
    "char",
    "character",
    "check",
    "checkpoint",
    "collate",
    "collation",
    "column",
    "commit",
    "connect",
    "continue",
    "count",
    "create",
    "current",
    "date",
    "decimal",
    "declare",
    "decrement",
    "default",
    "defaults",
    "define",
    "delete",
    "delimiter",
    "desc",
    "difference",
    "distinct",
    "divide",
    "do",
    "double",
    "drop",
    "else",
    "encoding",
    "end",
    "equals",
    "escape",
    "exclusive",
    "exec",
    "execute",
    "exists",
    "explain",
    "false",
    "fetch",
    "file",
    "field",
    "first",
    "float",
    "for",
    "function",
    "go",
    "goto",
    "grant",
    "greater",
    "group",
    "having",
    "identified",
    "if",
    "immediate",
    "increment",
    "index",
    "initial",
    "inner",
    "inout",
    "input",
    "insert",
    "int",
    "integer",
    "intersect",
    "intersection",
    "into",
    "isempty",
    "isnull",
    "it",
    "join",
    "last",
    "left",
    "less",
    "like",
    "limit",
    "lock",
    "long",
    "max",
    "min",
    "minus",
    "mode",
    "modify",
    "modulo",
    "more",
    "multiply",
    "next",
    "no",
    "noaudit",
    "notin",
    "nowait",
    "number",
    "object",
    "of",
    "option",
    "outer",
    "output",
    "power",
    "previous",
    "prior",
    "privileges",
    "public",
    "raise",
    "raw",
    "remainder",
    "rename",
    "resource",
    "return",
    "returns",
    "right",
    "row",
    "rowid",
    "rownum",
    "rows",
    "select",
    "session",
    "set",
    "share",
    "size",
    "sqrt",
    "start",
    "strict",
    "string",
    "subtract",
    "such",
    "sum",
    "synonym",
    "table",
    "that",
    "the",
    "their",
    "then",
    "there",
    "these",
    "they",
    "this",
    "trans",
    "transaction",
    "trigger",
    "true",
    "uid",
    "union",
    "unique",
    "update",
    "user",
    "validate",
    "values",
    "view",
    "when",
    "whenever",
    "where",
    "while",
    "will",
    "with",
];

/// Characters JQL reserves outside quotes (the simulator also lets `.`, `/` and `[]` pass, which
/// Jira reserves too, so that dates, versions and `cf[…]` read as users expect).
const RESERVED_CHARS: &str = "@#$%^|;?+*&";

fn is_keyword(w: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w))
}

fn is_reserved(w: &str) -> bool {
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(w))
}

/// Where a character sits: Jira reports a line and a 1-based character within it.
fn line_col(chars: &[char], at: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for c in chars.iter().take(at) {
        if *c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

pub(super) struct Lexed {
    pub toks: Vec<(Tok, usize)>,
    pub chars: Vec<char>,
}

pub(super) fn tokenize(s: &str, prefix: &str) -> Result<Lexed, JqlError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let pos = |at: usize| {
        let (l, c) = line_col(&chars, at);
        format!("(line {l}, character {c})")
    };
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | ',' => {
                out.push((
                    match c {
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        _ => Tok::Comma,
                    },
                    at,
                ));
                i += 1
            }
            '"' | '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(JqlError(format!(
                                "{prefix}The quoted string starting at character {} is not terminated. {}",
                                line_col(&chars, at).1,
                                pos(at)
                            )))
                        }
                        Some('\\') => {
                            match chars.get(i + 1) {
                                Some('u') => {
                                    let hex: String = chars.iter().skip(i + 2).take(4).collect();
                                    if let Some(ch) = u32::from_str_radix(&hex, 16)
                                        .ok()
                                        .and_then(char::from_u32)
                                    {
                                        v.push(ch);
                                        i += 6;
                                        continue;
                                    }
                                    v.push('u');
                                }
                                Some('n') => v.push('\n'),
                                Some('t') => v.push('\t'),
                                // A backslash before another character keeps both for text
                                // search (`\"` inside a phrase), except the quote itself.
                                Some(n) if *n == c || *n == '\\' => v.push(*n),
                                Some(n) => {
                                    v.push('\\');
                                    v.push(*n)
                                }
                                None => {}
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
                        _ => "!",
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
                    if RESERVED_CHARS.contains(chars[i]) {
                        return Err(JqlError(format!(
                            "{prefix}The character '{}' is a reserved JQL character. You must enclose it in a string or use the escape '\\u{:04x}' instead. {}",
                            chars[i],
                            chars[i] as u32,
                            pos(i)
                        )));
                    }
                    i += 1;
                }
                out.push((Tok::Word(chars[start..i].iter().collect()), start));
            }
        }
    }
    Ok(Lexed { toks: out, chars })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Project,
    Key,
    Id,
    Updated,
    Created,
    Resolved,
    DueDate,
    Status,
    StatusCategory,
    IssueType,
    Priority,
    Resolution,
    Assignee,
    Reporter,
    Watcher,
    Sprint,
    Parent,
    Labels,
    FixVersion,
    AffectedVersion,
    Component,
    Summary,
    Description,
    Comment,
    Environment,
    Text,
    StoryPoints,
    WorklogDate,
    WorklogAuthor,
    IssueLinkType,
    Attachments,
    Rank,
}

/// The field a JQL name (or `cf[id]`, or a custom field's name) means.
pub(super) fn field(name: &str) -> Option<Field> {
    Some(match name.to_ascii_lowercase().as_str() {
        "project" => Field::Project,
        "key" | "issuekey" | "issue" => Field::Key,
        "id" => Field::Id,
        "updated" | "updateddate" => Field::Updated,
        "created" | "createddate" => Field::Created,
        "resolved" | "resolutiondate" => Field::Resolved,
        "due" | "duedate" => Field::DueDate,
        "status" => Field::Status,
        "statuscategory" => Field::StatusCategory,
        "issuetype" | "type" => Field::IssueType,
        "priority" => Field::Priority,
        "resolution" => Field::Resolution,
        "assignee" => Field::Assignee,
        "reporter" | "creator" => Field::Reporter,
        "watcher" => Field::Watcher,
        "sprint" | "cf[10020]" => Field::Sprint,
        "parent" | "epic link" | "cf[10014]" => Field::Parent,
        "labels" | "label" => Field::Labels,
        "fixversion" => Field::FixVersion,
        "affectedversion" => Field::AffectedVersion,
        "component" => Field::Component,
        "summary" => Field::Summary,
        "description" => Field::Description,
        "comment" => Field::Comment,
        "environment" => Field::Environment,
        "text" => Field::Text,
        "story points" | "story point estimate" | "cf[10016]" => Field::StoryPoints,
        "worklogdate" => Field::WorklogDate,
        "worklogauthor" => Field::WorklogAuthor,
        "issuelinktype" => Field::IssueLinkType,
        "attachments" => Field::Attachments,
        "rank" | "cf[10019]" => Field::Rank,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
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
    Was,
    WasNot,
    WasIn,
    WasNotIn,
    Changed,
}

impl Op {
    pub fn text(self) -> &'static str {
        match self {
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
            Op::Was => "was",
            Op::WasNot => "was not",
            Op::WasIn => "was in",
            Op::WasNotIn => "was not in",
            Op::Changed => "changed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Text(String),
    /// A function: lower-cased name, the name as written, its arguments.
    Func(String, String, Vec<String>),
    Empty,
}

/// A time or actor predicate of WAS and CHANGED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HistKw {
    After,
    Before,
    On,
    During,
    By,
    From,
    To,
}

#[derive(Debug, Clone)]
pub(super) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Clause {
        field: Field,
        name: String,
        op: Op,
        values: Vec<Val>,
        history: Vec<(HistKw, Vec<Val>)>,
    },
}

pub(super) struct Parser {
    pub toks: Vec<(Tok, usize)>,
    pub chars: Vec<char>,
    pub pos: usize,
    pub prefix: &'static str,
    /// The first field name that does not exist (reported after the syntax is known good).
    pub unknown_field: Option<String>,
}

const VALID_OPERATORS: &str = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'.";

impl Parser {
    pub fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn where_(&self) -> String {
        let at = self
            .toks
            .get(self.pos)
            .map(|(_, a)| *a)
            .unwrap_or(self.chars.len());
        let (l, c) = line_col(&self.chars, at);
        format!("(line {l}, character {c})")
    }
    pub fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn got(&self) -> Option<String> {
        self.peek().map(|t| match t {
            Tok::Word(w) | Tok::Str(w) => w.clone(),
            Tok::Op(o) => (*o).to_owned(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Comma => ",".into(),
        })
    }
    fn error<T>(&self, msg: String) -> Result<T, JqlError> {
        Err(JqlError(format!("{}{msg}", self.prefix)))
    }
    /// "Expecting X but got 'y'. (line 1, character n)" or "Expecting X before the end of the query."
    pub fn unexpected<T>(&self, expecting: &str) -> Result<T, JqlError> {
        match self.got() {
            None => self.error(format!(
                "Expecting {expecting} before the end of the query."
            )),
            Some(g) => self.error(format!(
                "Expecting {expecting} but got '{g}'. {}",
                self.where_()
            )),
        }
    }

    pub fn or(&mut self) -> Result<Expr, JqlError> {
        self.joined("or", Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, JqlError> {
        self.joined("and", Self::not, Expr::And)
    }

    /// Operands (`operand`) joined by the keyword `kw`: one alone, or `join` of them all.
    fn joined(
        &mut self,
        kw: &str,
        operand: fn(&mut Self) -> Result<Expr, JqlError>,
        join: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, JqlError> {
        let mut items = vec![operand(self)?];
        while self.is_kw(kw) {
            self.pos += 1;
            items.push(operand(self)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            join(items)
        })
    }

    fn not(&mut self) -> Result<Expr, JqlError> {
        if self.is_kw("not") || self.peek() == Some(&Tok::Op("!")) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            if self.peek() != Some(&Tok::RParen) {
                return self.unexpected("')'");
            }
            self.pos += 1;
            return Ok(e);
        }
        self.clause()
    }

    fn clause(&mut self) -> Result<Expr, JqlError> {
        let name = match self.peek() {
            Some(Tok::Word(w)) if is_keyword(w) => {
                let w = w.clone();
                return self.error(format!(
                    "Expecting a field name but got '{w}'. You must surround '{w}' in quotation marks to use it as a field name. {}",
                    self.where_()
                ));
            }
            Some(Tok::Word(w)) if is_reserved(w) => {
                let w = w.clone();
                return self.error(format!("'{w}' is a reserved JQL word. You must surround it in quotation marks to use it in a query. {}", self.where_()));
            }
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => w.clone(),
            _ => return self.unexpected("a field name"),
        };
        self.pos += 1;
        let f = field(&name);
        if f.is_none() && self.unknown_field.is_none() {
            self.unknown_field = Some(name.clone());
        }
        let op = match self.peek() {
            Some(Tok::Op("=")) => Op::Eq,
            Some(Tok::Op("!=")) => Op::Ne,
            Some(Tok::Op("<")) => Op::Lt,
            Some(Tok::Op("<=")) => Op::Le,
            Some(Tok::Op(">")) => Op::Gt,
            Some(Tok::Op(">=")) => Op::Ge,
            Some(Tok::Op("~")) => Op::Like,
            Some(Tok::Op("!~")) => Op::NotLike,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("changed") => Op::Changed,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                self.pos += 1;
                if self.is_kw("not") {
                    Op::IsNot
                } else {
                    self.pos -= 1;
                    Op::Is
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.pos += 1;
                if !self.is_kw("in") {
                    return self.unexpected("'IN'");
                }
                Op::NotIn
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("was") => {
                self.pos += 1;
                let not = self.is_kw("not");
                if not {
                    self.pos += 1;
                }
                let in_ = self.is_kw("in");
                if !in_ {
                    self.pos -= 1;
                }
                match (not, in_) {
                    (false, false) => Op::Was,
                    (true, false) => Op::WasNot,
                    (false, true) => Op::WasIn,
                    (true, true) => Op::WasNotIn,
                }
            }
            None => {
                return self.error(format!(
                    "Expecting operator before the end of the query. {VALID_OPERATORS}"
                ))
            }
            Some(_) => {
                let g = self.got().unwrap_or_default();
                return self.error(format!(
                    "Expecting operator but got '{g}'. {VALID_OPERATORS} {}",
                    self.where_()
                ));
            }
        };
        self.pos += 1;
        let values = match op {
            Op::Changed => Vec::new(),
            Op::Is | Op::IsNot => {
                if self.is_kw("empty") || self.is_kw("null") {
                    self.pos += 1;
                    vec![Val::Empty]
                } else {
                    return self.unexpected("'EMPTY' or 'NULL'");
                }
            }
            _ => self.operand()?,
        };
        let mut history = Vec::new();
        if matches!(
            op,
            Op::Was | Op::WasNot | Op::WasIn | Op::WasNotIn | Op::Changed
        ) {
            while let Some(kw) = self.history_keyword(op) {
                self.pos += 1;
                let vals = self.operand()?;
                if kw == HistKw::During && vals.len() != 2 {
                    return self.error(format!(
                        "The DURING predicate needs two dates: DURING (\"start\", \"end\"). {}",
                        self.where_()
                    ));
                }
                history.push((kw, vals));
            }
        }
        Ok(Expr::Clause {
            field: f.unwrap_or(Field::Key),
            name,
            op,
            values,
            history,
        })
    }

    /// The WAS/CHANGED predicate keyword at the cursor, if any.
    fn history_keyword(&self, op: Op) -> Option<HistKw> {
        let Some(Tok::Word(w)) = self.peek() else {
            return None;
        };
        Some(match w.to_ascii_lowercase().as_str() {
            "after" => HistKw::After,
            "before" => HistKw::Before,
            "on" => HistKw::On,
            "during" => HistKw::During,
            "by" => HistKw::By,
            "from" if op == Op::Changed => HistKw::From,
            "to" if op == Op::Changed => HistKw::To,
            _ => return None,
        })
    }

    /// A value, a function call or a parenthesised list.
    fn operand(&mut self) -> Result<Vec<Val>, JqlError> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let mut vs = Vec::new();
            loop {
                vs.push(self.value()?);
                match self.peek() {
                    Some(Tok::Comma) => self.pos += 1,
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        break;
                    }
                    _ => return self.unexpected("either ',' or ')'"),
                }
            }
            Ok(vs)
        } else {
            Ok(vec![self.value()?])
        }
    }

    fn value(&mut self) -> Result<Val, JqlError> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Val::Text(s))
            }
            Some(Tok::Word(w)) => {
                if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") {
                    self.pos += 1;
                    return Ok(Val::Empty);
                }
                let is_call = matches!(self.toks.get(self.pos + 1), Some((Tok::LParen, _)));
                if !is_call && is_keyword(&w) {
                    return self.error(format!(
                        "Expecting either a value, list or function but got '{w}'. You must surround '{w}' in quotation marks to use it as a value. {}",
                        self.where_()
                    ));
                }
                if !is_call && is_reserved(&w) {
                    return self.error(format!("'{w}' is a reserved JQL word. You must surround it in quotation marks to use it in a query. {}", self.where_()));
                }
                self.pos += 1;
                if is_call {
                    self.pos += 1;
                    let mut args = Vec::new();
                    loop {
                        match self.peek().cloned() {
                            Some(Tok::RParen) => {
                                self.pos += 1;
                                break;
                            }
                            Some(Tok::Comma) => self.pos += 1,
                            Some(Tok::Word(a)) | Some(Tok::Str(a)) => {
                                self.pos += 1;
                                args.push(a)
                            }
                            _ => return self.unexpected("either a function argument or ')'"),
                        }
                    }
                    return Ok(Val::Func(w.to_ascii_lowercase(), w, args));
                }
                Ok(Val::Text(w))
            }
            _ => self.unexpected("either a value, list or function"),
        }
    }
}

/// The prefix of syntax errors on each deployment.
pub(super) fn prefix(deployment: Deployment) -> &'static str {
    match deployment {
        Deployment::Cloud => "Error in JQL Query: ",
        Deployment::Datacenter => "Error in the JQL Query: ",
    }
}
