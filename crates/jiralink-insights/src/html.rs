//! The HTML report: one self-contained file (inline SVG and CSS, a few lines of script, no network
//! fetch), with the headline numbers, the charts (one sprint chart per board) and a table view of
//! each, every metric with its one-line definition. The web app's dashboard is this same report.

use std::fmt::Write;

use crate::Insights;

const W: f64 = 760.0;
const H: f64 = 260.0;
const PAD: f64 = 44.0;

/// Stage colours (to do, active, waiting, done), also used by the legend.
const STAGE_COLOURS: [&str; 4] = ["#c1c7d0", "#0065ff", "#ffab00", "#36b37e"];

/// The one-line definition of every metric the report shows, by its key.
pub const DEFINITIONS: &[(&str, &str)] = &[
    ("completed", "Items whose status is done now and whose last move into done fell in the window."),
    ("cycle_time", "Days from an item's first move into an in-progress status to its last move into done."),
    ("lead_time", "Days from an item's creation to its last move into done."),
    ("wip", "Items in an in-progress status now; at risk: started longer ago than the 85th-percentile cycle time."),
    ("flow_efficiency", "Share of the in-progress time of items done in the window spent in active, not waiting, statuses."),
    ("reopen_rate", "Share of items done in the window that left done at least once."),
    ("bug_share", "Share of items done in the window whose type counts as a bug."),
    ("velocity", "Mean completed story points of a board's last three closed sprints."),
    ("throughput", "Items done per week (weeks start on Monday, in the report's time zone)."),
    ("cumulative_flow", "Items in each stage (to do, active, waiting, done) at the end of each day."),
    ("aging", "Days since each item in progress was first started, in the workflow column of its status."),
    ("sprints", "Per board: committed = in the sprint at its start; completed = in it at its end and done; points as estimated then."),
    ("forecast", "Monte Carlo: each trial replays days drawn at random from the window's daily throughput."),
    ("quality", "Bugs among items done in the window, and the age of the bugs still open."),
    ("hygiene", "Open items that break a working agreement: stale, unassigned, unresolved or unestimated."),
    ("time_in_status", "Mean days an item done in the window spent in each status."),
    ("coverage", "The projects and issues the report is computed from, and whether the credential still sees them."),
];

/// The definition of metric `key`.
pub fn definition(key: &str) -> &'static str {
    DEFINITIONS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, d)| d)
}

