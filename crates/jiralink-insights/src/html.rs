//! The HTML report: one self-contained file (inline SVG and CSS, a few lines of script, no network
//! fetch), with the headline numbers, six charts and a table view of each.

use std::fmt::Write;

use crate::Insights;

const W: f64 = 760.0;
const H: f64 = 260.0;
const PAD: f64 = 44.0;

/// Stage colours (to do, active, waiting, done), also used by the legend.
const STAGE_COLOURS: [&str; 4] = ["#c1c7d0", "#0065ff", "#ffab00", "#36b37e"];

pub fn report(r: &Insights) -> String {
    let mut body = String::new();
    headline(&mut body, r);
    scatter(&mut body, r);
    throughput(&mut body, r);
    cumulative_flow(&mut body, r);
    aging(&mut body, r);
    sprints(&mut body, r);
    forecast(&mut body, r);
    tables(&mut body, r);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>jiralink insights · {as_of}</title>
<style>
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px; color: #172b4d; }}
h1 {{ font-size: 22px; margin: 8px 0 2px; }} h2 {{ font-size: 17px; margin: 28px 0 6px; border-bottom: 1px solid #dfe1e6; }}
.muted {{ color: #6b778c; }} .cards {{ display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }}
.card {{ border: 1px solid #dfe1e6; border-radius: 6px; padding: 8px 12px; min-width: 140px; }}
.card b {{ display: block; font-size: 20px; }} svg {{ max-width: 100%; height: auto; background: #fafbfc; border-radius: 6px; }}
table {{ border-collapse: collapse; margin: 6px 0; }} td, th {{ border-bottom: 1px solid #ebecf0; padding: 3px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }} details {{ margin: 4px 0 10px; }} summary {{ cursor: pointer; color: #0052cc; }}
.legend span {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; border-radius: 2px; }}
.risk {{ color: #de350b; font-weight: 600; }}
</style></head>
<body>
<h1>Delivery insights</h1>
<p class="muted">As of {as_of} · completions from {since} to {until} · time zone {tz} · computed locally by jiralink from its store; nothing left this machine.</p>
{body}
<script>
window.addEventListener("error", function (e) {{ document.body.dataset.error = String(e.message); }});
window.addEventListener("load", function () {{
  var charts = document.querySelectorAll("svg.chart"), drawn = 0;
  charts.forEach(function (s) {{ var b = s.getBBox(); if (b.width > 0 && b.height > 0) drawn++; }});
  document.body.dataset.rendered = drawn + "/" + charts.length;
}});
</script>
</body></html>
"#,
        as_of = esc(&r.as_of),
        since = esc(&r.since),
        until = esc(&r.until),
        tz = esc(&r.time_zone),
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}{unit}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.0}%", v * 100.0))
}

fn headline(out: &mut String, r: &Insights) {
    let f = &r.flow;
    let cards = [
        ("Completed", f.completed.to_string()),
        ("Cycle time p85", opt(f.cycle_time_days.p85, " d")),
        ("Lead time p85", opt(f.lead_time_days.p85, " d")),
        ("WIP (at risk)", format!("{} ({})", f.wip, f.at_risk)),
        ("Flow efficiency", pct(f.flow_efficiency)),
        ("Reopen rate", pct(f.reopen_rate)),
        ("Bug share", pct(r.quality.bug_share)),
        ("Velocity (last 3)", opt(r.sprints.velocity, " pts")),
    ];
    out.push_str("<div class=\"cards\">");
    for (label, value) in cards {
        let _ = write!(
            out,
            "<div class=\"card\"><span class=\"muted\">{label}</span><b>{}</b></div>",
            esc(&value)
        );
    }
    out.push_str("</div>");
    let c = &r.coverage;
    let _ = write!(
        out,
        "<p>Covers {} issues in {} projects ({} status changes).",
        c.issues,
        c.projects.len(),
        c.status_changes
    );
    if !c.not_visible.is_empty() {
        let _ = write!(
            out,
            " <span class=\"risk\">Not visible to the credential any more: {}.</span>",
            esc(&c.not_visible.join(", "))
        );
    }
    if !c.not_synced.is_empty() {
        let _ = write!(
            out,
            " <span class=\"risk\">Visible but not synced: {}.</span>",
            esc(&c.not_synced.join(", "))
        );
    }
    out.push_str("</p>");
}

/// Maps a value range to pixels.
struct Axis {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
}

impl Axis {
    fn new(lo: f64, hi: f64, from: f64, to: f64) -> Axis {
        let hi = if hi <= lo { lo + 1.0 } else { hi };
        Axis { lo, hi, from, to }
    }
    fn at(&self, v: f64) -> f64 {
        self.from + (v - self.lo) / (self.hi - self.lo) * (self.to - self.from)
    }
}

fn svg_open(out: &mut String, label: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(label)
    );
}

/// The y axis with four gridlines, and the x baseline.
fn y_grid(out: &mut String, y: &Axis, unit: &str) {
    for k in 0..=4 {
        let v = y.lo + (y.hi - y.lo) * f64::from(k) / 4.0;
        let py = y.at(v);
        let _ = write!(
            out,
            "<line x1=\"{PAD}\" x2=\"{}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#ebecf0\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#6b778c\">{v:.0}{unit}</text>",
            W - 8.0,
            PAD - 4.0,
            py + 3.0
        );
    }
}

fn x_label(out: &mut String, x: f64, text: &str) {
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#6b778c\">{}</text>",
        H - 8.0,
        esc(text)
    );
}

fn table(out: &mut String, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    out.push_str("<details><summary>Table</summary><table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<td>{}</td>", esc(&c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></details>");
}

fn scatter(out: &mut String, r: &Insights) {
    let f = &r.flow;
    out.push_str("<h2>Cycle time</h2>");
    let t = |s: &str| crate::parse_time(s).unwrap_or(0) as f64;
    let x = Axis::new(t(&r.since), t(&r.until), PAD, W - 10.0);
    // Outliers beyond three times the p95 would flatten the rest: they sit on the top edge.
    let max = f.scatter.iter().map(|c| c.cycle_days).fold(1.0, f64::max);
    let max = f
        .cycle_time_days
        .p95
        .map_or(max, |p| max.min(p * 3.0).max(1.0));
    let y = Axis::new(0.0, max, H - 24.0, 12.0);
    svg_open(out, "Cycle-time scatter with percentile lines");
    y_grid(out, &y, "d");
    for c in &f.scatter {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#0065ff\" fill-opacity=\"0.55\"><title>{} · {:.1} d</title></circle>",
            x.at(t(&c.done)),
            y.at(c.cycle_days.min(max)),
            esc(&c.key),
            c.cycle_days
        );
    }
    for (label, v, colour) in [
        ("50%", f.cycle_time_days.p50, "#36b37e"),
        ("85%", f.cycle_time_days.p85, "#ffab00"),
        ("95%", f.cycle_time_days.p95, "#de350b"),
    ] {
        if let Some(v) = v {
            let py = y.at(v);
            let _ = write!(
                out,
                "<line x1=\"{PAD}\" x2=\"{}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"{colour}\" stroke-dasharray=\"5 3\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"{colour}\">{label} {v:.1} d</text>",
                W - 10.0,
                W - 12.0,
                py - 3.0
            );
        }
    }
    x_label(out, PAD + 30.0, &r.since[..10.min(r.since.len())]);
    x_label(out, W - 40.0, &r.until[..10.min(r.until.len())]);
    out.push_str("</svg>");
    table(
        out,
        &["percentile", "cycle time (days)", "lead time (days)"],
        [
            ("50%", f.cycle_time_days.p50, f.lead_time_days.p50),
            ("85%", f.cycle_time_days.p85, f.lead_time_days.p85),
            ("95%", f.cycle_time_days.p95, f.lead_time_days.p95),
        ]
        .into_iter()
        .map(|(p, c, l)| vec![p.into(), opt(c, ""), opt(l, "")]),
    );
}

/// Vertical bars with labels every few bars.
fn bars(out: &mut String, label: &str, data: &[(String, f64)], colour: &str) {
    let max = data.iter().map(|d| d.1).fold(1.0, f64::max);
    let y = Axis::new(0.0, max, H - 24.0, 12.0);
    let slot = (W - PAD - 10.0) / data.len().max(1) as f64;
    svg_open(out, label);
    y_grid(out, &y, "");
    let every = (data.len() / 8).max(1);
    for (i, (name, v)) in data.iter().enumerate() {
        let x0 = PAD + slot * i as f64 + slot * 0.15;
        let _ = write!(
            out,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{} · {v}</title></rect>",
            y.at(*v),
            slot * 0.7,
            y.at(0.0) - y.at(*v),
            esc(name)
        );
        if i % every == 0 {
            x_label(out, x0 + slot * 0.35, name);
        }
    }
    out.push_str("</svg>");
}

fn throughput(out: &mut String, r: &Insights) {
    out.push_str("<h2>Throughput per week</h2>");
    let data: Vec<(String, f64)> = r
        .flow
        .throughput_per_week
        .iter()
        .map(|w| (w.week_start.clone(), w.items as f64))
        .collect();
    bars(out, "Throughput per week", &data, "#0065ff");
    table(
        out,
        &["week starting", "items done"],
        r.flow
            .throughput_per_week
            .iter()
            .map(|w| vec![w.week_start.clone(), w.items.to_string()]),
    );
}

fn cumulative_flow(out: &mut String, r: &Insights) {
    let days = &r.flow.cumulative_flow;
    out.push_str("<h2>Cumulative flow</h2><div class=\"legend muted\">");
    for (name, c) in ["to do", "active", "waiting", "done"]
        .iter()
        .zip(STAGE_COLOURS)
    {
        let _ = write!(out, "<span style=\"background:{c}\"></span>{name}");
    }
    out.push_str("</div>");
    let total = |d: &crate::flow::CfdDay| (d.to_do + d.active + d.waiting + d.done) as f64;
    let max = days.iter().map(total).fold(1.0, f64::max);
    let y = Axis::new(0.0, max, H - 24.0, 12.0);
    let x = Axis::new(
        0.0,
        days.len().saturating_sub(1).max(1) as f64,
        PAD,
        W - 10.0,
    );
    svg_open(out, "Cumulative flow diagram");
    y_grid(out, &y, "");
    // Bands stacked bottom-up: done, waiting, active, to do.
    let layers = |d: &crate::flow::CfdDay| [d.done, d.waiting, d.active, d.to_do];
    for band in 0..4 {
        let mut top = String::new();
        let mut bottom = Vec::new();
        for (i, d) in days.iter().enumerate() {
            let l = layers(d);
            let below: u64 = l[..band].iter().sum();
            let _ = write!(
                top,
                "{:.1},{:.1} ",
                x.at(i as f64),
                y.at((below + l[band]) as f64)
            );
            bottom.push(format!("{:.1},{:.1}", x.at(i as f64), y.at(below as f64)));
        }
        bottom.reverse();
        let colour = STAGE_COLOURS[3 - band];
        let _ = write!(
            out,
            "<polygon points=\"{top}{}\" fill=\"{colour}\" fill-opacity=\"0.85\"/>",
            bottom.join(" ")
        );
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        x_label(out, PAD + 30.0, &first.date);
        x_label(out, W - 40.0, &last.date);
    }
    out.push_str("</svg>");
    table(
        out,
        &["date", "to do", "active", "waiting", "done"],
        days.iter().map(|d| {
            vec![
                d.date.clone(),
                d.to_do.to_string(),
                d.active.to_string(),
                d.waiting.to_string(),
                d.done.to_string(),
            ]
        }),
    );
}

fn aging(out: &mut String, r: &Insights) {
    let f = &r.flow;
    let _ = write!(
        out,
        "<h2>Aging work in progress</h2><p>{} items in progress; {} older than the 85th-percentile cycle time ({}).</p>",
        f.wip,
        f.at_risk,
        opt(f.cycle_time_days.p85, " d")
    );
    let data: Vec<(String, f64)> = f
        .aging
        .iter()
        .map(|a| (a.key.clone(), a.age_days))
        .collect();
    bars(out, "Age of the oldest items in progress", &data, "#ff8b00");
    table(
        out,
        &["issue", "status", "age (days)", "at risk"],
        f.aging.iter().map(|a| {
            vec![
                a.key.clone(),
                a.status.clone(),
                format!("{:.1}", a.age_days),
                if a.at_risk {
                    "yes".into()
                } else {
                    String::new()
                },
            ]
        }),
    );
}

fn sprints(out: &mut String, r: &Insights) {
    let s = &r.sprints.sprints;
    out.push_str("<h2>Sprints: committed vs completed</h2><div class=\"legend muted\"><span style=\"background:#c1c7d0\"></span>committed<span style=\"background:#36b37e\"></span>completed (points)</div>");
    let max = s
        .iter()
        .map(|x| x.committed_points.max(x.completed_points))
        .fold(1.0, f64::max);
    let y = Axis::new(0.0, max, H - 24.0, 12.0);
    let slot = (W - PAD - 10.0) / s.len().max(1) as f64;
    svg_open(out, "Sprint commitment and completion");
    y_grid(out, &y, "");
    let every = (s.len() / 8).max(1);
    for (i, x) in s.iter().enumerate() {
        let x0 = PAD + slot * i as f64 + slot * 0.1;
        for (k, (v, c)) in [
            (x.committed_points, "#c1c7d0"),
            (x.completed_points, "#36b37e"),
        ]
        .into_iter()
        .enumerate()
        {
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{c}\"><title>{} · {v}</title></rect>",
                x0 + slot * 0.4 * k as f64,
                y.at(v),
                slot * 0.38,
                y.at(0.0) - y.at(v),
                esc(&x.name)
            );
        }
        if i % every == 0 {
            x_label(out, x0 + slot * 0.4, &x.name);
        }
    }
    out.push_str("</svg>");
    table(
        out,
        &[
            "sprint",
            "state",
            "committed",
            "added",
            "removed",
            "completed",
            "carried over",
            "committed pts",
            "completed pts",
            "say/do",
        ],
        s.iter().map(|x| {
            vec![
                x.name.clone(),
                x.state.clone(),
                x.committed_items.to_string(),
                x.added_items.to_string(),
                x.removed_items.to_string(),
                x.completed_items.to_string(),
                x.carried_over_items.to_string(),
                format!("{}", x.committed_points),
                format!("{}", x.completed_points),
                pct(x.say_do_ratio),
            ]
        }),
    );
}

fn forecast(out: &mut String, r: &Insights) {
    let f = &r.forecast;
    let _ = write!(
        out,
        "<h2>Forecast</h2><p>Monte Carlo, {} trials (seed {}) over {} days of throughput history ({} items). Days needed to finish {} items:</p>",
        f.trials, f.seed, f.history_days, f.history_items, f.items
    );
    let data: Vec<(String, f64)> = f
        .histogram
        .iter()
        .map(|(d, n)| (format!("{d} d"), f64::from(*n)))
        .collect();
    bars(out, "Forecast histogram", &data, "#6554c0");
    table(
        out,
        &[
            "confidence",
            &format!("items by {}", f.date),
            &format!("{} items done by", f.items),
        ],
        f.results.iter().map(|c| {
            vec![
                format!("{}%", c.confidence),
                c.items_by_date.to_string(),
                c.date_for_items
                    .clone()
                    .unwrap_or_else(|| "beyond 10 years".into()),
            ]
        }),
    );
}

fn tables(out: &mut String, r: &Insights) {
    let q = &r.quality;
    let _ = write!(
        out,
        "<h2>Quality</h2><p>{} of {} items done were bugs ({}). {} bugs open; age p50 {}, p85 {}.</p>",
        q.bugs_completed,
        q.completed,
        pct(q.bug_share),
        q.open_bugs,
        opt(q.open_bug_age_days.p50, " d"),
        opt(q.open_bug_age_days.p85, " d")
    );
    table(
        out,
        &["priority", "open bugs"],
        q.open_bugs_by_priority
            .iter()
            .map(|p| vec![p.priority.clone(), p.items.to_string()]),
    );
    let h = &r.hygiene;
    out.push_str(
        "<h2>Hygiene</h2><table><tr><th>check</th><th>items</th><th>first issues</th></tr>",
    );
    for (name, c) in [
        (
            format!("stale (not updated for {} days)", h.stale_days),
            &h.stale,
        ),
        (
            "started without an assignee".into(),
            &h.started_without_assignee,
        ),
        (
            "done without a resolution".into(),
            &h.done_without_resolution,
        ),
        (
            "no estimate in an active sprint".into(),
            &h.missing_estimates_in_active_sprints,
        ),
    ] {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            c.items,
            esc(&c
                .keys
                .iter()
                .take(8)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "))
        );
    }
    out.push_str("</table><h2>Time in status</h2>");
    table(
        out,
        &["status", "stage", "mean days per item done"],
        r.flow.time_in_status.iter().map(|s| {
            vec![
                s.status.clone(),
                format!("{:?}", s.stage),
                format!("{:.2}", s.mean_days),
            ]
        }),
    );
    out.push_str("<h2>Coverage</h2>");
    table(
        out,
        &["project", "name", "issues", "visible to the credential"],
        r.coverage.projects.iter().map(|p| {
            vec![
                p.key.clone(),
                p.name.clone(),
                p.issues.to_string(),
                match p.visible {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "not audited".into(),
                },
            ]
        }),
    );
}
