//! Text search (`~`, `!~`) with Jira's semantics at the level a user notices: case-insensitive
//! words, English stems ("logins" finds "login"), stop words ignored, every term required,
//! `"exact phrase"` and trailing or inner wildcards (`win*`, `te?t`); a leading wildcard is refused.

/// English stop words, which Jira's index leaves out.
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// A light English stemmer: enough that plural and verb forms find each other ("reproduce",
/// "reproduced" and "reproduces" share one stem).
pub(super) fn stem(w: &str) -> String {
    let mut s = strip_suffix(w);
    if s.len() > 3 && s.ends_with('e') {
        s.pop();
    }
    s
}

fn strip_suffix(w: &str) -> String {
    let n = w.chars().count();
    let strip = |suffix: &str, min: usize| -> Option<String> {
        (w.ends_with(suffix) && n >= suffix.len() + min)
            .then(|| w[..w.len() - suffix.len()].to_owned())
    };
    if let Some(s) = strip("ies", 2) {
        return s + "y";
    }
    for (suffix, min) in [("ing", 3), ("ed", 3), ("es", 3), ("s", 3)] {
        if suffix == "s" && (w.ends_with("ss") || w.ends_with("us")) {
            continue;
        }
        if suffix == "es" && !(w.ends_with("ches") || w.ends_with("shes") || w.ends_with("xes")) {
            continue;
        }
        if let Some(s) = strip(suffix, min) {
            return s;
        }
    }
    w.to_owned()
}

/// The words of a text, lower-cased, in order.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
}

#[derive(Debug, Clone)]
enum Term {
    /// A stemmed word.
    Word(String),
    /// A wildcard pattern over unstemmed words (`*` any run, `?` one character).
    Wild(String),
    /// Stemmed words that must appear in a row.
    Phrase(Vec<String>),
}

/// A parsed text query: every term must match.
#[derive(Debug, Clone)]
pub(super) struct TextQuery {
    terms: Vec<Term>,
}

impl TextQuery {
    /// Parses the value of a `~` clause; the error is Jira's for a misplaced wildcard.
    pub fn parse(value: &str, field: &str) -> Result<TextQuery, String> {
        let mut terms = Vec::new();
        let mut rest = value.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('"').or_else(|| rest.strip_prefix("\\\"")) {
                let end = after.find('"').unwrap_or(after.len());
                let phrase = after[..end].trim_end_matches('\\');
                let ws: Vec<String> = words(phrase)
                    .filter(|w| !STOP.contains(&w.as_str()))
                    .map(|w| stem(&w))
                    .collect();
                if !ws.is_empty() {
                    terms.push(Term::Phrase(ws));
                }
                rest = after.get(end + 1..).unwrap_or("").trim_start();
                continue;
            }
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let raw = rest[..end].trim_start_matches(['+', '-']);
            rest = rest[end..].trim_start();
            if raw.starts_with('*') || raw.starts_with('?') {
                return Err(format!("The text query '{value}' for field '{field}' is not valid: probably your use of wildcard characters is not correct."));
            }
            if raw.contains(['*', '?']) {
                terms.push(Term::Wild(raw.to_lowercase()));
                continue;
            }
            for w in words(raw) {
                if !STOP.contains(&w.as_str()) {
                    terms.push(Term::Word(stem(&w)));
                }
            }
        }
        Ok(TextQuery { terms })
    }

    /// Whether all terms occur in the texts (each term may match a different text).
    pub fn matches<'a>(&self, texts: impl Iterator<Item = &'a str> + Clone) -> bool {
        if self.terms.is_empty() {
            return false;
        }
        self.terms.iter().all(|t| {
            texts.clone().any(|text| match t {
                Term::Word(w) => words(text).any(|x| stem(&x) == *w),
                Term::Wild(p) => words(text).any(|x| wild(p.as_bytes(), x.as_bytes())),
                Term::Phrase(ws) => {
                    let stems: Vec<String> = words(text)
                        .filter(|w| !STOP.contains(&w.as_str()))
                        .map(|w| stem(&w))
                        .collect();
                    stems.windows(ws.len()).any(|win| win == ws.as_slice())
                }
            })
        })
    }
}

/// Glob match of `*` and `?` over bytes.
fn wild(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wild(&p[1..], s) || (!s.is_empty() && wild(p, &s[1..])),
        (Some(b'?'), Some(_)) => wild(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wild(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(q: &str, text: &str) -> bool {
        TextQuery::parse(q, "summary")
            .expect("valid")
            .matches([text].into_iter())
    }

    #[test]
    fn words_stems_phrases_and_wildcards() {
        assert!(m("LOGIN", "Fix the login page"));
        assert!(m("logins", "Fix the login page"));
        assert!(m("failing", "Tests failed on CI"));
        assert!(m("reproduced", "I can reproduce this on staging."));
        assert!(
            m("login page", "page of the login"),
            "every term, any order"
        );
        assert!(!m("login checkout", "Fix the login page"));
        assert!(m("\"login page\"", "Fix the login page"));
        assert!(!m("\"page login\"", "Fix the login page"));
        assert!(m("win*", "Windows build breaks"));
        assert!(m("w?ndows", "Windows build breaks"));
        assert!(!m("win", "Windows build breaks"), "a word is not a prefix");
        assert!(!m("the", "the"), "stop words alone match nothing");
        assert!(TextQuery::parse("*dows", "summary").is_err());
    }
}