/// A section heading with its metric's definition under it.
fn section(out: &mut String, title: &str, key: &str) {
    let _ = write!(
        out,
        "<h2>{}</h2><p class=\"def\" data-def=\"{key}\">{}</p>",
        esc(title),
        esc(definition(key))
    );
}

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
.risk {{ color: #de350b; font-weight: 600; }} .def {{ color: #6b778c; font-size: 12px; margin: 0 0 6px; }}
.card .def {{ display: block; max-width: 220px; margin: 2px 0 0; }} h3 {{ font-size: 15px; margin: 16px 0 4px; }}
.forecast td:first-child {{ font-weight: 600; }} .clipped {{ color: #de350b; }}
@media print {{ details {{ display: none; }} svg {{ background: none; }} .card {{ break-inside: avoid; }} }}
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
    let velocity = match (&r.sprints.boards[..], r.sprints.velocity) {
        ([_, _, ..], _) => "per board".to_owned(),
        (_, v) => opt(v, " pts"),
    };
    let efficiency = if f.waiting_statuses.is_empty() {
        "not measured".to_owned()
    } else {
        pct(f.flow_efficiency)
    };
    let cards = [
        ("Completed", f.completed.to_string(), "completed"),
        (
            "Cycle time p85",
            opt(f.cycle_time_days.p85, " d"),
            "cycle_time",
        ),
        (
            "Lead time p85",
            opt(f.lead_time_days.p85, " d"),
            "lead_time",
        ),
        ("WIP (at risk)", format!("{} ({})", f.wip, f.at_risk), "wip"),
        ("Flow efficiency", efficiency, "flow_efficiency"),
        ("Reopen rate", pct(f.reopen_rate), "reopen_rate"),
        ("Bug share", pct(r.quality.bug_share), "bug_share"),
        ("Velocity (last 3)", velocity, "velocity"),
    ];
    out.push_str("<div class=\"cards\">");
    for (label, value, key) in cards {
        let _ = write!(
            out,
            "<div class=\"card\" data-metric=\"{key}\"><span class=\"muted\">{label}</span><b>{}</b><span class=\"def\" data-def=\"{key}\">{}</span></div>",
            esc(&value),
            esc(definition(key))
        );
    }
    out.push_str("</div>");
    if f.waiting_statuses.is_empty() {
        out.push_str("<p class=\"risk\" id=\"flow-efficiency-unmeasured\">Flow efficiency is meaningless until waiting statuses are configured: with none, every in-progress day counts as active and the figure reads 100% whatever the flow. Name the statuses where work waits (\"In Review\", \"Blocked\") on the Stages page of the web app or in the insights config file.</p>");
    } else {
        let _ = write!(
            out,
            "<p class=\"muted\">Waiting statuses: {}.</p>",
            esc(&f.waiting_statuses.join(", "))
        );
    }
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

/// Label every n-th slot so that labels (10 px text, about 6 px a character) never overlap.
fn label_every<'a>(labels: impl Iterator<Item = &'a str>, slot: f64) -> usize {
    let longest = labels.map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    ((longest * 6.0 + 8.0) / slot.max(1.0)).ceil().max(1.0) as usize
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

/// The cycle-time scatter's y axis: every point when the slowest item is within three times the
/// p95 (the axis adapts), else three times the p95, the points beyond it marked on the top edge
/// and counted. Returns the axis top and the points beyond it.
pub fn scatter_axis(f: &crate::flow::Flow) -> (f64, usize) {
    duration_axis(
        f.scatter.iter().map(|c| c.cycle_days),
        f.cycle_time_days.p95,
    )
}

fn scatter(out: &mut String, r: &Insights) {
    let f = &r.flow;
    section(out, "Cycle time", "cycle_time");
    let t = |s: &str| crate::parse_time(s).unwrap_or(0) as f64;
    let x = Axis::new(t(&r.since), t(&r.until), PAD, W - 10.0);
    let (max, beyond) = scatter_axis(f);
    let y = Axis::new(0.0, max, H - 24.0, 16.0);
    let _ = write!(
        out,
        "<svg class=\"chart\" data-chart=\"scatter\" data-points=\"{}\" data-beyond-axis=\"{beyond}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Cycle-time scatter with percentile lines and a rolling average\" xmlns=\"http://www.w3.org/2000/svg\">",
        f.scatter.len()
    );
    y_grid(out, &y, "d");
    for c in &f.scatter {
        let cx = x.at(t(&c.done));
        if c.cycle_days > max {
            // Beyond the axis: a red triangle on the top edge, never a dot that lies.
            let _ = write!(
                out,
                "<path class=\"beyond\" d=\"M{:.1},{:.1}l-4,7h8z\" fill=\"#de350b\"><title>{} · {:.1} d (beyond the axis)</title></path>",
                cx,
                y.at(max) - 9.0,
                esc(&c.key),
                c.cycle_days
            );
        } else {
            let _ = write!(
                out,
                "<circle cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#0065ff\" fill-opacity=\"0.55\"><title>{} · {:.1} d</title></circle>",
                y.at(c.cycle_days),
                esc(&c.key),
                c.cycle_days
            );
        }
    }
    // The rolling average of the last 20 items done (in done order), clipped at the axis top.
    let mut by_done: Vec<(f64, f64)> = f
        .scatter
        .iter()
        .map(|c| (t(&c.done), c.cycle_days))
        .collect();
    by_done.sort_by(|a, b| a.0.total_cmp(&b.0));
    if by_done.len() >= 2 {
        let window = 20.min(by_done.len());
        let mut sum = 0.0;
        let mut points = String::new();
        for (i, (at, v)) in by_done.iter().enumerate() {
            sum += v;
            if i >= window {
                sum -= by_done[i - window].1;
            }
            let n = (i + 1).min(window) as f64;
            let _ = write!(points, "{:.1},{:.1} ", x.at(*at), y.at((sum / n).min(max)));
        }
        let _ = write!(
            out,
            "<polyline class=\"rolling\" points=\"{}\" fill=\"none\" stroke=\"#172b4d\" stroke-width=\"1.5\"><title>rolling average of the last {window} items</title></polyline>",
            points.trim_end()
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
    if beyond > 0 {
        let slowest = f.scatter.iter().map(|c| c.cycle_days).fold(0.0, f64::max);
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"10\" font-size=\"10\" fill=\"#de350b\">▲ {beyond} beyond the axis (up to {slowest:.1} d)</text>",
            PAD + 4.0
        );
    }
    x_label(out, PAD + 30.0, &r.since[..10.min(r.since.len())]);
    x_label(out, W - 40.0, &r.until[..10.min(r.until.len())]);
    out.push_str("</svg><p class=\"muted\" id=\"scatter-note\">");
    if beyond > 0 {
        let _ = write!(
            out,
            "<span class=\"clipped\">{beyond} item(s) took longer than the axis shows ({:.1} d, three times the p95): each is a red triangle on the top edge.</span> ",
            max
        );
    }
    // Items done without ever being in progress have no cycle time: the sample is of those with one.
    if (f.scatter.len() as u64) < f.cycle_time_days.count {
        let _ = write!(
            out,
            "Showing {} of {} items with a cycle time, evenly sampled; the percentiles count them all. ",
            f.scatter.len(),
            f.cycle_time_days.count
        );
    }
    out.push_str("The dark line is the rolling average of the last 20 items done.</p>");
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
    let every = label_every(data.iter().map(|d| d.0.as_str()), slot);
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
    section(out, "Throughput per week", "throughput");
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
    section(out, "Cumulative flow", "cumulative_flow");
    out.push_str("<div class=\"legend muted\">");
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

/// The y axis of a chart of durations: every value when the largest is within three times the
/// p95 (the axis adapts), else three times the p95, and how many values lie beyond it.
fn duration_axis(values: impl Iterator<Item = f64> + Clone, p95: Option<f64>) -> (f64, usize) {
    let max = values.clone().fold(1.0, f64::max);
    let cap = p95.map_or(max, |p| (p * 3.0).max(1.0));
    if max <= cap {
        return (max, 0);
    }
    (cap, values.filter(|v| *v > cap).count())
}

fn aging(out: &mut String, r: &Insights) {
    let f = &r.flow;
    let _ = write!(
        out,
        "<h2>Aging work in progress</h2><p class=\"def\" data-def=\"aging\">{}</p><p>{} items in progress; {} older than the 85th-percentile cycle time ({}). Each dot is an item in its workflow column; the bands are the cycle-time percentiles of items done.</p>",
        esc(definition("aging")),
        f.wip,
        f.at_risk,
        opt(f.cycle_time_days.p85, " d")
    );
    let cols = &f.aging_columns;
    let ages = cols
        .iter()
        .flat_map(|c| c.oldest.iter().map(|a| a.age_days));
    let (max, beyond) = duration_axis(ages, f.cycle_time_days.p95);
    let max = f.cycle_time_days.p95.map_or(max, |p| max.max(p * 1.05));
    let y = Axis::new(0.0, max, H - 24.0, 16.0);
    let slot = (W - PAD - 10.0) / cols.len().max(1) as f64;
    let drawn: usize = cols.iter().map(|c| c.oldest.len()).sum();
    let _ = write!(
        out,
        "<svg class=\"chart\" data-chart=\"aging\" data-points=\"{drawn}\" data-beyond-axis=\"{beyond}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Aging work in progress by workflow column, with cycle-time percentile bands\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    // Percentile bands: below p50 green, to p85 yellow, to p95 orange, above red.
    let c = &f.cycle_time_days;
    let mut lo = 0.0;
    for (hi, colour) in [
        (c.p50, "#e3fcef"),
        (c.p85, "#fffae6"),
        (c.p95, "#fff0e0"),
        (Some(max), "#ffebe6"),
    ] {
        if let Some(hi) = hi.map(|h| h.min(max)) {
            if hi > lo {
                let _ = write!(
                    out,
                    "<rect x=\"{PAD}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"/>",
                    y.at(hi),
                    W - PAD - 10.0,
                    y.at(lo) - y.at(hi)
                );
                lo = hi;
            }
        }
    }
    y_grid(out, &y, "d");
    for (label, v) in [("50%", c.p50), ("85%", c.p85), ("95%", c.p95)] {
        if let Some(v) = v.filter(|v| *v <= max) {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#6b778c\">{label} {v:.1} d</text>",
                W - 12.0,
                y.at(v) - 3.0
            );
        }
    }
    for (k, col) in cols.iter().enumerate() {
        let cx = PAD + slot * (k as f64 + 0.5);
        for (n, a) in col.oldest.iter().enumerate() {
            // Spread the dots of a column a little, so that equal ages stay visible.
            let dx = ((n % 7) as f64 - 3.0) * (slot * 0.06).min(6.0);
            let colour = if a.at_risk { "#de350b" } else { "#0065ff" };
            if a.age_days > max {
                let _ = write!(
                    out,
                    "<path class=\"beyond\" d=\"M{:.1},{:.1}l-4,7h8z\" fill=\"#de350b\"><title>{} · {} · {:.1} d (beyond the axis)</title></path>",
                    cx + dx,
                    y.at(max) - 9.0,
                    esc(&a.key),
                    esc(&a.status),
                    a.age_days
                );
            } else {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\" fill-opacity=\"0.7\"><title>{} · {} · {:.1} d</title></circle>",
                    cx + dx,
                    y.at(a.age_days),
                    esc(&a.key),
                    esc(&a.status),
                    a.age_days
                );
            }
        }
        x_label(out, cx, &format!("{} ({})", col.status, col.items));
    }
    if beyond > 0 {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"10\" font-size=\"10\" fill=\"#de350b\">▲ {beyond} beyond the axis</text>",
            PAD + 4.0
        );
    }
    out.push_str("</svg>");
    let shown: u64 = cols.iter().map(|c| c.oldest.len() as u64).sum();
    if shown < f.wip || beyond > 0 {
        let _ = write!(
            out,
            "<p class=\"muted\" id=\"aging-note\">{}{}</p>",
            if shown < f.wip {
                format!(
                    "Showing the {shown} oldest of {} items in progress (at most 200 per column). ",
                    f.wip
                )
            } else {
                String::new()
            },
            if beyond > 0 {
                format!("<span class=\"clipped\">{beyond} item(s) are older than the axis shows ({max:.1} d, three times the p95 cycle time): red triangles on the top edge.</span>")
            } else {
                String::new()
            }
        );
    }
    table(
        out,
        &[
            "column (status)",
            "stage",
            "items",
            "age p50 (days)",
            "age p85 (days)",
            "oldest",
        ],
        cols.iter().map(|c| {
            vec![
                c.status.clone(),
                format!("{:?}", c.stage),
                c.items.to_string(),
                opt(c.age_days.p50, ""),
                opt(c.age_days.p85, ""),
                c.oldest
                    .first()
                    .map(|a| format!("{} ({:.1} d)", a.key, a.age_days))
                    .unwrap_or_default(),
            ]
        }),
    );
}

fn sprints(out: &mut String, r: &Insights) {
    section(out, "Sprints: committed vs completed, per board", "sprints");
    if r.sprints.boards.is_empty() {
        out.push_str("<p class=\"muted\">No sprint started in the window.</p>");
        return;
    }
    out.push_str("<div class=\"legend muted\"><span style=\"background:#c1c7d0\"></span>committed<span style=\"background:#36b37e\"></span>completed (points)</div>");
    for board in &r.sprints.boards {
        let s: Vec<&crate::sprints::SprintReport> = board
            .sprints
            .iter()
            .map(|&i| &r.sprints.sprints[i])
            .collect();
        let _ = write!(
            out,
            "<h3 data-board=\"{}\">{}</h3><p class=\"muted\">{} sprint(s) · velocity {} · say/do {}</p>",
            esc(&board.board_id),
            esc(&board.board),
            s.len(),
            opt(board.velocity, " pts"),
            pct(board.say_do_ratio)
        );
        sprint_chart(out, &board.board, &s);
    }
}

/// One board's sprints: committed and completed points side by side, in start order.
fn sprint_chart(out: &mut String, board: &str, s: &[&crate::sprints::SprintReport]) {
    let max = s
        .iter()
        .map(|x| x.committed_points.max(x.completed_points))
        .fold(1.0, f64::max);
    let y = Axis::new(0.0, max, H - 24.0, 12.0);
    let slot = (W - PAD - 10.0) / s.len().max(1) as f64;
    svg_open(out, &format!("Sprint commitment and completion of {board}"));
    y_grid(out, &y, "");
    let every = label_every(s.iter().map(|x| x.name.as_str()), slot);
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

/// The calendar date `days` after `from` (YYYY-MM-DD).
fn date_after(from: &str, days: i64) -> String {
    chrono::NaiveDate::parse_from_str(from, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_days(chrono::Days::new(days.max(0) as u64)))
        .map_or_else(|| format!("+{days} d"), |d| d.to_string())
}

fn forecast(out: &mut String, r: &Insights) {
    let f = &r.forecast;
    section(out, "Forecast", "forecast");
    let _ = write!(
        out,
        "<p class=\"muted\">{} trials (seed {}) over {} days of throughput history ({} items done), from {}.</p>",
        f.trials, f.seed, f.history_days, f.history_items, esc(&f.from_date)
    );
    if f.results.is_empty() {
        out.push_str("<p class=\"risk\" id=\"forecast-none\">No item was done in the window: there is no throughput to forecast from.</p>");
    }
    let _ = write!(
        out,
        "<h3>When will {} items be done?</h3><table class=\"forecast\" id=\"forecast-when\"><tr><th>confidence</th><th>done by</th></tr>",
        f.items
    );
    for c in &f.results {
        let _ = write!(
            out,
            "<tr data-confidence=\"{}\"><td>{}%</td><td>{}</td></tr>",
            c.confidence,
            c.confidence,
            esc(c.date_for_items.as_deref().unwrap_or("not within 10 years"))
        );
    }
    let _ = write!(
        out,
        "</table><h3>How many items by {}?</h3><table class=\"forecast\" id=\"forecast-by-date\"><tr><th>confidence</th><th>at least</th></tr>",
        esc(&f.date)
    );
    for c in &f.results {
        let _ = write!(
            out,
            "<tr data-confidence=\"{}\"><td>{}%</td><td>{} items</td></tr>",
            c.confidence, c.confidence, c.items_by_date
        );
    }
    let _ = write!(
        out,
        "</table><p class=\"muted\">Trials by the date {} items are done:</p>",
        f.items
    );
    let data: Vec<(String, f64)> = f
        .histogram
        .iter()
        .map(|(d, n)| (date_after(&f.from_date, *d), f64::from(*n)))
        .collect();
    bars(out, "Forecast: trials by completion date", &data, "#6554c0");
    table(
        out,
        &["done by", "trials"],
        data.iter().map(|(d, n)| vec![d.clone(), n.to_string()]),
    );
}

fn tables(out: &mut String, r: &Insights) {
    let q = &r.quality;
    let _ = write!(
        out,
        "<h2>Quality</h2><p class=\"def\" data-def=\"quality\">{}</p><p>{} of {} items done were bugs ({}). {} bugs open; age p50 {}, p85 {}.</p>",
        esc(definition("quality")),
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
    section(out, "Hygiene", "hygiene");
    out.push_str("<table><tr><th>check</th><th>items</th><th>first issues</th></tr>");
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
    out.push_str("</table>");
    section(out, "Time in status", "time_in_status");
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
    section(out, "Coverage", "coverage");
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
