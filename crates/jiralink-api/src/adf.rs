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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_become_lines_and_wiki_text_stays() {
        let doc = serde_json::json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "Second"}]}]});
        assert_eq!(plain_text(&doc), "Hello world\nSecond");
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
        assert_eq!(
            plain_text(&doc),
            "@Ada Lovelace done 👍\nsee https://x.example/d/1\none\nSELECT 1;\nMetric\nend"
        );
    }
}
