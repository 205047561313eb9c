//! Atlassian Document Format: the rich-text JSON of REST v3 bodies, read as plain text.

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

/// [`plain_text`] of a body kept as Jira sent it, read into typed nodes (no `Value` tree).
pub fn plain_text_of(body: &serde_json::value::RawValue) -> String {
    /// A node of an ADF document; any other JSON reads as an empty node.
    #[derive(Default)]
    struct Node {
        kind: String,
        text: Option<String>,
        attr_text: Option<String>,
        attr_url: Option<String>,
        content: Vec<Node>,
    }
    #[derive(serde::Deserialize, Default)]
    struct Attrs {
        #[serde(default, deserialize_with = "crate::models::lenient::string")]
        text: Option<String>,
        #[serde(default, deserialize_with = "crate::models::lenient::string")]
        url: Option<String>,
    }
    impl<'de> serde::Deserialize<'de> for Node {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Node;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an ADF node")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Node, E> {
                    Ok(Node {
                        text: Some(v.to_owned()),
                        ..Node::default()
                    })
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Node, A::Error> {
                    use serde::de::IgnoredAny;
                    let mut n = Node::default();
                    while let Some(key) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                        match &*key {
                            "type" => n.kind = m.next_value::<Lenient>()?.0.unwrap_or_default(),
                            "text" => n.text = m.next_value::<Lenient>()?.0,
                            "attrs" => {
                                if let Some(a) = m.next_value::<Option<Attrs>>()? {
                                    n.attr_text = a.text;
                                    n.attr_url = a.url;
                                }
                            }
                            "content" => {
                                n.content = m.next_value::<Option<Vec<Node>>>()?.unwrap_or_default()
                            }
                            _ => {
                                m.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    Ok(n)
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Node, A::Error> {
                    while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                    Ok(Node::default())
                }
                fn visit_unit<E: serde::de::Error>(self) -> Result<Node, E> {
                    Ok(Node::default())
                }
                fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Node, E> {
                    Ok(Node::default())
                }
                fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Node, E> {
                    Ok(Node::default())
                }
                fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Node, E> {
                    Ok(Node::default())
                }
                fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Node, E> {
                    Ok(Node::default())
                }
            }
            d.deserialize_any(V)
        }
    }
    /// A string; anything else is absent.
    struct Lenient(Option<String>);
    impl<'de> serde::Deserialize<'de> for Lenient {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            crate::models::lenient::string(d).map(Lenient)
        }
    }
    fn walk(n: &Node, out: &mut String) {
        match n.kind.as_str() {
            "hardBreak" => out.push('\n'),
            "mention" | "emoji" => out.push_str(n.attr_text.as_deref().unwrap_or_default()),
            "inlineCard" | "blockCard" => out.push_str(n.attr_url.as_deref().unwrap_or_default()),
            _ => {}
        }
        if let Some(t) = &n.text {
            out.push_str(t);
        }
        for c in &n.content {
            walk(c, out);
        }
        if matches!(n.kind.as_str(), "paragraph" | "heading" | "codeBlock") {
            out.push('\n');
        }
    }
    let node: Node = serde_json::from_str(body.get()).unwrap_or_default();
    let mut out = String::new();
    walk(&node, &mut out);
    out.trim_end_matches('\n').to_owned()
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
}
