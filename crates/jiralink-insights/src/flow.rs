//! Flow metrics from each issue's status history: throughput per week, lead and cycle times,
//! cumulative flow, aging work in progress, time in each status, flow efficiency and reopen rate.
//!
//! Definitions (also in docs/insights.md): an item is *done* when its current status is in the
//! done stage; it was done at its last move into that stage (its resolution date, else its creation,
//! when no history says). *Lead time* runs from creation to done; *cycle time* from the first move
//! into a started stage (active or waiting) to done. A *reopen* is a move out of the done stage.

use chrono::{Datelike, TimeZone};
use serde::Serialize;

use crate::load::{Dataset, Issue};
use crate::stages::Stage;
use crate::{days, iso, Options, Percentiles};

/// What one issue's history says, computed once and shared by the metric families.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub done_at: Option<i64>,
    pub started: Option<i64>,
    pub reopens: u32,
    /// Seconds in active and in waiting stages, over the whole history.
    pub active: i64,
    pub waiting: i64,
}

/// The status an issue had at `t` (its first known status before any change).
pub fn status_at(issue: &Issue, t: i64) -> u16 {
    let n = issue.transitions.partition_point(|x| x.at <= t);
    match n {
        0 => issue.transitions.first().map_or(issue.status, |x| x.from),
        n => issue.transitions[n - 1].to,
    }
}

/// Each segment of an issue's history: (status, from, to); the last one is open (`None`).
fn segments(issue: &Issue) -> impl Iterator<Item = (u16, i64, Option<i64>)> + '_ {
    let first = issue.transitions.first().map_or(issue.status, |x| x.from);
    let starts = std::iter::once((first, issue.created)).chain(
        issue
            .transitions
            .iter()
            .map(|x| (x.to, x.at.max(issue.created))),
    );
    let ends = issue
        .transitions
        .iter()
        .map(|x| Some(x.at.max(issue.created)))
        .chain(std::iter::once(None));
    starts.zip(ends).map(|((s, a), b)| (s, a, b))
}

pub fn timeline(issue: &Issue, stages: &[Stage]) -> Timeline {
    let mut t = Timeline::default();
    let mut last_done = None;
    let mut prev: Option<Stage> = None;
    for (status, from, to) in segments(issue) {
        let stage = stages[status as usize];
        match prev {
            Some(p) if p == Stage::Done && stage != Stage::Done => t.reopens += 1,
            Some(p) if p != Stage::Done && stage == Stage::Done => last_done = Some(from),
            _ => {}
        }
        if stage.started() && t.started.is_none() {
            t.started = Some(from);
        }
        if let Some(to) = to {
            match stage {
                Stage::Active => t.active += to - from,
                Stage::Waiting => t.waiting += to - from,
                _ => {}
            }
        }
        prev = Some(stage);
    }
    if stages[issue.status as usize] == Stage::Done {
        t.done_at = Some(last_done.or(issue.resolved).unwrap_or(issue.created));
    }
    t
}

