//! Integration tests of the simulator over HTTP: shapes against Atlassian's OpenAPI specs, auth and
//! permissions, paging, and behaviour under latency, rate limits, faults and mutation.

mod admin;
mod auth;
mod behaviour;
mod jql;

mod dc;
mod schema;
mod support;
mod workflow;
mod writemeta;

/// A one-paragraph Atlassian Document Format body.
pub fn support_adf(text: &str) -> serde_json::Value {
    serde_json::json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]})
}
