//! The integration-test fixture: a real Apache Kafka broker and helpers around it.
//!
//! Where the broker comes from, in order:
//! 1. `KAFKA_BOOTSTRAP_SERVERS`: an existing cluster (`make test` starts a local
//!    Apache Kafka in KRaft mode and sets it);
//! 2. testcontainers with the `apache/kafka` image, when the tests are built with the
//!    feature `containers` and a Docker daemon answers (`make test-containers` does
//!    both: it starts a daemon and builds the image locally);
//! 3. otherwise every test fails with a message saying how to get a broker.
//!
//! The container is held by a static, which Rust never drops: it outlives the test
//! binary. It carries the label `org.orderflow.test-run` (the value of
//! `ORDERFLOW_TEST_RUN`) so that `scripts/test.sh` removes it after the suite; run by
//! hand, remove it with the `docker rm -f` the fixture prints.
//!
//! Every test creates its own uniquely named topics and consumer groups, so all tests
//! share one broker and run in parallel.

pub use orderflow_test_macros::test;

pub mod chaos;
pub mod cluster;
#[cfg(feature = "containers")]
mod containers;
pub mod orders;
pub mod process;
pub mod verify;

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use orderflow_runtime::kafka::{KafkaSettings, Watched, keep_bootstrapped, rebootstrap_watch};
use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::OnceCell;

/// A reachable Apache Kafka cluster.
pub struct Kafka {
    bootstrap_servers: String,
    /// The broker's container, when the fixture started one (held, never dropped).
    #[cfg(feature = "containers")]
    _container: Option<containers::Container>,
}

static KAFKA: OnceCell<Kafka> = OnceCell::const_new();

/// The shared broker for this test binary, started on first use.
pub async fn kafka() -> &'static Kafka {
    KAFKA
        .get_or_init(|| async {
            match Kafka::locate().await {
                Ok(kafka) => kafka,
                Err(message) => panic!("{message}"),
            }
        })
        .await
}

impl Kafka {
    async fn locate() -> Result<Kafka, String> {
        if let Ok(servers) = std::env::var("KAFKA_BOOTSTRAP_SERVERS")
            && !servers.trim().is_empty()
        {
            let kafka = Kafka::at(&checked_bootstrap(&servers)?);
            kafka.reachable().await?;
            return Ok(kafka);
        }
        #[cfg(feature = "containers")]
        if containers::docker_answers() {
            let (bootstrap_servers, container) = containers::start().await?;
            return Ok(Kafka {
                bootstrap_servers,
                _container: Some(container),
            });
        }
        let docker = if cfg!(feature = "containers") {
            "start a Docker daemon for testcontainers"
        } else {
            "run `make test-containers` (the tests built with --features containers start \
             one in Docker)"
        };
        Err(format!(
            "no Kafka broker for the integration tests: run `make test` (it starts a local \
             Apache Kafka), or set KAFKA_BOOTSTRAP_SERVERS=host:port of an existing cluster, \
             or {docker}"
        ))
    }

