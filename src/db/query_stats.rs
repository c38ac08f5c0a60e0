//! This node's figures per query label since the process started: count, errors, total and
//! maximum time, and p50/p95 estimated from a fixed-bucket histogram. Fed by [`super::timed`],
//! read by the operator's `/admin/database` page.
//!
//! The Prometheus histogram (`db_query_duration_seconds`) has the same data across nodes, but
//! quantiles per label need a Prometheus server to compute them; this small summary answers
//! "which statement is slow on this node" without one. It is per node and resets on restart.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Upper bounds of the histogram's buckets, in microseconds (a last bucket holds the rest).
const BUCKET_BOUNDS_MICROS: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// What is kept per label.
#[derive(Clone, Debug, Default)]
struct LabelStats {
    count: u64,
    errors: u64,
    total_micros: u64,
    max_micros: u64,
    buckets: [u64; BUCKET_BOUNDS_MICROS.len() + 1],
}

static STATS: LazyLock<Mutex<HashMap<&'static str, LabelStats>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Records one run of the query named `label`.
pub fn record(label: &'static str, elapsed: Duration, ok: bool) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let bucket = bucket_of(micros);
    // A poisoned lock only means another thread panicked mid-update of plain counters.
    let mut stats = STATS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let entry = stats.entry(label).or_default();
    entry.count += 1;
    entry.errors += u64::from(!ok);
    entry.total_micros = entry.total_micros.saturating_add(micros);
    entry.max_micros = entry.max_micros.max(micros);
    entry.buckets[bucket] += 1;
}

/// The index of the bucket holding `micros`.
fn bucket_of(micros: u64) -> usize {
    BUCKET_BOUNDS_MICROS
        .iter()
        .position(|&bound| micros <= bound)
        .unwrap_or(BUCKET_BOUNDS_MICROS.len())
}

/// The figures of one label.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryFigures {
    pub label: &'static str,
    pub count: u64,
    pub errors: u64,
    pub total: Duration,
    pub mean: Duration,
    /// Estimates: the upper bound of the bucket holding the quantile, never above `max`.
    pub p50: Duration,
    pub p95: Duration,
    pub max: Duration,
}

/// Every label's figures, the largest total time first.
pub fn snapshot() -> Vec<QueryFigures> {
    let stats = STATS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut figures: Vec<QueryFigures> = stats
        .iter()
        .map(|(&label, stats)| figures_of(label, stats))
        .collect();
    drop(stats);
    figures.sort_by(|a, b| b.total.cmp(&a.total).then(a.label.cmp(b.label)));
    figures
}

fn figures_of(label: &'static str, stats: &LabelStats) -> QueryFigures {
    let micros = Duration::from_micros;
    QueryFigures {
        label,
        count: stats.count,
        errors: stats.errors,
        total: micros(stats.total_micros),
        mean: micros(stats.total_micros / stats.count.max(1)),
        p50: micros(quantile(stats, 0.50)),
        p95: micros(quantile(stats, 0.95)),
        max: micros(stats.max_micros),
    }
}

/// The upper bound of the bucket where the `q` quantile falls, capped by the maximum seen (the
/// last bucket has no bound of its own).
fn quantile(stats: &LabelStats, q: f64) -> u64 {
    if stats.count == 0 {
        return 0;
    }
    let rank = ((stats.count as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (index, &in_bucket) in stats.buckets.iter().enumerate() {
        seen += in_bucket;
        if seen >= rank {
            let bound = BUCKET_BOUNDS_MICROS.get(index).copied().unwrap_or(u64::MAX);
            return bound.min(stats.max_micros);
        }
    }
    stats.max_micros
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(samples_micros: &[u64]) -> LabelStats {
        let mut stats = LabelStats::default();
        for &micros in samples_micros {
            let bucket = bucket_of(micros);
            stats.count += 1;
            stats.total_micros += micros;
            stats.max_micros = stats.max_micros.max(micros);
            stats.buckets[bucket] += 1;
        }
        stats
    }

    #[test]
    fn quantiles_are_the_bound_of_their_bucket_and_never_above_the_maximum() {
        // 90 fast queries (≤ 1 ms), 10 slow ones (~40 ms).
        let mut samples = vec![800; 90];
        samples.extend([40_000; 10]);
        let figures = figures_of("test.mixed", &stats_of(&samples));
        assert_eq!(figures.p50, Duration::from_millis(1));
        assert_eq!(figures.p95, Duration::from_millis(40));
        assert_eq!(figures.max, Duration::from_millis(40));
        assert_eq!(figures.count, 100);
        assert_eq!(
            figures.mean,
            Duration::from_micros((90 * 800 + 400_000) / 100)
        );
    }

    #[test]
    fn a_query_slower_than_every_bucket_reports_its_maximum() {
        let figures = figures_of("test.slow", &stats_of(&[30_000_000]));
        assert_eq!(figures.p50, Duration::from_secs(30));
        assert_eq!(figures.p95, Duration::from_secs(30));
    }

    #[test]
    fn recorded_runs_show_in_the_snapshot_with_their_errors() {
        record("test.query_stats.recorded", Duration::from_millis(3), true);
        record("test.query_stats.recorded", Duration::from_millis(7), false);
        let figures = snapshot()
            .into_iter()
            .find(|f| f.label == "test.query_stats.recorded")
            .expect("the label is in the snapshot");
        assert_eq!((figures.count, figures.errors), (2, 1));
        assert_eq!(figures.max, Duration::from_millis(7));
        assert_eq!(figures.total, Duration::from_millis(10));
    }
}
