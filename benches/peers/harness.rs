//! The measuring and printing shared by every scenario: run each contender
//! several times in the same process, take the median, print one table per
//! scenario with the ratio to a named baseline.
//!
//! Choosing scenarios: `cargo bench -- NAME...` or `IOCHANNELS_BENCH=NAME,...`
//! runs only the scenarios whose name contains one of the words (`=NAME`:
//! only the scenario named exactly that);
//! `IOCHANNELS_BENCH_REPS=N` sets the repetitions (default 5).
//!
//! Also what several scenarios measure alike: the process's CPU time, its
//! file limit, the poller cases.

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

    /// Whether the scenario `name` was asked for (all are, when no filter is
    /// given): a word asks for the scenarios whose name contains it (`poller`
    /// runs `poller_net` too), `=word` only the one named exactly that.
    pub fn wants(&self, name: &str) -> bool {
        self.filters.is_empty()
            || self.filters.iter().any(|f| match f.strip_prefix('=') {
                Some(exact) => name == exact,
                None => name.contains(f.as_str()),
            })
    }
}

/// One table: several contenders, each timed `reps` times over the same work.
pub struct Table {
    title: String,
    unit: &'static str,
    items: f64,
    rows: Vec<(String, Vec<Duration>)>,
    /// A second row to show a ratio to (a ceiling), when set.
    also: Option<String>,
}

impl Table {
    /// `items` is the amount of work in one run (messages, lines, bytes), shown per second in `unit`.
    pub fn new(title: impl Into<String>, unit: &'static str, items: u64) -> Table {
        Table {
            title: title.into(),
            unit,
            items: items as f64,
            rows: Vec::new(),
            also: None,
        }
    }

    /// Adds a second ratio column, to the row named `row` (a ceiling).
    pub fn also_ratio_to(mut self, row: &str) -> Table {
        self.also = Some(row.to_owned());
        self
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
        let also = self.also.as_deref().map(|name| {
            let rate = self
                .rows
                .iter()
                .find(|(n, _)| n == name)
                .map_or(f64::NAN, |(_, s)| self.median_rate(s));
            (name, rate)
        });
        println!("\n## {}", self.title);
        print!(
            "{:<40} {:>16} {:>10} {:>22}",
            "contender",
            format!("median {}", self.unit),
            format!("x {baseline}"),
            "min..max"
        );
        match also {
            Some(_) => println!(" {:>10}", "x ceiling"),
            None => println!(),
        }
        for (name, samples) in &self.rows {
            let rate = self.median_rate(samples);
            let ratio = base.map_or(f64::NAN, |b| rate / b);
            let rates: Vec<f64> = samples
                .iter()
                .map(|d| self.items / d.as_secs_f64().max(1e-12))
                .collect();
            let lo = rates.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = rates.iter().cloned().fold(0.0, f64::max);
            print!(
                "{:<40} {:>16} {:>10.2} {:>22}",
                name,
                human(rate),
                ratio,
                format!("{}..{}", human(lo), human(hi))
            );
            match also {
                Some((_, top)) => println!(" {:>10.2}", rate / top),
                None => println!(),
            }
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

/// A child process running this very bench binary with `var=role` in its
/// environment (see each scenario's `child_role`), killed if the bench
/// process unwinds before waiting for it. Its stdin stays open until then:
/// its EOF tells the child that the bench process is gone.
pub struct Kid {
    child: Option<std::process::Child>,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Kid {
    pub fn spawn(var: &str, role: &str) -> Result<Kid, String> {
        Kid::start(std::process::Command::new(Kid::exe()), var, role)
    }

    /// Like [`Kid::spawn`], but through `sh -c script` with this binary's
    /// path as `$0`: the script readies the process (a `ulimit`, say) and
    /// ends with `exec "$0"`, so the child is this binary all the same.
    pub fn spawn_via_sh(var: &str, role: &str, script: &str) -> Result<Kid, String> {
        let mut sh = std::process::Command::new("sh");
        sh.arg("-c").arg(script).arg(Kid::exe());
        Kid::start(sh, var, role)
    }

    /// This very binary, even if a rebuild has replaced its file since;
    /// under valgrind that link names valgrind's tool, so
    /// `IOCHANNELS_BENCH_EXE` can name the binary instead.
    fn exe() -> String {
        std::env::var("IOCHANNELS_BENCH_EXE")
            .unwrap_or_else(|_| format!("/proc/{}/exe", std::process::id()))
    }

    fn start(mut command: std::process::Command, var: &str, role: &str) -> Result<Kid, String> {
        use std::process::Stdio;
        let mut child = command
            .env(var, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawning {role}: {e}"))?;
        let stdout = std::io::BufReader::new(child.stdout.take().ok_or("no child stdout")?);
        let stdin = child.stdin.take();
        Ok(Kid {
            child: Some(child),
            stdin,
            stdout,
        })
    }

    /// Sends one line to the child's stdin.
    pub fn say(&mut self, line: &str) -> Result<(), String> {
        use std::io::Write;
        let stdin = self.stdin.as_mut().ok_or("child stdin closed")?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("writing to a child: {e}"))
    }

    /// The rest of the child's next line, which must start with `word`.
    pub fn expect(&mut self, word: &str) -> Result<String, String> {
        use std::io::BufRead;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading a child: {e}"))?;
        match line.trim_end().strip_prefix(word) {
            Some(rest) => Ok(rest.trim().to_owned()),
            None => Err(format!("expected `{word} ...` from a child, got {line:?}")),
        }
    }

    /// Closes the child's stdin and waits for it to exit.
    pub fn wait(mut self) {
        drop(self.stdin.take());
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// USER_HZ on Linux: the unit of utime and stime in `/proc/self/stat`.
pub const TICKS_PER_SEC: f64 = 100.0;

/// (utime, stime) of this whole process, every thread, in clock ticks
/// (see [`TICKS_PER_SEC`]), from `/proc/self/stat`: rustix 1 has no `getrusage`.
pub fn cpu_ticks() -> Result<(u64, u64), String> {
    let stat =
        std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("/proc/self/stat: {e}"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: indices 11 and 12 here.
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => Ok((u, s)),
        _ => Err("cannot parse /proc/self/stat".to_owned()),
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard one (and the hard one to
/// `want` where allowed, as root); children inherit it. Returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    let hard = now.maximum.unwrap_or(u64::MAX);
    if hard < want {
        let up = Rlimit {
            current: Some(want),
            maximum: Some(want),
        };
        if setrlimit(Resource::Nofile, up).is_ok() {
            return want;
        }
    }
    let up = Rlimit {
        current: Some(hard),
        maximum: now.maximum,
    };
    match setrlimit(Resource::Nofile, up) {
        Ok(()) => hard,
        Err(_) => now.current.unwrap_or(u64::MAX),
    }
}

/// The (connections, percent active) cases of the poller scenarios: those
/// in `var` (`10000:100,100:1`) when set, else 100, 1,000 and 10,000
/// connections each all and 1% active.
pub fn poller_cases(var: &str) -> Vec<(usize, usize)> {
    match std::env::var(var) {
        Ok(v) => v
            .split(',')
            .filter_map(|c| {
                let (n, pct) = c.split_once(':')?;
                Some((n.parse().ok()?, pct.parse().ok()?))
            })
            .collect(),
        Err(_) => [100, 1_000, 10_000]
            .into_iter()
            .flat_map(|n| [(n, 100), (n, 1)])
            .collect(),
    }
}
