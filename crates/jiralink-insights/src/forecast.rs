//! Monte Carlo forecasts from daily throughput history: how many items by a date, and by when a
//! number of items will be done, at 50/85/95% confidence. Each trial draws days at random from the
//! window's daily throughput; the seed makes a run reproducible.

use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::flow::{boundaries, local_date, Timeline};
use crate::{percentile, Options};

/// Trials that need more days than this are counted as "not within ten years".
const HORIZON_DAYS: i64 = 3650;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Confidence {
    pub confidence: u8,
    /// Items done by the date with this confidence (at least this many).
    pub items_by_date: u64,
    /// Date by which the items are done with this confidence.
    pub date_for_items: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Forecast {
    pub seed: u64,
    pub trials: u32,
    pub history_days: u64,
    pub history_items: u64,
    /// The day the forecast starts from (the as-of date): day 0 of `histogram`.
    pub from_date: String,
    pub date: String,
    pub items: u32,
    /// Empty when the window holds no completed item to learn from.
    pub results: Vec<Confidence>,
    /// Days (from `from_date`) needed to finish `items`, and in how many trials.
    pub histogram: Vec<(i64, u32)>,
}

pub fn forecast(timelines: &[Timeline], opts: &Options) -> Forecast {
    let days = boundaries(opts, 1);
    let mut per_day = vec![0u64; days.len().saturating_sub(1)];
    for t in timelines {
        if let Some(d) = t.done_at.filter(|d| (opts.since..opts.until).contains(d)) {
            let i = days.partition_point(|&b| b <= d);
            if i >= 1 && i <= per_day.len() {
                per_day[i - 1] += 1;
            }
        }
    }
    let mut f = Forecast {
        seed: opts.seed,
        trials: opts.trials,
        history_days: per_day.len() as u64,
        history_items: per_day.iter().sum(),
        from_date: local_date(opts, opts.as_of),
        date: local_date(opts, opts.forecast_date),
        items: opts.forecast_items,
        ..Forecast::default()
    };
    if f.history_items == 0 || opts.trials == 0 {
        return f;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let ahead = ((opts.forecast_date - opts.as_of).max(0) + 86_399) / 86_400;
    let mut by_date = Vec::with_capacity(opts.trials as usize);
    let mut needed = Vec::with_capacity(opts.trials as usize);
    for _ in 0..opts.trials {
        let sum: u64 = (0..ahead)
            .map(|_| per_day[rng.gen_range(0..per_day.len())])
            .sum();
        by_date.push(sum as i64);
        let (mut done, mut d) = (0u64, 0i64);
        while done < u64::from(opts.forecast_items) && d < HORIZON_DAYS {
            done += per_day[rng.gen_range(0..per_day.len())];
            d += 1;
        }
        needed.push(if done >= u64::from(opts.forecast_items) {
            d
        } else {
            i64::MAX
        });
    }
    by_date.sort_unstable();
    needed.sort_unstable();
    f.results = [50u8, 85, 95]
        .into_iter()
        .map(|c| Confidence {
            confidence: c,
            items_by_date: percentile(&by_date, f64::from(100 - c)).unwrap_or(0) as u64,
            date_for_items: percentile(&needed, f64::from(c))
                .filter(|&d| d != i64::MAX)
                .map(|d| local_date(opts, opts.as_of + d * 86_400)),
        })
        .collect();
    for d in needed.iter().filter(|&&d| d != i64::MAX) {
        match f.histogram.last_mut() {
            Some((day, n)) if day == d => *n += 1,
            _ => f.histogram.push((*d, 1)),
        }
    }
    f
}
