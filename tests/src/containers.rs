//! The testcontainers branch of the fixture (feature `containers`, `make
//! test-containers`): an `apache/kafka` container started once per test binary, its
//! port published on loopback only, labelled for `scripts/test.sh` to remove.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use testcontainers::bollard::models::{HostConfig, PortBinding};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ImageExt};
use testcontainers_modules::kafka::apache;

/// The broker's container; held by the fixture's static, so never stopped by a drop.
pub(crate) type Container = ContainerAsync<apache::Kafka>;

/// The Apache Kafka image tag used when the fixture starts a container: the version of
/// the local broker (`scripts/kafka.sh`), so both branches test against the same Kafka.
const KAFKA_IMAGE_TAG: &str = "4.3.1";

/// Broker settings of the container beyond the module's: those `scripts/kafka.sh` gives
/// the local broker, so that tests behave the same on both. Without them a single node
/// cannot run a transaction (the transaction log wants 3 replicas by default).
const KAFKA_CONTAINER_ENV: &[(&str, &str)] = &[
    ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1"),
    ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"),
    ("KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "12"),
    ("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS", "12"),
    (
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        "1",
    ),
    ("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1"),
    ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0"),
    ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"),
    ("KAFKA_NUM_PARTITIONS", "1"),
    ("KAFKA_DEFAULT_REPLICATION_FACTOR", "1"),
    ("KAFKA_MIN_INSYNC_REPLICAS", "1"),
    ("KAFKA_LOG_SEGMENT_BYTES", "67108864"),
    // The shared broker's, as `scripts/test.sh` gives it: a pause of the machine must not
    // make the in-process controller fence its own broker.
    ("KAFKA_BROKER_SESSION_TIMEOUT_MS", "30000"),
];

/// How long the container may take to print "Kafka Server started": a JVM starting on
/// two busy cores.
const KAFKA_CONTAINER_START_TIMEOUT: Duration = Duration::from_secs(180);

/// Starts the broker's container; returns its bootstrap address on loopback and the
/// container.
pub(crate) async fn start() -> Result<(String, Container), String> {
    let mut request = apache::Kafka::default()
        .with_jvm_image()
        .with_tag(KAFKA_IMAGE_TAG)
        .with_startup_timeout(KAFKA_CONTAINER_START_TIMEOUT)
        .with_host_config_modifier(publish_on_loopback)
        .with_label(
            "org.orderflow.test-run",
            std::env::var("ORDERFLOW_TEST_RUN").unwrap_or_else(|_| "manual".into()),
        );
    for (name, value) in KAFKA_CONTAINER_ENV {
        request = request.with_env_var(*name, *value);
    }
    let container = request.start().await.map_err(|e| {
        format!("starting the apache/kafka:{KAFKA_IMAGE_TAG} container failed: {e}")
    })?;
    let port = container
        .get_host_port_ipv4(apache::KAFKA_PORT)
        .await
        .map_err(|e| format!("the apache/kafka container exposes no port: {e}"))?;
    // Once per test binary: which broker the tests use, and how to remove it. Written to
    // the process's stderr, not with eprintln!, which the test harness captures and
    // shows only for a failing test.
    let _ = writeln!(
        std::io::stderr(),
        "kafka fixture: testcontainers started apache/kafka:{KAFKA_IMAGE_TAG} as \
         container {} with 9092/tcp mapped to 127.0.0.1:{port} (remove: docker rm -f {})",
        container.id(),
        container.id()
    );
    Ok((format!("127.0.0.1:{port}"), container))
}

/// Publishes the broker's port on 127.0.0.1 only, at a port Docker picks: testcontainers
/// would publish it on every interface of the host.
fn publish_on_loopback(host_config: &mut HostConfig) {
    host_config.publish_all_ports = Some(false);
    host_config.port_bindings = Some(HashMap::from([(
        apache::KAFKA_PORT.to_string(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(String::new()),
        }]),
    )]));
}

/// Whether a Docker daemon answers at `DOCKER_HOST` (or the default socket), asked with
/// the client named by `DOCKER` (`make test-containers` names the engine's own), else
/// the first `docker` on the PATH.
pub(crate) fn docker_answers() -> bool {
    let client = std::env::var("DOCKER").unwrap_or_else(|_| "docker".into());
    std::process::Command::new(client)
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
