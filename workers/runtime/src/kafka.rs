//! The one translation point from orderflow settings to librdkafka properties.
//!
//! Every client the project creates (worker consumers and producers, the CLI's admin,
//! producer and consumer, the test fixture) starts from [`KafkaSettings`], so TLS,
//! SASL and any user passthrough apply everywhere the same way. The user's raw
//! properties are applied last: they win over our defaults.

use orderflow_kafka_bytes::brokers::{Look, Rebootstrap};
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::{ClientConfig, FromClientConfig, NativeClientConfig};

use crate::error::RuntimeError;

/// Which client a configuration is for. A passthrough property prefixed `consumer.` or
/// `producer.` applies only to that client (prefix removed); others apply to all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A consumer.
    Consumer,
    /// A producer.
    Producer,
    /// Any other client (admin, metadata).
    Other,
}

/// Properties that decide the delivery guarantee: the runtime sets them (see `clients`),
/// and a passthrough of any of them is refused at start.
pub const GUARANTEE_PROPERTIES: &[&str] = &[
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "isolation.level",
    "transactional.id",
    "enable.idempotence",
];

/// Property names whose values are secrets: never logged, never echoed in errors.
const SECRET_MARKERS: &[&str] = &["password", "secret", "sasl.oauthbearer.config", "key.pem"];

/// Connection settings shared by every client of one process.
#[derive(Clone, Default)]
pub struct KafkaSettings {
    /// `host:port[,host:port...]`.
    pub bootstrap_servers: String,
    /// SASL user name (`sasl.username`), usually from a secret.
    pub sasl_username: Option<String>,
    /// SASL password (`sasl.password`), usually from a secret.
    pub sasl_password: Option<String>,
    /// Raw librdkafka properties, applied after everything else.
    pub passthrough: Vec<(String, String)>,
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("sasl_username", &self.sasl_username)
            .field(
                "sasl_password",
                &self.sasl_password.as_ref().map(|_| "<redacted>"),
            )
            .field("passthrough", &self.redacted_passthrough())
            .finish()
    }
}

impl KafkaSettings {
    /// Settings for a cluster reachable at `bootstrap_servers`, nothing else set.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        KafkaSettings {
            bootstrap_servers: bootstrap_servers.into(),
            ..Default::default()
        }
    }

    /// Adds one raw librdkafka property (applied last).
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.passthrough.push((key.into(), value.into()));
        self
    }

    /// The base configuration every client gets: servers, credentials, then passthrough.
    /// Role-specific defaults go between the two through `defaults`.
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        self.config_for(Role::Other, defaults)
    }

    /// [`Self::client_config`] for a client of `role`, with its prefixed passthrough.
    pub fn config_for(&self, role: Role, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        if let Some(user) = &self.sasl_username {
            config.set("sasl.username", user);
        }
        if let Some(password) = &self.sasl_password {
            config.set("sasl.password", password);
        }
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.passthrough {
            if let Some(key) = key_for(role, key) {
                config.set(key, value);
            }
        }
        config
    }

    /// The value the passthrough gives property `name` in a client of `role`, if any:
    /// the last entry that applies wins, as in [`Self::config_for`].
    pub fn passthrough_value(&self, role: Role, name: &str) -> Option<&str> {
        self.passthrough
            .iter()
            .rev()
            .find(|(key, _)| key_for(role, key) == Some(name))
            .map(|(_, value)| value.as_str())
    }

    /// Creates a client of type `T` from [`Self::client_config`], turning librdkafka's
    /// refusal of a property into a configuration error that names it.
    pub fn create<T: FromClientConfig>(
        &self,
        defaults: &[(&str, &str)],
    ) -> Result<T, RuntimeError> {
        self.client_config(defaults).create().map_err(|error| {
            RuntimeError::Config(format!(
                "the Kafka client rejected its settings: {error}; check --bootstrap-servers and \
                 every --kafka-config property"
            ))
        })
    }

    /// The passthrough properties with secret values replaced, for logs.
    pub fn redacted_passthrough(&self) -> Vec<(String, String)> {
        self.passthrough
            .iter()
            .map(|(key, value)| {
                let shown = if is_secret(key) {
                    "<redacted>".to_owned()
                } else {
                    value.clone()
                };
                (key.clone(), shown)
            })
            .collect()
    }

    /// Checks the settings without connecting: servers well-formed, and every
    /// passthrough property known to librdkafka with an acceptable value.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        validate_bootstrap_servers(&self.bootstrap_servers)?;
        for (key, value) in &self.passthrough {
            if let Some(problem) = property_problem(key, value) {
                return Err(RuntimeError::Config(problem));
            }
        }
        for role in [Role::Consumer, Role::Producer, Role::Other] {
            if let Some(problem) = crate::security::problem(&self.config_for(role, &[])) {
                return Err(RuntimeError::Config(problem));
            }
        }
        Ok(())
    }
}