    /// Fails with the client's reason unless the cluster serves metadata within 30 s:
    /// one clear message instead of a time-out in every test.
    async fn reachable(&self) -> Result<(), String> {
        let client: BaseConsumer = self
            .settings()
            .create(&[])
            .map_err(|e| format!("a client for {}: {e}", self.bootstrap_servers))?;
        let servers = self.bootstrap_servers.clone();
        tokio::task::spawn_blocking(move || {
            client
                .fetch_metadata(None, Duration::from_secs(30))
                .map(|_| ())
                .map_err(|e| {
                    format!(
                        "the Kafka cluster at KAFKA_BOOTSTRAP_SERVERS={servers} does not serve \
                         metadata within 30 s: {e}"
                    )
                })
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// A cluster already running at `bootstrap_servers`.
    pub fn at(bootstrap_servers: &str) -> Kafka {
        Kafka {
            bootstrap_servers: bootstrap_servers.to_owned(),
            #[cfg(feature = "containers")]
            _container: None,
        }
    }

    /// `host:port[,...]` of the cluster.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// Client settings for this cluster.
    pub fn settings(&self) -> KafkaSettings {
        KafkaSettings::new(&self.bootstrap_servers)
    }

    /// An admin client.
    pub fn admin(&self) -> AdminClient<DefaultClientContext> {
        self.settings().create(&[]).expect("admin client")
    }

    /// Creates a topic and waits until its partitions have leaders.
    pub async fn create_topic(&self, name: &str, partitions: i32, replication: i32) {
        self.create_topic_with(name, partitions, replication, &[])
            .await;
    }

    /// Creates a topic with topic-level configs and waits until it is usable.
    pub async fn create_topic_with(
        &self,
        name: &str,
        partitions: i32,
        replication: i32,
        configs: &[(&str, &str)],
    ) {
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
        for (key, value) in configs {
            topic = topic.set(key, value);
        }
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = self
            .admin()
            .create_topics(&[topic], &options)
            .await
            .expect("create_topics");
        for result in results {
            if let Err((topic, code)) = result {
                panic!("creating topic {topic} failed: {code}");
            }
        }
        self.wait_for_leaders(name, partitions).await;
    }

    async fn wait_for_leaders(&self, topic: &str, partitions: i32) {
        let consumer: BaseConsumer = self.settings().create(&[]).expect("metadata client");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
                let ready = metadata.topics().iter().any(|t| {
                    t.error().is_none()
                        && t.partitions().len() == partitions as usize
                        && t.partitions().iter().all(|p| p.leader() >= 0)
                });
                if ready {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "topic {topic} has no leaders after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An idempotent producer with `acks=all`.
    pub fn producer(&self) -> FutureProducer {
        self.settings()
            .create(&[("enable.idempotence", "true"), ("linger.ms", "5")])
            .expect("producer")
    }

    /// Produces `records` (key, value) to `topic` and waits for every acknowledgement.
    pub async fn produce(&self, topic: &str, records: &[(String, Vec<u8>)]) {
        self.produce_with_headers(
            topic,
            records.iter().map(|(k, v)| (k.clone(), v.clone(), None)),
        )
        .await;
    }

    /// Produces records with optional headers, in order, and waits for every ack.
    pub async fn produce_with_headers(
        &self,
        topic: &str,
        records: impl IntoIterator<Item = (String, Vec<u8>, Option<OwnedHeaders>)>,
    ) {
        // Watched: a client left without brokers after an outage would wait out every
        // record's message.timeout.ms instead of reconnecting.
        let producer = Watched::new(&self.settings(), "test producer", self.producer(), |p| {
            p.client()
        });
        // Owned before the first await (the caller's iterator need not be Send).
        let records: Vec<_> = records.into_iter().collect();
        let mut pending = std::collections::VecDeque::new();
        for (key, value, headers) in records {
            loop {
                let mut record = FutureRecord::to(topic).key(&key).payload(&value);
                if let Some(headers) = &headers {
                    record = record.headers(headers.clone());
                }
                match producer.send_result(record) {
                    Ok(delivery) => {
                        pending.push_back(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {}
                    Err((error, _)) => panic!("enqueue: {error}"),
                }
                // The client's queue is full: wait for the oldest acknowledgement.
                match pending.pop_front() {
                    Some(oldest) => {
                        oldest
                            .await
                            .expect("delivery canceled")
                            .expect("delivery failed");
                    }
                    None => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }
        for delivery in pending {
            delivery
                .await
                .expect("delivery canceled")
                .expect("delivery failed");
        }
        producer.flush(Duration::from_secs(30)).expect("flush");
    }

    /// A read_committed consumer with its own assignment of every partition of `topic`
    /// from the beginning: it sees what downstream services would see, and no group.
    pub fn reader(&self, topic: &str) -> BaseConsumer {
        let consumer: BaseConsumer = self
            .settings()
            .create(&[
                ("group.id", "orderflow-test-reader"),
                ("enable.auto.commit", "false"),
                ("isolation.level", "read_committed"),
                ("enable.partition.eof", "false"),
            ])
            .expect("reader");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let mut assignment = TopicPartitionList::new();
        for partition in metadata.topics()[0].partitions() {
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Beginning)
                .expect("assignment");
        }
        consumer.assign(&assignment).expect("assign");
        consumer
    }

    /// Reads `topic` read_committed until `count` records arrived or `timeout` passed.
    pub async fn consume(&self, topic: &str, count: usize, timeout: Duration) -> Vec<OwnedMessage> {
        let topic = topic.to_owned();
        let consumer = self.reader(&topic);
        let servers = self.bootstrap_servers.clone();
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + timeout;
            let mut out = Vec::new();
            let mut watch = rebootstrap_watch(&KafkaSettings::new(&servers));
            while out.len() < count && Instant::now() < deadline {
                keep_bootstrapped(&mut watch, consumer.client(), "test reader");
                match consumer.poll(Duration::from_millis(200)) {
                    Some(Ok(message)) => out.push(message.detach()),
                    Some(Err(error)) => panic!("reading {topic}: {error}"),
                    None => {}
                }
            }
            out
        })
        .await
        .expect("reader thread")
    }

    /// Reads every record currently in `topic` (read_committed): stops after `quiet`
    /// without new records.
    pub async fn consume_all(&self, topic: &str, quiet: Duration) -> Vec<OwnedMessage> {
        let topic = topic.to_owned();
        let consumer = self.reader(&topic);
        let servers = self.bootstrap_servers.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut last = Instant::now();
            let mut watch = rebootstrap_watch(&KafkaSettings::new(&servers));
            while last.elapsed() < quiet {
                keep_bootstrapped(&mut watch, consumer.client(), "test reader");
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(message)) => {
                        out.push(message.detach());
                        last = Instant::now();
                    }
                    Some(Err(error)) => panic!("reading {topic}: {error}"),
                    None => {}
                }
            }
            out
        })
        .await
        .expect("reader thread")
    }

    /// End offsets (high watermarks) of `topic`, by partition.
    pub fn end_offsets(&self, topic: &str, partitions: i32) -> HashMap<i32, i64> {
        let consumer: BaseConsumer = self.settings().create(&[]).expect("offsets client");
        (0..partitions)
            .map(|partition| {
                let (_, high) = consumer
                    .fetch_watermarks(topic, partition, Duration::from_secs(10))
                    .expect("watermarks");
                (partition, high)
            })
            .collect()
    }

    /// Committed offsets of `group` for `topic`, by partition.
    pub fn committed(&self, group: &str, topic: &str, partitions: i32) -> HashMap<i32, i64> {
        let consumer: BaseConsumer = self
            .settings()
            .create(&[("group.id", group)])
            .expect("offsets client");
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(topic, partition);
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .expect("committed offsets");
        committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some((e.partition(), offset)),
                _ => None,
            })
            .collect()
    }
}

