//! Atlassian Document Format: the rich-text JSON of REST v3 bodies, read as plain text.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Plain text of an ADF document (v3) or the wiki string (v2): text, mentions and emoji by their
/// text, inline cards by their URL, one line per paragraph, heading, code block and hard break.
pub fn plain_text(body: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => out.push_str(s),
            Value::Object(o) => {
                let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
                let attr = |name: &str| o.get("attrs").and_then(|a| a.get(name)?.as_str());
                match kind {
                    "hardBreak" => out.push('\n'),
                    "mention" | "emoji" => out.push_str(attr("text").unwrap_or_default()),
                    "inlineCard" | "blockCard" => out.push_str(attr("url").unwrap_or_default()),
                    _ => {}
                }
                if let Some(Value::String(t)) = o.get("text") {
                    out.push_str(t);
                }
                for c in o
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    walk(c, out);
                }
                if matches!(kind, "paragraph" | "heading" | "codeBlock") {
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(body, &mut out);
    out.trim_end_matches('\n').to_owned()
}

/// [`plain_text`] of a body kept as Jira sent it, read in one pass straight into the text: no
/// tree, and no copy of a string that needs no unescaping. Parts that are not what ADF puts there
/// (a `content` that is no list, `attrs` that is no object, a `text` that is no string) are
/// skipped, as [`plain_text`] skips them.
pub fn plain_text_of(body: &serde_json::value::RawValue) -> String {
    let mut out = String::new();
    let mut d = serde_json::Deserializer::from_str(body.get());
    if Seed(Node(&mut out)).deserialize(&mut d).is_err() {
        out.clear();
    }
    out.truncate(out.trim_end_matches('\n').len());
    out
}

/// One node of a document: its text is appended to the string.
struct Node<'o>(&'o mut String);

/// The kinds of node whose text is more than their `text` and content.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    HardBreak,
    /// `mention`, `emoji`: their `attrs.text`.
    Named,
    /// `inlineCard`, `blockCard`: their `attrs.url`.
    Card,
    /// `paragraph`, `heading`, `codeBlock`: a line of their own.
    Line,
    Other,
}

/// The visits of values a visitor reads as nothing: `$nothing` for each scalar, and for lists
/// and objects (when `$seq`/`$map` say so) after skipping their elements.
macro_rules! nothing_for_others {
    ($nothing:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($nothing)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($nothing)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($nothing)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($nothing)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($nothing)
        }
    };
    ($nothing:expr, seq) => {
        nothing_for_others!($nothing);
        fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<Self::Value, S::Error> {
            while s.next_element::<IgnoredAny>()?.is_some() {}
            Ok($nothing)
        }
    };
    ($nothing:expr, seq, map) => {
        nothing_for_others!($nothing, seq);
        fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($nothing)
        }
    };
}

/// A visitor used as a seed: the value is read by the visitor itself ([`Node`], [`Content`]).
struct Seed<V>(V);

impl<'de, V: Visitor<'de, Value = ()>> DeserializeSeed<'de> for Seed<V> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self.0)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an ADF node")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
    fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<(), M::Error> {
        let out = self.0;
        let start = out.len();
        let (mut kind, mut text, mut attrs) = (Kind::Other, None, Attrs::default());
        while let Some(Str(key)) = m.next_key()? {
            match key.as_deref() {
                Some("type") => {
                    kind = m
                        .next_value::<Str>()?
                        .0
                        .map_or(Kind::Other, |k| Kind::of(&k))
                }
                Some("text") => text = m.next_value::<Str>()?.0,
                Some("attrs") => attrs = m.next_value()?,
                Some("content") => m.next_value_seed(Seed(Content(&mut *out)))?,
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        // The node's own text comes before its content's, whichever key came first.
        let own = match kind {
            Kind::HardBreak => Some("\n"),
            Kind::Named => Some(attrs.text.as_deref().unwrap_or_default()),
            Kind::Card => Some(attrs.url.as_deref().unwrap_or_default()),
            Kind::Line | Kind::Other => None,
        };
        let own = [own, text.as_deref()];
        if out.len() == start {
            own.into_iter().flatten().for_each(|t| out.push_str(t));
        } else {
            out.insert_str(start, &own.into_iter().flatten().collect::<String>());
        }
        if kind == Kind::Line {
            out.push('\n');
        }
        Ok(())
    }
    nothing_for_others!((), seq);
}

impl Kind {
    fn of(kind: &str) -> Kind {
        match kind {
            "hardBreak" => Kind::HardBreak,
            "mention" | "emoji" => Kind::Named,
            "inlineCard" | "blockCard" => Kind::Card,
            "paragraph" | "heading" | "codeBlock" => Kind::Line,
            _ => Kind::Other,
        }
    }
}

/// A node's `content`: each node's text appended in turn, when it is a list.
struct Content<'o>(&'o mut String);

