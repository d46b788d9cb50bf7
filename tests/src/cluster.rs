//! A private Apache Kafka cluster on loopback for tests that stop, kill or pause
//! brokers: they must not disturb the shared broker other tests run against.
//!
//! It drives `scripts/kafka.sh` with its own state directory and ports, so it needs
//! Java 17+ and Maven (the same as `make test` without Docker).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use orderflow_runtime::kafka::KafkaSettings;

/// Brokers started by this test; stopped (and their logs printed on failure) on drop.
pub struct LocalCluster {
    env: Vec<(String, String)>,
    state_dir: PathBuf,
    base_port: u16,
    brokers: usize,
    bootstrap_servers: String,
}

impl LocalCluster {
    /// Starts `brokers` (1 or 3) brokers and waits until they serve metadata.
    pub async fn start(brokers: usize) -> LocalCluster {
        LocalCluster::start_with(brokers, &[]).await
    }

    /// Starts `brokers` brokers with the KRaft controller in a process of its own, which
    /// lives on when a broker is killed. A killed broker is started again once the
    /// controller fenced it (see `wait_fenced` in scripts/kafka.sh for why).
    pub async fn start_with_separate_controller(brokers: usize) -> LocalCluster {
        LocalCluster::start_args(brokers, &[], &["--separate-controller"]).await
    }

    /// Starts one broker that also listens with SASL_SSL (SCRAM-SHA-256, user
    /// `orderflow`, password [`SCRAM_PASSWORD`]) on [`Self::secure_servers`], and on
    /// [`Self::mismatch_servers`] with a certificate for another host name.
    pub async fn start_secure() -> LocalCluster {
        LocalCluster::start_with(
            1,
            &[
                ("KAFKA_SASL_SSL", "1"),
                ("KAFKA_SCRAM_PASSWORD", SCRAM_PASSWORD),
            ],
        )
        .await
    }

    /// The SASL_SSL listener of a secure cluster.
    pub fn secure_servers(&self) -> String {
        format!("127.0.0.1:{}", self.base_port + 200)
    }

    /// The SASL_SSL listener whose certificate names another host.
    pub fn mismatch_servers(&self) -> String {
        format!("127.0.0.1:{}", self.base_port + 300)
    }

    /// A file of the secure cluster's TLS material (`ca.crt`, `other-ca.crt`, ...).
    pub fn tls_file(&self, name: &str) -> PathBuf {
        self.state_dir.join("tls").join(name)
    }

    async fn start_with(brokers: usize, env: &[(&str, &str)]) -> LocalCluster {
        LocalCluster::start_args(brokers, env, &[]).await
    }

    async fn start_args(brokers: usize, env: &[(&str, &str)], flags: &[&str]) -> LocalCluster {
        let base_port = free_port_block(brokers);
        let state_dir = repo_root().join(".cache").join(crate::unique("cluster"));
        let mut cluster = LocalCluster {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state_dir,
            base_port,
            brokers,
            bootstrap_servers: String::new(),
        };
        // The cluster exists (and its drop stops whatever `up` launched) before `up`
        // runs, so a test that fails or times out during the start leaks no broker.
        let count = brokers.to_string();
        let mut args = vec!["up", "--brokers", count.as_str()];
        args.extend_from_slice(flags);
        let output = cluster
            .script(&args)
            .await
            .unwrap_or_else(|e| panic!("starting a {brokers}-broker cluster: {e}"));
        cluster.bootstrap_servers = output.lines().last().unwrap_or_default().trim().to_owned();
        assert!(
            cluster.bootstrap_servers.contains(':'),
            "no bootstrap from kafka.sh: {output}"
        );
        cluster
    }

    /// `host:port,...` of every broker.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// Client settings for this cluster.
    pub fn settings(&self) -> KafkaSettings {
        KafkaSettings::new(&self.bootstrap_servers)
    }

    /// Stops broker `n` (1-based) with SIGTERM and waits for it to exit.
    pub async fn stop_broker(&self, n: usize) {
        self.script(&["stop-broker", &n.to_string()])
            .await
            .expect("stop-broker");
    }

    /// Kills broker `n` with SIGKILL.
    pub async fn kill_broker(&self, n: usize) {
        self.script(&["kill-broker", &n.to_string()])
            .await
            .expect("kill-broker");
    }

    /// Starts broker `n` again (its data is kept).
    pub async fn start_broker(&self, n: usize) {
        self.script(&["start-broker", &n.to_string()])
            .await
            .expect("start-broker");
    }

