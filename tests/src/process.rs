//! Worker binaries as child processes: started with flags, stopped with SIGTERM or
//! SIGKILL, their logs kept in a file and printed when a test fails.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A running (or exited) binary of the workspace.
pub struct Process {
    name: String,
    child: Child,
    log_path: PathBuf,
    exit: Option<ExitStatus>,
}

/// Path of a binary built by `cargo build --bins` in this workspace.
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::cluster::repo_root().join("target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` (make test does)",
        path.display()
    );
    path
}

impl Process {
    /// Starts binary `name` with `args` and extra environment.
    pub fn start(name: &str, args: &[String], env: &[(&str, String)]) -> Process {
        let logs = crate::cluster::repo_root().join("target").join("test-logs");
        std::fs::create_dir_all(&logs).expect("log directory");
        let log_path = logs.join(format!("{}.log", crate::unique(name)));
        let log = File::create(&log_path).expect("log file");
        let mut command = Command::new(binary(name));
        command
            .args(args)
            .env("ORDERFLOW_LOG_FORMAT", "pretty")
            .env(
                "RUST_LOG",
                std::env::var("ORDERFLOW_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Process {
            name: name.to_owned(),
            child,
            log_path,
            exit: None,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal`.
    pub fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
    }

    /// SIGKILL, and reaps the process.
    pub fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        self.exit = self.child.wait().ok();
    }

    /// SIGTERM.
    pub fn terminate(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The exit status, if it exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The last `lines` lines it logged, a run of lines that differ only in their
    /// timestamp counted as one (a fenced producer logs each failed delivery: hundreds
    /// of lines that would hide what came before).
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let mut folded: Vec<(&str, usize)> = Vec::new();
        for line in log.lines() {
            match folded.last_mut() {
                Some((first, repeats)) if message(first) == message(line) => *repeats += 1,
                _ => folded.push((line, 0)),
            }
        }
        folded[folded.len().saturating_sub(lines)..]
            .iter()
            .map(|(line, repeats)| match repeats {
                0 => line.to_string(),
                n => format!("{line} [and {n} more like it]"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits up to `timeout` until the log contains a line for which `matches` holds.
    pub async fn wait_for_log(&self, timeout: Duration, matches: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().lines().any(&matches) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Waits until the worker has partitions assigned (from its rebalance log lines).
    pub async fn wait_assigned(&self, timeout: Duration) -> bool {
        self.wait_for_log(timeout, |line| {
            line.contains("rebalance") && line.contains("assigned=") && !line.contains("assigned=0")
        })
        .await
    }

    /// The name of the binary.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            self.kill();
        }
        if crate::failing() {
            eprintln!(
                "==== last lines of {} ({}):\n{}",
                self.name,
                self.log_path.display(),
                self.log_tail(60)
            );
        }
    }
}

/// A log line without its leading timestamp.
fn message(line: &str) -> &str {
    line.split_once(' ').map_or("", |(_, rest)| rest)
}