impl<'de> Visitor<'de> for Content<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an ADF node's content")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<(), S::Error> {
        while s.next_element_seed(Seed(Node(&mut *self.0)))?.is_some() {}
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<(), M::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    nothing_for_others!(());
}

/// A string, borrowed from the JSON text when it needs no unescaping; any other value reads as
/// `None`. (Also the models' reader of an issue's field ids.)
pub(crate) struct Str<'de>(pub Option<Cow<'de, str>>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Visitor<'de> for S {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Some(Cow::Owned(v.to_owned()))))
            }
            nothing_for_others!(Str(None), seq, map);
        }
        d.deserialize_any(S)
    }
}

/// A node's `attrs`: its `text` and `url`, when it is an object.
#[derive(Default)]
struct Attrs<'de> {
    text: Option<Cow<'de, str>>,
    url: Option<Cow<'de, str>>,
}

impl<'de> de::Deserialize<'de> for Attrs<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct A;
        impl<'de> Visitor<'de> for A {
            type Value = Attrs<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Attrs<'de>, M::Error> {
                let mut a = Attrs::default();
                while let Some(Str(key)) = m.next_key()? {
                    match key.as_deref() {
                        Some("text") => a.text = m.next_value::<Str<'de>>()?.0,
                        Some("url") => a.url = m.next_value::<Str<'de>>()?.0,
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(a)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Attrs<'de>, E> {
                Ok(Attrs::default())
            }
            nothing_for_others!(Attrs::default(), seq);
        }
        d.deserialize_any(A)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`plain_text_of`] of a document's JSON text.
    fn typed(doc: &Value) -> String {
        plain_text_of(
            &serde_json::value::RawValue::from_string(doc.to_string()).expect("JSON text is JSON"),
        )
    }

    #[test]
    fn paragraphs_become_lines_and_wiki_text_stays() {
        let doc = serde_json::json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "Second"}]}]});
        assert_eq!(plain_text(&doc), "Hello world\nSecond");
        assert_eq!(typed(&doc), "Hello world\nSecond");
        assert_eq!(typed(&serde_json::json!("wiki *text*")), "wiki *text*");
        assert_eq!(typed(&serde_json::json!(null)), "");
        assert_eq!(plain_text(&serde_json::json!("wiki *text*")), "wiki *text*");
    }

    #[test]
    fn mentions_emoji_breaks_cards_lists_code_and_tables_read_as_text() {
        let doc = serde_json::json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [
                {"type": "mention", "attrs": {"id": "712020:abc", "text": "@Ada Lovelace"}},
                {"type": "text", "text": " done "},
                {"type": "emoji", "attrs": {"shortName": ":thumbsup:", "text": "👍"}},
                {"type": "hardBreak"},
                {"type": "text", "text": "see ", "marks": [{"type": "link", "attrs": {"href": "https://x.example"}}]},
                {"type": "inlineCard", "attrs": {"url": "https://x.example/d/1"}}]},
            {"type": "bulletList", "content": [{"type": "listItem", "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]}]},
            {"type": "codeBlock", "attrs": {"language": "sql"}, "content": [{"type": "text", "text": "SELECT 1;"}]},
            {"type": "table", "content": [{"type": "tableRow", "content": [
                {"type": "tableHeader", "attrs": {}, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Metric"}]}]}]}]},
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "f", "type": "file", "collection": ""}}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "end"}]}]});
        assert_eq!(plain_text(&doc), typed(&doc));
        assert_eq!(
            plain_text(&doc),
            "@Ada Lovelace done 👍\nsee https://x.example/d/1\none\nSELECT 1;\nMetric\nend"
        );
    }

    #[test]
    fn any_key_order_escapes_and_odd_parts_read_as_the_tree_reads_them() {
        // Keys sorted (`content` before `type`, as some writers send them), a node with both
        // text and content, escaped strings, and parts that are not what ADF puts there.
        let doc = r#"{"content": [
            {"content": [{"text": "a \"quoted\"\nline", "type": "text"},
                         {"attrs": {"text": "@Bo", "url": 5}, "type": "mention"},
                         {"type": "hardBreak"}], "type": "paragraph"},
            {"content": [{"type": "text", "text": "inner"}], "text": "own ", "type": "heading"},
            {"attrs": "not an object", "content": "not a list", "type": "paragraph"},
            {"attrs": {"url": "https://x.example/\u00e9"}, "type": "blockCard"},
            [1, 2], 7, null, "loose",
            {"text": 5, "type": 5}], "type": "doc", "version": 1}"#;
        let v: Value = serde_json::from_str(doc).expect("the fixture is JSON");
        assert_eq!(typed(&v), plain_text(&v));
        assert_eq!(
            typed(&v),
            "a \"quoted\"\nline@Bo\n\nown inner\n\nhttps://x.example/\u{e9}loose"
        );
    }
}
