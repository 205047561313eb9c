//! Simulator throughput: full-field pages of 100 issues per second at latency 0, with the load
//! generated on the same machine (so the figure is a lower bound). Also times site generation.
//!
//! `cargo bench -p jiralink-sim --bench throughput [-- ISSUES SECONDS CLIENTS]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiralink_sim::{Deployment, Sim};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    issues: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    is_last: bool,
    next_page_token: Option<String>,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let issues: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    render_only(issues.min(20_000));
    rt.block_on(run(issues, seconds, clients));
}

/// Rendering alone, one thread, no HTTP: how fast the simulator turns issues into Jira JSON.
fn render_only(issues: usize) {
    let sim = jiralink_sim::generate::generate(&jiralink_sim::GenConfig {
        deployment: Deployment::Cloud,
        seed: 1,
        issues,
        projects: None,
    })
    .0;
    let fields = jiralink_sim::render::FieldSelection::all();
    let expand = jiralink_sim::render::Expand::default();
    let t = Instant::now();
    let mut bytes = 0usize;
    // One view per page of 100, as one request renders one page.
    for page in sim.issues.chunks(100) {
        let view = jiralink_sim::render::View::new(&sim, Some(0), true, "http://127.0.0.1:1");
        for issue in page {
            bytes += view
                .issue(
                    issue,
                    &fields,
                    &expand,
                    jiralink_sim::render::CLOUD_SEARCH_CAPS,
                )
                .get()
                .len();
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!("render only: {issues} issues in {s:.2} s = {:.0} issues/s on one thread, {:.1} KB per issue", issues as f64 / s, bytes as f64 / issues as f64 / 1024.0);
}

async fn run(issues: usize, seconds: u64, clients: usize) {
    let t = Instant::now();
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(issues)
        .seed(1)
        .start()
        .await
        .expect("sim");
    let generated = t.elapsed();
    let admin = sim.identity("admin").expect("admin").clone();
    let pages = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (pages, bytes, errors) = (pages.clone(), bytes.clone(), errors.clone());
        let base = sim.base_url().to_owned();
        let admin = admin.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut token: Option<String> = None;
            while Instant::now() < deadline {
                let mut body = json!({"jql": "project is not EMPTY ORDER BY id", "fields": ["*all"], "maxResults": 100});
                if let Some(t) = &token {
                    body["nextPageToken"] = json!(t);
                }
                let resp = http
                    .post(format!("{base}/rest/api/3/search/jql"))
                    .basic_auth(admin.email.as_deref().unwrap_or_default(), Some(&admin.secret))
                    .json(&body)
                    .send()
                    .await;
                let Ok(resp) = resp else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let Ok(b) = resp.bytes().await else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                // Parse the whole page, but without building a tree: the client should not be
                // what limits the figure.
                let page: Page = match serde_json::from_slice(&b) {
                    Ok(p) => p,
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                if page.issues.len() != 100 && !page.is_last {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                pages.fetch_add(1, Ordering::Relaxed);
                token = page.next_page_token;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let p = pages.load(Ordering::Relaxed) as f64;
    println!("| issues | generate (s) | clients | seconds | pages/s (100 issues, all fields) | issues/s | MB/s | errors |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {issues} | {:.2} | {clients} | {elapsed:.1} | {:.0} | {:.0} | {:.1} | {} |",
        generated.as_secs_f64(),
        p / elapsed,
        p * 100.0 / elapsed,
        bytes.load(Ordering::Relaxed) as f64 / elapsed / 1e6,
        errors.load(Ordering::Relaxed)
    );
}
