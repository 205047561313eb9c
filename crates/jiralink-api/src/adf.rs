//! Atlassian Document Format: the rich-text JSON of REST v3 bodies, read as plain text.

use serde_json::Value;

/// Plain text of an ADF document (v3) or the wiki string (v2).
pub fn plain_text(body: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => out.push_str(s),
            Value::Object(o) => {
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
                if o.get("type").and_then(Value::as_str) == Some("paragraph") {
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
}