/// Why librdkafka refuses property `key` (with an optional role prefix) set to `value`,
/// if it does; a secret value is not repeated.
pub fn property_problem(key: &str, value: &str) -> Option<String> {
    let mut probe = ClientConfig::new();
    probe.set(split_role(key).1, value);
    let error = probe.create_native_config().err()?;
    let shown = if is_secret(key) { "<redacted>" } else { value };
    Some(format!(
        "Kafka property {key}={shown} is not accepted by librdkafka: {error}"
    ))
}

/// The client a passthrough key names by its prefix (`consumer.`, `producer.`), if
/// any, and the property name without it.
pub fn split_role(key: &str) -> (Option<Role>, &str) {
    if let Some(bare) = key.strip_prefix("consumer.") {
        (Some(Role::Consumer), bare)
    } else if let Some(bare) = key.strip_prefix("producer.") {
        (Some(Role::Producer), bare)
    } else {
        (None, key)
    }
}

/// The property name a passthrough key sets for a client of `role`, if any.
fn key_for(role: Role, key: &str) -> Option<&str> {
    match split_role(key) {
        (Some(named), bare) if named == role => Some(bare),
        (Some(_), _) => None,
        (None, bare) => Some(bare),
    }
}

/// Whether a passthrough key sets a property the delivery guarantee depends on.
pub fn decides_guarantee(key: &str) -> bool {
    GUARANTEE_PROPERTIES.contains(&split_role(key).1)
}

/// Whether a property's value must never be shown.
pub fn is_secret(key: &str) -> bool {
    SECRET_MARKERS.iter().any(|marker| key.contains(marker))
}

/// Parses one `key=value` passthrough property.
pub fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!(
            "expected a librdkafka property as key=value, got '{text}'"
        )),
    }
}

fn validate_bootstrap_servers(servers: &str) -> Result<(), RuntimeError> {
    if servers.trim().is_empty() {
        return Err(RuntimeError::Config(
            "--bootstrap-servers is empty; give host:port of at least one broker".into(),
        ));
    }
    for server in servers.split(',') {
        let server = server.trim();
        let server = server.split_once("://").map_or(server, |(_, rest)| rest);
        let valid = server.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return Err(RuntimeError::Config(format!(
                "--bootstrap-servers entry '{server}' is not host:port (for example 127.0.0.1:9092)"
            )));
        }
    }
    Ok(())
}

/// librdkafka's version and the features it was built with (`builtin.features`).
pub fn librdkafka_build() -> (String, String) {
    let (_, version) = rdkafka::util::get_rdkafka_version();
    let features = ClientConfig::new()
        .create_native_config()
        .ok()
        .and_then(|native: NativeClientConfig| native.get("builtin.features").ok())
        .unwrap_or_default();
    (version, features)
}

/// A watch for a client left without brokers (see [`orderflow_kafka_bytes::brokers`]),
/// or none when the servers cannot be handed to librdkafka (they could not have been
/// configured either).
pub fn rebootstrap_watch(settings: &KafkaSettings) -> Option<Rebootstrap> {
    Rebootstrap::new(&settings.bootstrap_servers).ok()
}

/// One look at `client` through `watch`, logged when it had to go back to the bootstrap
/// servers.
pub fn keep_bootstrapped<C: ClientContext>(
    watch: &mut Option<Rebootstrap>,
    client: &Client<C>,
    which: &str,
) {
    let Some(watch) = watch else { return };
    match watch.check(client) {
        Look::Fine => {}
        Look::Readded => tracing::warn!(
            client = which,
            "a metadata response listed no broker (the cluster had fenced them all): \
             connecting to bootstrap.servers again"
        ),
        Look::AddedAgain => tracing::debug!(
            client = which,
            "no broker known for a while: bootstrap.servers added again"
        ),
    }
}

/// A thread that looks at one client once a second through a [`Rebootstrap`] watch, for
/// clients without a loop of their own to do it (the CLI's producers, the test
/// helpers). It stops, and is joined, when dropped.
pub struct BootstrapWatch {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BootstrapWatch {
    /// Watches `client` (named `which` in the logs) as long as the watch lives.
    /// `inner` reaches the librdkafka client of `K` (`|p| p.client()`).
    pub fn start<K, C>(
        settings: &KafkaSettings,
        which: &'static str,
        client: K,
        inner: fn(&K) -> &Client<C>,
    ) -> BootstrapWatch
    where
        K: Send + 'static,
        C: ClientContext + 'static,
    {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let mut watch = rebootstrap_watch(settings);
        let thread = std::thread::Builder::new()
            .name(format!("{which}-bootstrap-watch"))
            .spawn(move || {
                // Ends when the sender is dropped (Disconnected) or sends.
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(std::time::Duration::from_secs(1))
                {
                    keep_bootstrapped(&mut watch, inner(&client), which);
                }
            })
            .ok();
        BootstrapWatch {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for BootstrapWatch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A client with its [`BootstrapWatch`]: derefs to the client; the watch stops when it
/// is dropped.
pub struct Watched<K> {
    client: K,
    _watch: BootstrapWatch,
}

impl<K: Clone + Send + 'static> Watched<K> {
    /// `client`, watched as `which` (see [`BootstrapWatch::start`]).
    pub fn new<C: ClientContext + 'static>(
        settings: &KafkaSettings,
        which: &'static str,
        client: K,
        inner: fn(&K) -> &Client<C>,
    ) -> Watched<K> {
        let watch = BootstrapWatch::start(settings, which, client.clone(), inner);
        Watched {
            client,
            _watch: watch,
        }
    }
}

impl<K> std::ops::Deref for Watched<K> {
    type Target = K;