pub fn timelines(ds: &Dataset, stages: &[Stage]) -> Vec<Timeline> {
    ds.issues.iter().map(|i| timeline(i, stages)).collect()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WeekCount {
    pub week_start: String,
    pub items: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CfdDay {
    pub date: String,
    pub to_do: u64,
    pub active: u64,
    pub waiting: u64,
    pub done: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AgingItem {
    pub key: String,
    pub status: String,
    pub age_days: f64,
    pub at_risk: bool,
}

/// The items in progress in one workflow column (status), for the aging chart.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AgingColumn {
    pub status: String,
    pub stage: Stage,
    /// Every item in progress in this status.
    pub items: u64,
    /// Age percentiles of those items, in days.
    pub age_days: Percentiles,
    /// The oldest of them (at most 200), oldest first.
    pub oldest: Vec<AgingItem>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusTime {
    pub status: String,
    pub stage: Stage,
    /// Mean days a completed item spent in this status.
    pub mean_days: f64,
}

/// A completed item, for the cycle-time scatter.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CycleItem {
    pub key: String,
    pub done: String,
    pub cycle_days: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Flow {
    /// Items done in the window.
    pub completed: u64,
    pub throughput_per_week: Vec<WeekCount>,
    pub lead_time_days: Percentiles,
    pub cycle_time_days: Percentiles,
    /// Share of in-progress time spent in active (not waiting) statuses, items done in the window.
    /// `None` while no status is mapped to the waiting stage: every in-progress minute would
    /// count as active and the figure would read 100% whatever the flow.
    pub flow_efficiency: Option<f64>,
    /// The statuses mapped to the waiting stage (the insights config, or the web app's Stages
    /// page); empty: flow efficiency is not measured.
    pub waiting_statuses: Vec<String>,
    pub time_in_status: Vec<StatusTime>,
    /// Items done in the window that were reopened at least once, and their share.
    pub reopened_items: u64,
    pub reopens: u64,
    pub reopen_rate: Option<f64>,
    pub wip: u64,
    pub at_risk: u64,
    /// Open, started items, oldest first (at most 50).
    pub aging: Vec<AgingItem>,
    /// The items in progress by workflow column (status, in the workflow's status order).
    pub aging_columns: Vec<AgingColumn>,
    pub cumulative_flow: Vec<CfdDay>,
    /// Items done in the window, by cycle time (at most 5,000, evenly sampled).
    pub scatter: Vec<CycleItem>,
}

/// Local midnights from the day holding `since` to the first at or after `until`, stepping by
/// `step_days` (7 starts on Mondays).
pub fn boundaries(opts: &Options, step_days: i64) -> Vec<i64> {
    let tz = opts.tz;
    let first = tz
        .timestamp_opt(opts.since, 0)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let first = if step_days == 7 {
        first - chrono::Days::new(u64::from(first.weekday().num_days_from_monday()))
    } else {
        first
    };
    let midnight = |d: chrono::NaiveDate| local_midnight(tz, d);
    let mut out = Vec::new();
    let mut d = first;
    loop {
        let t = midnight(d);
        out.push(t);
        if t >= opts.until {
            break;
        }
        d = d + chrono::Days::new(step_days as u64);
    }
    out
}

/// Cycle times of items done in the window: (issue index, done at, seconds).
pub fn cycle_times(timelines: &[Timeline], opts: &Options) -> Vec<(usize, i64, i64)> {
    timelines
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let done = t.done_at.filter(|d| (opts.since..opts.until).contains(d))?;
            Some((i, done, done - t.started?))
        })
        .collect()
}

pub fn flow(ds: &Dataset, stages: &[Stage], timelines: &[Timeline], opts: &Options) -> Flow {
    let mut f = Flow::default();
    let weeks = boundaries(opts, 7);
    let mut per_week = vec![0u64; weeks.len().saturating_sub(1)];
    let mut leads = Vec::new();
    let mut in_status = vec![0i64; ds.statuses.len()];
    let (mut active, mut waiting) = (0i64, 0i64);
    for (issue, t) in ds.issues.iter().zip(timelines) {
        let Some(done) = t.done_at.filter(|d| (opts.since..opts.until).contains(d)) else {
            continue;
        };
        f.completed += 1;
        leads.push(done - issue.created);
        let w = weeks.partition_point(|&b| b <= done);
        if w >= 1 && w <= per_week.len() {
            per_week[w - 1] += 1;
        }
        active += t.active;
        waiting += t.waiting;
        if t.reopens > 0 {
            f.reopened_items += 1;
            f.reopens += u64::from(t.reopens);
        }
        for (status, a, b) in segments(issue) {
            in_status[status as usize] += b.unwrap_or(done).min(done) - a.min(done);
        }
    }
    f.throughput_per_week = weeks
        .iter()
        .zip(per_week)
        .map(|(&w, items)| WeekCount {
            week_start: local_date(opts, w),
            items,
        })
        .collect();
    f.lead_time_days = Percentiles::of(&mut leads);
    let mut cycles = cycle_times(timelines, opts);
    let mut secs: Vec<i64> = cycles.iter().map(|c| c.2).collect();
    f.cycle_time_days = Percentiles::of(&mut secs);
    let p85 = crate::percentile(&secs, 85.0);
    f.waiting_statuses = stages
        .iter()
        .zip(&ds.statuses)
        .filter(|(s, _)| **s == Stage::Waiting)
        .map(|(_, st)| st.name.clone())
        .collect();
    f.flow_efficiency = (active + waiting > 0 && !f.waiting_statuses.is_empty())
        .then(|| ratio(active, active + waiting));
    f.reopen_rate = (f.completed > 0).then(|| ratio(f.reopened_items as i64, f.completed as i64));
    if f.completed > 0 {
        f.time_in_status = in_status
            .iter()
            .enumerate()
            .filter(|(_, &s)| s > 0)
            .map(|(i, &s)| StatusTime {
                status: ds.statuses[i].name.clone(),
                stage: stages[i],
                mean_days: days(s / f.completed as i64),
            })
            .collect();
    }

    // Aging work in progress, against the p85 cycle time.
    let mut aging: Vec<(i64, usize)> = Vec::new();
    for (i, (issue, t)) in ds.issues.iter().zip(timelines).enumerate() {
        if stages[issue.status as usize].started() {
            aging.push((opts.as_of - t.started.unwrap_or(issue.created), i));
        }
    }
    aging.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    f.wip = aging.len() as u64;
    f.at_risk = aging.iter().filter(|a| Some(a.0) > p85).count() as u64;
    f.aging = aging
        .iter()
        .take(50)
        .map(|&(age, i)| AgingItem {
            key: ds.issues[i].key.clone(),
            status: ds.statuses[ds.issues[i].status as usize].name.clone(),
            age_days: days(age),
            at_risk: p85.is_some_and(|p| age > p),
        })
        .collect();

    let mut by_status: Vec<Vec<(i64, usize)>> = vec![Vec::new(); ds.statuses.len()];
    for &(age, i) in &aging {
        by_status[ds.issues[i].status as usize].push((age, i));
    }
    f.aging_columns = by_status
        .into_iter()
        .enumerate()
        .filter(|(_, items)| !items.is_empty())
        .map(|(status, items)| {
            let mut ages: Vec<i64> = items.iter().map(|a| a.0).collect();
            AgingColumn {
                status: ds.statuses[status].name.clone(),
                stage: stages[status],
                items: items.len() as u64,
                age_days: Percentiles::of(&mut ages),
                oldest: items
                    .iter()
                    .take(200)
                    .map(|&(age, i)| AgingItem {
                        key: ds.issues[i].key.clone(),
                        status: ds.statuses[status].name.clone(),
                        age_days: days(age),
                        at_risk: p85.is_some_and(|p| age > p),
                    })
                    .collect(),
            }
        })
        .collect();

    f.cumulative_flow = cumulative_flow(ds, stages, opts);
    cycles.sort_unstable_by_key(|c| c.1);
    let step = cycles.len().div_ceil(5000).max(1);
    f.scatter = cycles
        .iter()
        .step_by(step)
        .map(|&(i, done, c)| CycleItem {
            key: ds.issues[i].key.clone(),
            done: iso(done),
            cycle_days: days(c),
        })
        .collect();
    f
}

/// Items in each stage at the end of each day of the window.
fn cumulative_flow(ds: &Dataset, stages: &[Stage], opts: &Options) -> Vec<CfdDay> {
    let mut day_ends = boundaries(opts, 1);
    day_ends.remove(0);
    let n = day_ends.len();
    let mut diff = vec![[0i64; 4]; n + 1];
    for issue in &ds.issues {
        for (status, a, b) in segments(issue) {
            let lo = day_ends.partition_point(|&e| e < a);
            let hi = b.map_or(n, |b| day_ends.partition_point(|&e| e < b));
            if lo < hi {
                let s = stages[status as usize] as usize;
                diff[lo][s] += 1;
                diff[hi][s] -= 1;
            }
        }
    }
    let mut run = [0i64; 4];
    day_ends
        .iter()
        .zip(diff)
        .map(|(&e, d)| {
            for s in 0..4 {
                run[s] += d[s];
            }
            CfdDay {
                date: local_date(opts, e - 1),
                to_do: run[0] as u64,
                active: run[1] as u64,
                waiting: run[2] as u64,
                done: run[3] as u64,
            }
        })
        .collect()
}

/// Epoch seconds of the first instant of `date` in `tz` (the earliest, where DST repeats it).
pub fn local_midnight(tz: chrono_tz::Tz, date: chrono::NaiveDate) -> i64 {
    let naive = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .map_or_else(|| naive.and_utc().timestamp(), |t| t.timestamp())
}

/// The calendar date of `t` in the report's time zone.
pub fn local_date(opts: &Options, t: i64) -> String {
    opts.tz
        .timestamp_opt(t, 0)
        .single()
        .map(|d| d.date_naive().to_string())
        .unwrap_or_default()
}

pub(crate) fn ratio(a: i64, b: i64) -> f64 {
    (a as f64 / b as f64 * 10_000.0).round() / 10_000.0
}
