//! Test support: an HTTP client acting as a seeded identity, and an OpenAPI response validator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jiralink_sim::{Identity, Sim, SimBuilder};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The builder of a simulator of `issues` issues generated from `seed`, for a test to add to.
pub fn seeded(deployment: jiralink_sim::Deployment, issues: usize, seed: u64) -> SimBuilder {
    Sim::builder()
        .deployment(deployment)
        .issues(issues)
        .seed(seed)
}

/// A simulator of `issues` issues generated from `seed`, started.
pub async fn start_sim(deployment: jiralink_sim::Deployment, issues: usize, seed: u64) -> Sim {
    seeded(deployment, issues, seed).start().await.expect("sim")
}

/// How a test client authenticates.
#[derive(Clone)]
pub enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
}

impl Auth {
    /// The credentials an identity of the start-up line describes.
    pub fn of(id: &Identity) -> Auth {
        match id.auth.as_str() {
            "service-account" | "pat" => Auth::Bearer(id.secret.clone()),
            _ => Auth::Basic(
                id.email.clone().or(id.username.clone()).unwrap_or_default(),
                id.secret.clone(),
            ),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    pub base: String,
    auth: Auth,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Client {
    pub fn new(base: &str, auth: Auth) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            auth,
        }
    }

    /// A client for a named identity of the simulator, on the site URL.
    pub fn as_identity(sim: &Sim, name: &str) -> Client {
        let id = sim
            .identity(name)
            .unwrap_or_else(|| panic!("the simulator has no identity {name}"));
        Client::new(sim.base_url(), Auth::of(id))
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Accept", "application/json");
        req = match &self.auth {
            Auth::None => req,
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
            Auth::Bearer(t) => req.bearer_auth(t),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the simulator answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("a complete body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }
}

/// One of Atlassian's published OpenAPI documents, with validators compiled on demand.
pub struct Spec {
    doc: Value,
    /// Components with OpenAPI 3.0's `nullable` turned into JSON Schema's type unions.
    components: Value,
    cache: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn shared_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/jira-openapi")
}

pub fn platform() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load("jira-platform-v3.json"))
}

pub fn agile() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load("jira-software-agile-v1.json"))
}

/// Properties that real Jira sends as `null` although the spec does not mark them nullable: a
/// changelog item has no `from` when a field was first set and no `to` when it was cleared.
const KNOWN_NULLABLE: &[(&str, &str)] = &[
    ("ChangeDetails", "from"),
    ("ChangeDetails", "fromString"),
    ("ChangeDetails", "to"),
    ("ChangeDetails", "toString"),
];

/// Rewrites OpenAPI 3.0 schema keywords that JSON Schema reads differently.
fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = o.get("type").cloned() {
                    o.insert("type".into(), json!([t, "null"]));
                } else if o.contains_key("allOf") || o.contains_key("$ref") {
                    let inner = Value::Object(std::mem::take(o));
                    o.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                }
            }
            for child in o.values_mut() {
                to_json_schema(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

impl Spec {
    fn load(file: &str) -> Spec {
        let path = shared_dir().join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text).expect("the spec is JSON");
        let mut components = doc.get("components").cloned().unwrap_or(json!({}));
        for (schema, property) in KNOWN_NULLABLE {
            if let Some(p) =
                components.pointer_mut(&format!("/schemas/{schema}/properties/{property}"))
            {
                p["nullable"] = json!(true);
            }
        }
        to_json_schema(&mut components);
        Spec {
            doc,
            components,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The response schema of `method path_template` for `status`, if the spec gives one.
    pub fn response_schema(&self, method: &str, template: &str, status: u16) -> Option<Value> {
        let op = self
            .doc
            .get("paths")?
            .get(template)?
            .get(method.to_lowercase())?;
        let schema = op
            .get("responses")?
            .get(status.to_string())?
            .get("content")?
            .get("application/json")?
            .get("schema")?;
        let mut schema = schema.clone();
        to_json_schema(&mut schema);
        (schema != json!({})).then_some(schema)
    }

    pub fn has_operation(&self, method: &str, template: &str) -> bool {
        self.doc
            .get("paths")
            .and_then(|p| p.get(template))
            .and_then(|p| p.get(method.to_lowercase()))
            .is_some()
    }

    /// Validates `body` against a schema, resolving `#/components/...` references.
    pub fn check(&self, schema: &Value, body: &Value) -> Result<(), Vec<String>> {
        let key = schema.to_string();
        let validator = {
            let mut cache = self.cache.lock().expect("cache lock");
            match cache.get(&key) {
                Some(v) => v.clone(),
                None => {
                    let mut root = schema.clone();
                    if let Value::Object(o) = &mut root {
                        o.insert("components".into(), self.components.clone());
                    }
                    let v = Arc::new(
                        // Formats stay annotations: real Jira writes `+0000` offsets, which
                        // RFC 3339's `date-time` (with `+00:00`) would refuse.
                        jsonschema::options()
                            .with_draft(jsonschema::Draft::Draft4)
                            .should_validate_formats(false)
                            .build(&root)
                            .unwrap_or_else(|e| panic!("schema does not compile: {e}")),
                    );
                    cache.insert(key, v.clone());
                    v
                }
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(body)
            .take(10)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Validates a reply against the spec's schema for `method template` and the reply's status.
    /// Fails when the spec documents no such operation; returns false when it gives no schema.
    pub fn validate(&self, method: &str, template: &str, reply: &Reply) -> bool {
        assert!(
            self.has_operation(method, template),
            "the spec has no operation {method} {template}"
        );
        let Some(schema) = self.response_schema(method, template, reply.status.as_u16()) else {
            return false;
        };
        if let Err(errors) = self.check(&schema, &reply.body) {
            panic!(
                "{method} {template} ({}) does not match the spec:\n  {}\nbody: {}",
                reply.status,
                errors.join("\n  "),
                truncate(&reply.body.to_string(), 1500)
            );
        }
        true
    }
}

pub fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Data Center's answer for a resource it does not have (Jersey's 404, see tests/it/dc.rs).
pub fn assert_dc_unknown_resource(reply: &Reply) {
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.body["status-code"], 404, "{}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("null for uri: ")),
        "{}",
        reply.body
    );
}

/// Jira's error body: `errorMessages` (array of strings) and `errors` (object).
pub fn assert_error_body(reply: &Reply) {
    let schema = json!({"$ref": "#/components/schemas/ErrorCollection"});
    platform()
        .check(&schema, &reply.body)
        .unwrap_or_else(|e| panic!("not Jira's error body: {e:?}: {}", reply.body));
    assert!(
        reply.body["errorMessages"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
            || reply.body["errors"]
                .as_object()
                .is_some_and(|e| !e.is_empty()),
        "the error body names no error: {}",
        reply.body
    );
}
