//! The dev stack's live view: one line per worker (consumed, produced, dead-lettered,
//! lag, latency), redrawn in place on a terminal, or logged periodically otherwise.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use orderflow_runtime::metrics::{StatusSnapshot, WorkerStatus};

/// What the view shows besides the workers.
#[derive(Debug)]
pub struct Header {
    /// Where clients can connect.
    pub bootstrap: String,
    /// Where the metrics are.
    pub http: String,
    /// Where the logs go, if to a file.
    pub log_file: Option<String>,
    /// Events generated so far.
    pub generated: Arc<AtomicU64>,
}

/// The table for these workers, with per-second rates computed against `previous`.
pub fn render(
    header: &Header,
    workers: &[(&str, StatusSnapshot)],
    previous: &[StatusSnapshot],
    seconds: f64,
    uptime: Duration,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "orderflow dev: broker {}  metrics http://{}/metrics  up {}s  generated {}\n\n",
        header.bootstrap,
        header.http,
        uptime.as_secs(),
        header.generated.load(Ordering::Relaxed)
    ));
    out.push_str(&format!(
        "{:<16} {:>10} {:>9} {:>10} {:>9} {:>8} {:>6} {:>11} {:>5}\n",
        "worker", "consumed", "in/s", "produced", "out/s", "dlq", "lag", "latency", "parts"
    ));
    for (i, (name, now)) in workers.iter().enumerate() {
        let before = previous.get(i).copied().unwrap_or_default();
        let rate = |a: u64, b: u64| (a.saturating_sub(b)) as f64 / seconds.max(1e-3);
        out.push_str(&format!(
            "{:<16} {:>10} {:>9.0} {:>10} {:>9.0} {:>8} {:>6} {:>11} {:>5}\n",
            name,
            now.consumed,
            rate(now.consumed, before.consumed),
            now.produced,
            rate(now.produced, before.produced),
            now.dead_lettered,
            if now.lag < 0 {
                "-".to_owned()
            } else {
                now.lag.to_string()
            },
            if now.latency_us == 0 {
                "-".to_owned()
            } else {
                format!("{:.1} ms", now.latency_us as f64 / 1000.0)
            },
            now.assigned,
        ));
    }
    if let Some(file) = &header.log_file {
        out.push_str(&format!("\nlogs: {file}    Ctrl-C to stop\n"));
    } else {
        out.push_str("\nCtrl-C to stop\n");
    }
    out
}

/// Redraws the view every second until `stop` resolves.
pub async fn run(header: Header, workers: Vec<Arc<WorkerStatus>>, stop: impl Future<Output = ()>) {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let started = Instant::now();
    let mut previous: Vec<StatusSnapshot> = workers.iter().map(|w| w.snapshot()).collect();
    let mut last = Instant::now();
    let every = if terminal {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    };
    let mut tick = tokio::time::interval(every);
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        let now: Vec<(&str, StatusSnapshot)> =
            workers.iter().map(|w| (w.name, w.snapshot())).collect();
        let seconds = last.elapsed().as_secs_f64();
        if terminal {
            let table = render(&header, &now, &previous, seconds, started.elapsed());
            let mut stdout = std::io::stdout().lock();
            // Clear the screen and draw from the top-left corner.
            let _ = write!(stdout, "\x1b[2J\x1b[H{table}");
            let _ = stdout.flush();
        } else {
            for (name, snapshot) in &now {
                println!(
                    "worker={name} consumed={} produced={} dead_lettered={} lag={} latency_ms={:.1} partitions={}",
                    snapshot.consumed,
                    snapshot.produced,
                    snapshot.dead_lettered,
                    snapshot.lag,
                    snapshot.latency_us as f64 / 1000.0,
                    snapshot.assigned
                );
            }
        }
        previous = now.into_iter().map(|(_, s)| s).collect();
        last = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_worker_with_its_rates() {
        let header = Header {
            bootstrap: "127.0.0.1:1234".into(),
            http: "127.0.0.1:9090".into(),
            log_file: None,
            generated: Arc::new(AtomicU64::new(500)),
        };
        let now = StatusSnapshot {
            consumed: 300,
            produced: 250,
            dead_lettered: 2,
            lag: 7,
            latency_us: 12_500,
            assigned: 6,
        };
        let before = StatusSnapshot {
            consumed: 100,
            produced: 50,
            ..StatusSnapshot::default()
        };
        let table = render(
            &header,
            &[("order-status", now)],
            &[before],
            2.0,
            Duration::from_secs(9),
        );
        assert!(table.contains("127.0.0.1:1234"), "{table}");
        let line = table
            .lines()
            .find(|l| l.starts_with("order-status"))
            .unwrap();
        let cells: Vec<_> = line.split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "order-status",
                "300",
                "100",
                "250",
                "100",
                "2",
                "7",
                "12.5",
                "ms",
                "6"
            ]
        );
    }
}
