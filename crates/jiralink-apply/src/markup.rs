//! Rich text for write-back: Markdown in, ADF out (Cloud, REST v3) or wiki markup out (Data
//! Center, REST v2), and the normal form in which a file's text and Jira's are compared.

use serde_json::{json, Value};

/// Headings (`#`), bullet items (`-`, `*`) and paragraphs; inline text is kept as it is.
pub fn to_adf(md: &str) -> Value {
    let mut content = Vec::new();
    let mut items: Vec<Value> = Vec::new();
    let flush = |items: &mut Vec<Value>, content: &mut Vec<Value>| {
        if !items.is_empty() {
            content.push(json!({"type": "bulletList", "content": std::mem::take(items)}));
        }
    };
    for line in md.lines() {
        let t = line.trim_end();
        if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            items.push(json!({"type": "listItem", "content": [paragraph(item)]}));
            continue;
        }
        flush(&mut items, &mut content);
        if t.trim().is_empty() {
            continue;
        }
        let level = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&level) && t[level..].starts_with(' ') {
            content.push(json!({"type": "heading", "attrs": {"level": level},
                "content": [{"type": "text", "text": t[level..].trim()}]}));
        } else {
            content.push(paragraph(t));
        }
    }
    flush(&mut items, &mut content);
    json!({"type": "doc", "version": 1, "content": content})
}

fn paragraph(text: &str) -> Value {
    json!({"type": "paragraph", "content": [{"type": "text", "text": text}]})
}

/// The same document in Jira wiki markup: `h1.` headings, `*` bullets.
pub fn to_wiki(md: &str) -> String {
    md.lines()
        .map(|line| {
            let t = line.trim_end();
            if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
                return format!("* {item}");
            }
            let level = t.chars().take_while(|c| *c == '#').count();
            if (1..=6).contains(&level) && t[level..].starts_with(' ') {
                return format!("h{level}. {}", t[level..].trim());
            }
            t.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rich text in the API version's form.
pub fn rich(md: &str, v3: bool) -> Value {
    if v3 {
        to_adf(md)
    } else {
        Value::String(to_wiki(md))
    }
}

/// Text reduced to what survives every representation: lines trimmed, list and heading markers
/// dropped, empty lines removed.
pub fn normal_text(s: &str) -> String {
    s.lines()
        .map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("- ")
                .or_else(|| l.strip_prefix("* "))
                .or_else(|| l.strip_prefix("• "))
                .unwrap_or(l);
            let l = match l.find(". ") {
                Some(2) if l.starts_with('h') && l[1..2].parse::<u8>().is_ok() => &l[4..],
                _ => l,
            };
            l.trim().to_owned()
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_adf_and_wiki_with_the_same_normal_text() {
        let md = "# Title\nFirst line\n\n- one\n- two\nlast";
        let adf = to_adf(md);
        assert_eq!(adf["content"][0]["type"], "heading");
        assert_eq!(adf["content"][2]["type"], "bulletList");
        let wiki = to_wiki(md);
        assert_eq!(wiki, "h1. Title\nFirst line\n\n* one\n* two\nlast");
        let from_adf = normal_text(&jiralink_api::adf::plain_text(&adf));
        assert_eq!(from_adf, normal_text(&wiki));
        assert_eq!(from_adf, "Title\nFirst line\none\ntwo\nlast");
    }
}
