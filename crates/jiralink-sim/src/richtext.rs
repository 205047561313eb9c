//! Generated rich text of comments: derived from the comment's id at render time (nothing stored),
//! written as Atlassian Document Format for REST v3 and as the equivalent wiki markup for v2 and
//! Data Center, with mentions, hard breaks, emoji, lists, code blocks, tables, links, inline cards
//! and media, as people write them.

use crate::model::{Deployment, Site, UserIx};

/// Text-level content of a paragraph or list item.
enum Inline {
    Text(String),
    Strong(&'static str),
    Monospace(String),
    Link(&'static str, String),
    Mention(UserIx),
    /// Short name, Unicode text, wiki emoticon.
    Emoji(&'static str, &'static str, &'static str),
    HardBreak,
    Card(String),
}

enum Block {
    Para(Vec<Inline>),
    Bullets(Vec<Vec<Inline>>),
    Ordered(Vec<Vec<Inline>>),
    Code(&'static str, String),
    /// A header row, then data rows.
    Table(Vec<Vec<String>>),
    /// An attached image: (media id, file name).
    Media(String, String),
}

/// A generated body: what a comment with no stored text says.
pub struct RichText {
    blocks: Vec<Block>,
}

const REMARKS: &[&str] = &[
    "I can reproduce this on staging.",
    "Pushed a fix, please review.",
    "Blocked on the platform team.",
    "Moved to the next sprint.",
    "Customer confirmed the workaround helps.",
    "Added logs, waiting for the next occurrence.",
    "Needs a design review first.",
    "Done, deployed to production.",
];
const EMOJI: &[(&str, &str, &str)] = &[
    (":thumbsup:", "👍", "(y)"),
    (":smile:", "😄", ":D"),
    (":white_check_mark:", "✅", "(/)"),
    (":warning:", "⚠️", "(!)"),
];
const STEPS: &[&str] = &[
    "Sign in as a user of the EU tenant",
    "Open the billing export",
    "Pick last month and press Export",
    "Reload the page",
    "Switch the language to German",
];
const SNIPPETS: &[(&str, &str)] = &[
    (
        "bash",
        "$ curl -s https://api.example.com/v1/health\n{\"status\":\"degraded\",\"db\":\"timeout\"}",
    ),
    (
        "java",
        "java.lang.IllegalStateException: pool exhausted\n\tat com.example.db.Pool.acquire(Pool.java:88)\n\tat com.example.api.Export.run(Export.java:41)",
    ),
    (
        "json",
        "{\n  \"error\": \"rate_limited\",\n  \"retry_after\": 30\n}",
    ),
    (
        "sql",
        "SELECT account_id, COUNT(*)\nFROM invoices\nWHERE created_at > now() - interval '1 day'\nGROUP BY 1;",
    ),
];
const LINKS: &[(&str, &str)] = &[
    (
        "the runbook",
        "https://wiki.example.com/ops/runbooks/export",
    ),
    ("the incident", "https://status.example.com/incidents/4821"),
    (
        "the design doc",
        "https://docs.example.com/design/rate-limits",
    ),
];

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(list: &[T], h: u64) -> T {
    list[(h % list.len() as u64) as usize]
}

impl RichText {
    /// The body of generated comment `id` on a site with `users` users.
    pub fn comment(id: u64, users: usize) -> RichText {
        use Block::*;
        use Inline::*;
        let h = mix(id ^ 0xC0DE);
        let remark = |shift: u32| Text(pick(REMARKS, h >> shift).to_owned());
        let who = ((h >> 40) % users.max(1) as u64) as UserIx;
        let (short, text, wiki) = pick(EMOJI, h >> 20);
        let blocks = match h % 8 {
            0 | 1 => vec![Para(vec![remark(8)]), Para(vec![remark(16)])],
            2 => vec![Para(vec![
                Mention(who),
                Text(" ".into()),
                remark(8),
                Text(" ".into()),
                Emoji(short, text, wiki),
            ])],
            3 => {
                let first = (h >> 8) as usize % STEPS.len();
                let steps = (0..3)
                    .map(|k| vec![Text(STEPS[(first + k) % STEPS.len()].to_owned())])
                    .collect();
                vec![
                    Para(vec![Text("Steps to reproduce:".into())]),
                    Ordered(steps),
                    Para(vec![
                        Strong("Expected:"),
                        Text(" the file downloads.".into()),
                        HardBreak,
                        Strong("Actual:"),
                        Text(" a 500 after ".into()),
                        Monospace(format!("{}s", 30 + (h >> 24) % 30)),
                        Text(".".into()),
                    ]),
                ]
            }
            4 => {
                let (lang, code) = pick(SNIPPETS, h >> 8);
                vec![Para(vec![remark(16)]), Code(lang, code.to_owned())]
            }
            5 => {
                let before = 80 + (h >> 8) % 400;
                let after = 20 + (h >> 16) % 60;
                vec![
                    Para(vec![Text("Numbers from the load test:".into())]),
                    Table(vec![
                        vec!["Metric".into(), "Before".into(), "After".into()],
                        vec![
                            "p50 latency".into(),
                            format!("{before} ms"),
                            format!("{after} ms"),
                        ],
                        vec![
                            "Error rate".into(),
                            format!("{}.{}%", (h >> 24) % 5, (h >> 28) % 10),
                            "0.1%".into(),
                        ],
                    ]),
                ]
            }
            6 => {
                let (label, url) = pick(LINKS, h >> 8);
                vec![
                    Para(vec![
                        Text("Background in ".into()),
                        Link(label, url.to_owned()),
                        Text(", dashboard: ".into()),
                        Card(format!(
                            "https://grafana.example.com/d/{:x}/export",
                            (h >> 16) & 0xffff
                        )),
                    ]),
                    Bullets(vec![
                        vec![remark(24)],
                        vec![Text("Owner: ".into()), Mention(who)],
                    ]),
                ]
            }
            _ => vec![
                Para(vec![
                    Mention(who),
                    Text(" screenshot of what the customer sees ".into()),
                    Emoji(short, text, wiki),
                ]),
                Media(
                    format!(
                        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                        h as u32,
                        (h >> 32) as u16,
                        (h >> 48) & 0xfff,
                        (h >> 36) & 0xfff,
                        mix(h) & 0xffff_ffff_ffff
                    ),
                    format!("screenshot-{}.png", 1 + (h >> 12) % 9),
                ),
            ],
        };
        RichText { blocks }
    }

    /// Atlassian Document Format (REST v3), as JSON text.
    pub fn adf(&self, site: &Site) -> String {
        let mut out = String::with_capacity(256);
        out.push_str(r#"{"type":"doc","version":1,"content":["#);
        for (i, b) in self.blocks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            adf_block(&mut out, b, site);
        }
        out.push_str("]}");
        out
    }

    /// The words, one line per paragraph, list item, code block and table row; mentions are left
    /// out (their names need the site).
    pub fn text(&self) -> String {
        fn line(out: &mut Vec<String>, content: &[Inline]) {
            let mut s = String::new();
            for x in content {
                match x {
                    Inline::Text(t) | Inline::Monospace(t) | Inline::Card(t) => s.push_str(t),
                    Inline::Strong(t) | Inline::Link(t, _) => s.push_str(t),
                    Inline::Emoji(_, text, _) => s.push_str(text),
                    Inline::HardBreak => s.push('\n'),
                    Inline::Mention(_) => {}
                }
            }
            out.push(s.trim().to_owned());
        }
        let mut out = Vec::new();
        for b in &self.blocks {
            match b {
                Block::Para(inl) => line(&mut out, inl),
                Block::Bullets(items) | Block::Ordered(items) => {
                    items.iter().for_each(|i| line(&mut out, i))
                }
                Block::Code(_, code) => out.push(code.clone()),
                Block::Table(rows) => out.extend(rows.iter().map(|r| r.join(" "))),
                Block::Media(_, file) => out.push(file.clone()),
            }
        }
        out.join("\n")
    }

    /// Wiki markup (REST v2 and Data Center).
    pub fn wiki(&self, site: &Site) -> String {
        let mut out = String::new();
        for (i, b) in self.blocks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            match b {
                Block::Para(inl) => wiki_inline(&mut out, inl, site),
                Block::Bullets(items) | Block::Ordered(items) => {
                    let bullet = if matches!(b, Block::Bullets(_)) {
                        "* "
                    } else {
                        "# "
                    };
                    for (k, item) in items.iter().enumerate() {
                        if k > 0 {
                            out.push('\n');
                        }
                        out.push_str(bullet);
                        wiki_inline(&mut out, item, site);
                    }
                }
                Block::Code(lang, code) => {
                    out.push_str(&format!("{{code:{lang}}}\n{code}\n{{code}}"));
                }
                Block::Table(rows) => {
                    for (k, row) in rows.iter().enumerate() {
                        let sep = if k == 0 { "||" } else { "|" };
                        if k > 0 {
                            out.push('\n');
                        }
                        out.push_str(sep);
                        for cell in row {
                            out.push_str(cell);
                            out.push_str(sep);
                        }
                    }
                }
                Block::Media(_, file) => out.push_str(&format!("!{file}|thumbnail!")),
            }
        }
        out
    }
}

fn json_str(out: &mut String, s: &str) {
    // Serializing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn adf_text(out: &mut String, text: &str, mark: Option<&str>) {
    out.push_str(r#"{"type":"text","text":"#);
    json_str(out, text);
    if let Some(m) = mark {
        out.push_str(r#","marks":["#);
        out.push_str(m);
        out.push(']');
    }
    out.push('}');
}

fn adf_inline(out: &mut String, content: &[Inline], site: &Site) {
    out.push_str(r#"{"type":"paragraph","content":["#);
    for (i, x) in content.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match x {
            Inline::Text(t) => adf_text(out, t, None),
            Inline::Strong(t) => adf_text(out, t, Some(r#"{"type":"strong"}"#)),
            Inline::Monospace(t) => adf_text(out, t, Some(r#"{"type":"code"}"#)),
            Inline::Link(t, url) => {
                let mut mark = String::from(r#"{"type":"link","attrs":{"href":"#);
                json_str(&mut mark, url);
                mark.push_str("}}");
                adf_text(out, t, Some(&mark));
            }
            Inline::Mention(u) => {
                let user = &site.users[*u as usize];
                out.push_str(r#"{"type":"mention","attrs":{"id":"#);
                json_str(out, &user.account_id);
                out.push_str(r#","text":"#);
                json_str(out, &format!("@{}", user.display_name));
                out.push_str(r#","accessLevel":""}}"#);
            }
            Inline::Emoji(short, text, _) => {
                out.push_str(r#"{"type":"emoji","attrs":{"shortName":"#);
                json_str(out, short);
                out.push_str(r#","text":"#);
                json_str(out, text);
                out.push_str("}}");
            }
            Inline::HardBreak => out.push_str(r#"{"type":"hardBreak"}"#),
            Inline::Card(url) => {
                out.push_str(r#"{"type":"inlineCard","attrs":{"url":"#);
                json_str(out, url);
                out.push_str("}}");
            }
        }
    }
    out.push_str("]}");
}

fn adf_block(out: &mut String, b: &Block, site: &Site) {
    match b {
        Block::Para(inl) => adf_inline(out, inl, site),
        Block::Bullets(items) | Block::Ordered(items) => {
            if matches!(b, Block::Bullets(_)) {
                out.push_str(r#"{"type":"bulletList","content":["#);
            } else {
                out.push_str(r#"{"type":"orderedList","attrs":{"order":1},"content":["#);
            }
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"type":"listItem","content":["#);
                adf_inline(out, item, site);
                out.push_str("]}");
            }
            out.push_str("]}");
        }
        Block::Code(lang, code) => {
            out.push_str(r#"{"type":"codeBlock","attrs":{"language":"#);
            json_str(out, lang);
            out.push_str(r#"},"content":["#);
            adf_text(out, code, None);
            out.push_str("]}");
        }
        Block::Table(rows) => {
            out.push_str(
                r#"{"type":"table","attrs":{"isNumberColumnEnabled":false,"layout":"default"},"content":["#,
            );
            for (k, row) in rows.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                let cell = if k == 0 { "tableHeader" } else { "tableCell" };
                out.push_str(r#"{"type":"tableRow","content":["#);
                for (c, text) in row.iter().enumerate() {
                    if c > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!(r#"{{"type":"{cell}","attrs":{{}},"content":["#));
                    adf_inline(out, &[Inline::Text(text.clone())], site);
                    out.push_str("]}");
                }
                out.push_str("]}");
            }
            out.push_str("]}");
        }
        Block::Media(id, _) => {
            out.push_str(
                r#"{"type":"mediaSingle","attrs":{"layout":"center"},"content":[{"type":"media","attrs":{"id":"#,
            );
            json_str(out, id);
            out.push_str(r#","type":"file","collection":"","width":1280,"height":720}}]}"#);
        }
    }
}

fn wiki_inline(out: &mut String, content: &[Inline], site: &Site) {
    for x in content {
        match x {
            Inline::Text(t) => out.push_str(t),
            Inline::Strong(t) => out.push_str(&format!("*{t}*")),
            Inline::Monospace(t) => out.push_str(&format!("{{{{{t}}}}}")),
            Inline::Link(t, url) => out.push_str(&format!("[{t}|{url}]")),
            Inline::Mention(u) => {
                let user = &site.users[*u as usize];
                match site.deployment {
                    Deployment::Cloud => out.push_str(&format!("[~accountid:{}]", user.account_id)),
                    Deployment::Datacenter => out.push_str(&format!("[~{}]", user.username)),
                }
            }
            Inline::Emoji(_, _, wiki) => out.push_str(wiki),
            Inline::HardBreak => out.push('\n'),
            Inline::Card(url) => out.push_str(&format!("[{url}|{url}|smart-link]")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GenConfig;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// Checks the ADF nesting rules these bodies use (the ADF JSON schema's content expressions)
    /// and collects node and mark types.
    fn check(node: &Value, parent: &str, seen: &mut BTreeSet<String>) {
        let kind = node["type"].as_str().expect("every node has a type");
        let allowed: &[&str] = match parent {
            "doc" => &[
                "paragraph",
                "bulletList",
                "orderedList",
                "codeBlock",
                "table",
                "mediaSingle",
            ],
            "paragraph" => &["text", "mention", "emoji", "hardBreak", "inlineCard"],
            "bulletList" | "orderedList" => &["listItem"],
            "listItem" | "tableCell" | "tableHeader" => &["paragraph"],
            "codeBlock" => &["text"],
            "table" => &["tableRow"],
            "tableRow" => &["tableCell", "tableHeader"],
            "mediaSingle" => &["media"],
            other => panic!("{other} has no content"),
        };
        assert!(allowed.contains(&kind), "{kind} inside {parent}");
        seen.insert(kind.to_owned());
        match kind {
            "text" => {
                assert!(!node["text"]
                    .as_str()
                    .expect("generated data has it")
                    .is_empty());
                for m in node["marks"].as_array().into_iter().flatten() {
                    assert!(parent != "codeBlock", "no marks in code");
                    seen.insert(format!(
                        "mark:{}",
                        m["type"].as_str().expect("generated data has it")
                    ));
                }
            }
            "mention" => {
                assert!(node["attrs"]["id"].is_string() && node["attrs"]["text"].is_string())
            }
            "emoji" => assert!(node["attrs"]["shortName"]
                .as_str()
                .expect("generated data has it")
                .starts_with(':')),
            "inlineCard" => assert!(node["attrs"]["url"]
                .as_str()
                .expect("generated data has it")
                .starts_with("https://")),
            "media" => assert_eq!(node["attrs"]["type"], "file"),
            _ => {}
        }
        for c in node["content"].as_array().into_iter().flatten() {
            check(c, kind, seen);
        }
    }

    #[test]
    fn generated_comments_use_every_rich_text_feature_in_valid_adf_and_wiki() {
        let (site, _) = crate::generate::generate(&GenConfig {
            deployment: Deployment::Cloud,
            seed: 3,
            issues: 100,
            projects: None,
        });
        let mut seen = BTreeSet::new();
        let mut wiki = String::new();
        for id in 100_000..100_200 {
            let body = RichText::comment(id, site.users.len());
            let doc: Value = serde_json::from_str(&body.adf(&site)).expect("valid JSON");
            assert_eq!(
                (doc["type"].as_str(), doc["version"].as_u64()),
                (Some("doc"), Some(1))
            );
            for c in doc["content"].as_array().expect("generated data has it") {
                check(c, "doc", &mut seen);
            }
            wiki.push_str(&body.wiki(&site));
            wiki.push('\n');
            let text = body.text();
            assert!(!text.trim().is_empty() && !text.contains("[~"), "{text}");
        }
        for kind in [
            "paragraph",
            "mention",
            "emoji",
            "hardBreak",
            "inlineCard",
            "bulletList",
            "orderedList",
            "codeBlock",
            "table",
            "tableHeader",
            "tableCell",
            "mediaSingle",
            "mark:strong",
            "mark:code",
            "mark:link",
        ] {
            assert!(seen.contains(kind), "no {kind} in 200 comments: {seen:?}");
        }
        for markup in [
            "[~accountid:",
            "{code:",
            "||Metric||",
            "\n# ",
            "\n* ",
            "|thumbnail!",
            "|smart-link]",
            "(y)",
        ] {
            assert!(wiki.contains(markup), "no {markup} in the wiki bodies");
        }
        let (dc, _) = crate::generate::generate(&GenConfig {
            deployment: Deployment::Datacenter,
            seed: 3,
            issues: 100,
            projects: None,
        });
        let mentions = (100_000..100_200)
            .map(|id| RichText::comment(id, dc.users.len()).wiki(&dc))
            .filter(|w| w.contains("[~") && !w.contains("[~accountid:"))
            .count();
        assert!(mentions > 0, "Data Center mentions name the user");
    }
}