/// `servers` if it is a list of `host:port`, else why not (a stray byte from a script's
/// output once made every test time out against an address nothing listened on).
fn checked_bootstrap(servers: &str) -> Result<String, String> {
    let valid = servers.split(',').all(|server| {
        server.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_[]:".contains(&b))
                && port.parse::<u16>().is_ok()
        })
    });
    if valid {
        Ok(servers.to_owned())
    } else {
        Err(format!(
            "KAFKA_BOOTSTRAP_SERVERS={servers:?} is not a list of host:port"
        ))
    }
}

/// The time limit of a test: `reduced` seconds, or `full` under `make chaos`.
pub fn limit(reduced: u64, full: u64) -> Duration {
    Duration::from_secs(chaos::scale(reduced, full))
}

/// Runs a test's body under its time limit (see [`test`]). On time-out the body is
/// dropped first, so that what it started (processes, clusters, monitors) stops, then
/// the test fails with its name and limit; the rest of the suite goes on. What the body
/// drops on time-out sees [`failing`] true, so it leaves the same evidence as on a panic.
pub async fn within(name: &str, limit: Duration, body: impl Future<Output = ()>) {
    let mut body = Box::pin(body);
    if tokio::time::timeout(limit, &mut body).await.is_err() {
        TIMED_OUT.with(|timed_out| timed_out.set(true));
        drop(body);
        TIMED_OUT.with(|timed_out| timed_out.set(false));
        panic!(
            "{name} exceeded its time limit of {} s; what it started was stopped",
            limit.as_secs()
        );
    }
}

