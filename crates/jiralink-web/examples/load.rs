//! The load generator of `bench/serve.sh`: N concurrent clients on loopback repeat GET requests
//! to one URL of the web app for a time, then print p50/p99 latency and requests/s as a table row.
//! Usage: JIRALINK_COOKIE=... load URL CLIENTS SECONDS LABEL

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, clients, seconds, label] = args.as_slice() else {
        eprintln!("usage: JIRALINK_COOKIE=... load URL CLIENTS SECONDS LABEL");
        std::process::exit(2);
    };
    let clients: usize = clients.parse().expect("CLIENTS is a number");
    let seconds: u64 = seconds.parse().expect("SECONDS is a number");
    let cookie = std::env::var("JIRALINK_COOKIE").expect("JIRALINK_COOKIE is set");
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, cookie) = (url.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < until {
                let t = Instant::now();
                match http.get(&url).header("cookie", &cookie).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        all.extend(l);
        errors += e;
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "| {label} | {clients} | {} | {errors} | {:.1} | {:.1} | {:.0} |",
        all.len(),
        pct(0.50),
        pct(0.99),
        all.len() as f64 / wall
    );
}