    /// Freezes broker `n` (SIGSTOP): its sockets stay open, nothing answers.
    pub async fn pause_broker(&self, n: usize) {
        self.script(&["pause-broker", &n.to_string()])
            .await
            .expect("pause-broker");
    }

    /// Lets a frozen broker `n` go on (SIGCONT).
    pub async fn resume_broker(&self, n: usize) {
        self.script(&["resume-broker", &n.to_string()])
            .await
            .expect("resume-broker");
    }

    /// How many brokers the cluster has.
    pub fn brokers(&self) -> usize {
        self.brokers
    }

    /// Runs one of Kafka's own tools (a main class such as
    /// `org.apache.kafka.tools.TopicCommand`) with `args`; its output, or why it failed.
    pub async fn tool(&self, class: &str, args: &[&str]) -> Result<String, String> {
        let all: Vec<&str> = ["tool", class].iter().chain(args).copied().collect();
        self.script(&all).await
    }

    async fn script(&self, args: &[&str]) -> Result<String, String> {
        let mut command = tokio::process::Command::new("bash");
        command
            .arg(repo_root().join("scripts/kafka.sh"))
            .args(args)
            .env("KAFKA_STATE_DIR", &self.state_dir)
            .env("KAFKA_PORT", self.base_port.to_string())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .kill_on_drop(true);
        let output = command
            .output()
            .await
            .map_err(|e| format!("running kafka.sh: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let run = |arg: &str| {
            Command::new("bash")
                .arg(repo_root().join("scripts/kafka.sh"))
                .arg(arg)
                .env("KAFKA_STATE_DIR", &self.state_dir)
                .env("KAFKA_PORT", self.base_port.to_string())
                .env("KAFKA_LOG_LINES", "80")
                .output()
        };
        if crate::failing()
            && let Ok(output) = run("logs")
        {
            eprintln!("{}", String::from_utf8_lossy(&output.stdout));
        }
        let _ = run("down");
        if crate::failing() {
            // The brokers' data and logs are the evidence of what went wrong: kept.
            let kept = repo_root().join("target").join("failed-clusters");
            let _ = std::fs::create_dir_all(&kept);
            if let Some(name) = self.state_dir.file_name() {
                let _ = std::fs::rename(&self.state_dir, kept.join(name));
                eprintln!(
                    "the failed cluster's data and logs: target/failed-clusters/{}",
                    name.to_string_lossy()
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// Password of the `orderflow` SCRAM user of a secure cluster.
pub const SCRAM_PASSWORD: &str = "s3cret-Passw0rd-for-tests";

/// The repository root (the parent of this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// A base port such that `base..base+n` (clients) and `base+100..base+100+n`
/// (controllers) are all free right now.
fn free_port_block(n: usize) -> u16 {
    for _ in 0..200 {
        let base: u16 = rand_port();
        let all_free = (0..n as u16)
            .flat_map(|i| [base + i, base + 100 + i, base + 200 + i, base + 300 + i])
            .all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no free block of loopback ports for a local cluster");
}

/// A random base port outside the kernel's ephemeral range, so a client's outgoing
/// connection cannot take a broker's port between the probe above and the broker's
/// bind (it did: "Address already in use" for a port in 32768-60999, Linux's default).
fn rand_port() -> u16 {
    let seed = uuid::Uuid::new_v4().as_u128();
    let (low, high) = ephemeral_range();
    let (from, to) = below_or_above(low, high);
    from + (seed % u128::from(to - from)) as u16
}

/// Linux's `ip_local_port_range` (its default where it cannot be read).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(str::parse::<u16>);
            Some((parts.next()?.ok()?, parts.next()?.ok()?))
        })
        .unwrap_or((32_768, 60_999))
}

/// Where blocks are drawn from: 10000 up to the ephemeral range when there is room for
/// them below it, else above it. A block spans `base..base + 304`.
fn below_or_above(low: u16, high: u16) -> (u16, u16) {
    const SPAN: u16 = 400;
    if low >= 10_000 + 2 * SPAN {
        (10_000, low - SPAN)
    } else if high < u16::MAX - SPAN - 1 {
        (high.max(10_000) + 1, u16::MAX - SPAN)
    } else {
        // No room outside the range: draw from it, as before.
        (10_000, u16::MAX - SPAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ports_stay_out_of_the_ephemeral_range() {
        for (low, high) in [
            (32_768, 60_999),
            (1_024, 65_000),
            (49_152, 65_535),
            (10_500, 20_000),
        ] {
            let (from, to) = below_or_above(low, high);
            assert!(from < to, "{low}-{high}: {from}-{to}");
            let block_end = to + 304;
            assert!(block_end < low || from > high, "{low}-{high}: {from}-{to}");
        }
    }
}
