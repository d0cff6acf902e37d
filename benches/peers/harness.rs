//! The measuring and printing shared by every scenario: run each contender
//! several times in the same process, take the median, print one table per
//! scenario with the ratio to a named baseline.
//!
//! Choosing scenarios: `cargo bench -- NAME...` or `IOCHANNELS_BENCH=NAME,...`
//! runs only the scenarios whose name contains one of the words;
//! `IOCHANNELS_BENCH_REPS=N` sets the repetitions (default 5).

use std::time::{Duration, Instant};

/// Scenario selection and repetition count, read once from the command line and environment.
pub struct Harness {
    filters: Vec<String>,
    pub reps: usize,
}

impl Harness {
    pub fn from_env() -> Harness {
        let mut filters: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        if let Ok(v) = std::env::var("IOCHANNELS_BENCH") {
            filters.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_owned));
        }
        let reps = std::env::var("IOCHANNELS_BENCH_REPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        Harness { filters, reps }
    }

    /// Whether the scenario `name` was asked for (all are, when no filter is given).
    pub fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// One table: several contenders, each timed `reps` times over the same work.
pub struct Table {
    title: String,
    unit: &'static str,
    items: f64,
    rows: Vec<(String, Vec<Duration>)>,
}

impl Table {
    /// `items` is the amount of work in one run (messages, lines, bytes), shown per second in `unit`.
    pub fn new(title: impl Into<String>, unit: &'static str, items: u64) -> Table {
        Table {
            title: title.into(),
            unit,
            items: items as f64,
            rows: Vec::new(),
        }
    }

    /// Times `run` `reps` times (after one untimed warm-up) and records it under `name`.
    pub fn time(&mut self, name: &str, reps: usize, mut run: impl FnMut() -> Duration) {
        run();
        let samples = (0..reps.max(1)).map(|_| run()).collect();
        self.rows.push((name.to_owned(), samples));
    }

    /// Records a row measured elsewhere (for example a memory figure).
    pub fn record(&mut self, name: &str, samples: Vec<Duration>) {
        self.rows.push((name.to_owned(), samples));
    }

    fn median_rate(&self, samples: &[Duration]) -> f64 {
        let mut s: Vec<f64> = samples.iter().map(|d| d.as_secs_f64()).collect();
        s.sort_by(|a, b| a.total_cmp(b));
        let mid = s[s.len() / 2];
        self.items / mid.max(1e-12)
    }

    /// Prints the table; ratios are to the row named `baseline`.
    pub fn print(&self, baseline: &str) {
        let base = self
            .rows
            .iter()
            .find(|(n, _)| n == baseline)
            .map(|(_, s)| self.median_rate(s));
        println!("\n## {}", self.title);
        println!(
            "{:<40} {:>16} {:>10} {:>22}",
            "contender",
            format!("median {}", self.unit),
            format!("x {baseline}"),
            "min..max"
        );
        for (name, samples) in &self.rows {
            let rate = self.median_rate(samples);
            let ratio = base.map_or(f64::NAN, |b| rate / b);
            let rates: Vec<f64> = samples
                .iter()
                .map(|d| self.items / d.as_secs_f64().max(1e-12))
                .collect();
            let lo = rates.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = rates.iter().cloned().fold(0.0, f64::max);
            println!(
                "{:<40} {:>16} {:>10.2} {:>22}",
                name,
                human(rate),
                ratio,
                format!("{}..{}", human(lo), human(hi))
            );
        }
    }
}

/// 12_345_678.0 -> "12.35 M".
pub fn human(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.2} G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.2} k", v / 1e3)
    } else {
        format!("{v:.2}")
    }
}

/// Times one future to completion on `rt`.
pub fn time_on<F: std::future::Future>(rt: &tokio::runtime::Runtime, fut: F) -> Duration {
    let start = Instant::now();
    rt.block_on(fut);
    start.elapsed()
}

/// A current-thread runtime, or a multi-thread one with `workers` workers.
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    let mut b = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    };
    b.enable_all().build().expect("building a tokio runtime")
}