    fn deref(&self) -> &K {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passthrough_value_of_a_role_is_the_last_entry_that_applies_to_it() {
        let settings = KafkaSettings::new("b:9092")
            .with_property("message.max.bytes", "2000000")
            .with_property("producer.message.max.bytes", "8388608")
            .with_property("consumer.message.max.bytes", "3000000");
        let value = |role| settings.passthrough_value(role, "message.max.bytes");
        assert_eq!(value(Role::Producer), Some("8388608"));
        assert_eq!(value(Role::Consumer), Some("3000000"));
        assert_eq!(value(Role::Other), Some("2000000"));
        assert_eq!(
            settings.passthrough_value(Role::Producer, "linger.ms"),
            None
        );
    }

    #[test]
    fn passthrough_is_applied_last_and_wins() {
        let settings = KafkaSettings::new("127.0.0.1:9092").with_property("linger.ms", "42");
        let config = settings.client_config(&[("linger.ms", "5"), ("acks", "all")]);
        assert_eq!(config.get("linger.ms"), Some("42"));
        assert_eq!(config.get("acks"), Some("all"));
    }

    #[test]
    fn prefixed_passthrough_reaches_only_its_client() {
        let settings = KafkaSettings::new("b:9092")
            .with_property("consumer.session.timeout.ms", "6000")
            .with_property("producer.linger.ms", "9")
            .with_property("client.rack", "r1");
        let consumer = settings.config_for(Role::Consumer, &[]);
        let producer = settings.config_for(Role::Producer, &[]);
        let admin = settings.client_config(&[]);
        assert_eq!(consumer.get("session.timeout.ms"), Some("6000"));
        assert_eq!(consumer.get("linger.ms"), None);
        assert_eq!(producer.get("linger.ms"), Some("9"));
        assert_eq!(producer.get("session.timeout.ms"), None);
        for config in [&consumer, &producer, &admin] {
            assert_eq!(config.get("client.rack"), Some("r1"));
        }
        assert_eq!(admin.get("linger.ms"), None);
        settings.validate().unwrap();
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_listings() {
        let mut settings = KafkaSettings::new("b:9092").with_property("sasl.password", "hunter2");
        settings.sasl_password = Some("hunter3".into());
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("hunter3"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn unknown_property_is_a_config_error_naming_it() {
        let settings = KafkaSettings::new("127.0.0.1:9092").with_property("no.such.thing", "1");
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("no.such.thing"), "{error}");
    }

    #[test]
    fn bad_bootstrap_servers_are_rejected_with_an_example() {
        for bad in ["", "localhost", "host:notaport", ":9092", "a:9092,b"] {
            let error = KafkaSettings::new(bad).validate().unwrap_err().to_string();
            assert!(error.contains("bootstrap-servers"), "{bad}: {error}");
        }
        KafkaSettings::new("a:9092, b:9093,SASL_SSL://c:9094")
            .validate()
            .unwrap();
    }

    #[test]
    fn property_parsing() {
        assert_eq!(
            parse_property("a.b = c=d").unwrap(),
            ("a.b".into(), "c=d".into())
        );
        assert!(parse_property("novalue").is_err());
        assert!(parse_property("=x").is_err());
    }

    #[test]
    fn librdkafka_is_built_with_tls_sasl_and_compression() {
        let (version, features) = librdkafka_build();
        assert!(version.starts_with("2."), "{version}");
        for needed in [
            "ssl",
            "sasl_scram",
            "sasl_oauthbearer",
            "zstd",
            "lz4",
            "oidc",
        ] {
            assert!(
                features.split(',').any(|f| f == needed),
                "missing {needed} in {features}"
            );
        }
    }

    #[test]
    fn a_watch_stops_with_its_client_handle() {
        let settings = KafkaSettings::new("127.0.0.1:1");
        let consumer: rdkafka::consumer::BaseConsumer =
            settings.create(&[("group.id", "watch")]).unwrap();
        let consumer = std::sync::Arc::new(consumer);
        let watched = Watched::new(&settings, "test", consumer.clone(), |c| {
            rdkafka::consumer::Consumer::client(&**c)
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        // Dropped on a thread of its own, so that a watch that never stops fails the
        // test instead of hanging it.
        let (dropped, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(watched);
            let _ = dropped.send(());
        });
        done.recv_timeout(std::time::Duration::from_secs(30))
            .expect("dropping the watch did not stop its thread");
        assert_eq!(
            std::sync::Arc::strong_count(&consumer),
            1,
            "the watch thread still holds the client"
        );
    }
}