thread_local! {
    /// Set on the test's thread when its body ran out of time (see [`within`]).
    static TIMED_OUT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the current test is failing: panicking, or being dropped after its time
/// limit. Helpers print their logs and keep their data on drop when it is.
pub fn failing() -> bool {
    std::thread::panicking() || TIMED_OUT.with(std::cell::Cell::get)
}

/// A name no other test uses: `<prefix>-<uuid>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// The payload of a record as bytes (empty when null).
pub fn payload(message: &OwnedMessage) -> &[u8] {
    message.payload().unwrap_or_default()
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// GETs `url`, returning the status code and body (`None` when nothing answers).
pub async fn http_get(url: &str) -> Option<(u16, String)> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.unwrap_or_default()))
}

impl Kafka {
    /// Produces `records` in batches of `batch`, one batch every `every`, in a task.
    pub fn produce_paced(
        &'static self,
        topic: &str,
        records: Vec<(String, Vec<u8>)>,
        batch: usize,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let topic = topic.to_owned();
        tokio::spawn(async move {
            for chunk in records.chunks(batch) {
                self.produce(&topic, chunk).await;
                tokio::time::sleep(every).await;
            }
        })
    }
}

/// Base URL of a real Confluent-compatible schema registry (Apicurio, started by
/// `make test`), from `ORDERFLOW_TEST_REGISTRY_URL`.
pub fn registry_url() -> String {
    match std::env::var("ORDERFLOW_TEST_REGISTRY_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "no schema registry for this test: run `make test` (it starts Apicurio Registry), or \
             set ORDERFLOW_TEST_REGISTRY_URL to a Confluent-compatible API \
             (e.g. http://127.0.0.1:8081/apis/ccompat/v7)"
        ),
    }
}

/// The Python interpreter with the interoperability packages (`make test` creates it).
pub fn python() -> std::path::PathBuf {
    std::env::var_os("ORDERFLOW_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| cluster::repo_root().join(".cache/venv/bin/python"))
}

#[cfg(test)]
mod tests {
    use super::checked_bootstrap;

    #[test]
    fn bootstrap_addresses_with_stray_bytes_are_refused() {
        assert!(checked_bootstrap("127.0.0.1:19092").is_ok());
        assert!(checked_bootstrap("kafka-0.kafka:9093,[::1]:9092").is_ok());
        assert!(checked_bootstrap("\u{1b}[0m\u{1b}[0m127.0.0.1:19092").is_err());
        assert!(checked_bootstrap("127.0.0.1").is_err());
        assert!(checked_bootstrap("127.0.0.1:19092 ").is_err());
    }

    #[test]
    fn every_integration_test_has_a_time_limit() {
        let dir = crate::cluster::repo_root()
            .join("tests")
            .join("integration");
        let mut tests = 0;
        for entry in std::fs::read_dir(&dir).expect("tests/integration") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("test file");
            for marker in ["#[tokio::test", "#[test]"] {
                assert!(
                    !text.contains(marker),
                    "{} declares a test with {marker}: use #[orderflow_tests::test(timeout = SECONDS)]",
                    path.display()
                );
            }
            tests += text.matches("#[orderflow_tests::test(timeout").count();
        }
        assert!(tests > 30, "only {tests} integration tests found");
    }

    /// Records, on drop, whether the test counted as failing then.
    struct Witness(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl Drop for Witness {
        fn drop(&mut self) {
            self.0
                .store(crate::failing(), std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn what_a_timed_out_body_drops_sees_the_test_failing() {
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let witness = Witness(seen.clone());
        let name = "a_body_that_never_ends";
        let timed_out = tokio::spawn(crate::within(
            name,
            std::time::Duration::from_millis(50),
            async move {
                let _witness = witness;
                std::future::pending::<()>().await;
            },
        ))
        .await
        .expect_err("the body never ends, so its time limit fails the test");
        let message = timed_out.into_panic();
        let message = message.downcast_ref::<String>().expect("a panic message");
        assert!(message.contains("exceeded its time limit"), "{message}");
        assert!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            "the body's helpers were dropped as if the test passed: no logs, no kept data"
        );
        assert!(
            !crate::failing(),
            "another test thread's time-out leaked here"
        );
    }
}
