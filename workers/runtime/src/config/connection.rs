//! How to reach Kafka and the schema registry: the flags every worker and every
//! `orderflow` command shares (same names, same variables), and the settings they
//! become.

use std::path::PathBuf;

use orderflow_events::registry::RegistrySettings;

use super::command_config::{self, CommandConfig};
use crate::error::RuntimeError;
use crate::kafka::{KafkaSettings, parse_property};

/// The servers when neither a flag, a variable nor --command-config names any.
pub const DEFAULT_BOOTSTRAP_SERVERS: &str = "127.0.0.1:9092";

/// The help heading of the Kafka flags (per flag: a heading set on a flattened struct
/// would carry over to the flags after it).
const KAFKA: &str = "Kafka connection";
/// The help heading of the registry flags.
const REGISTRY: &str = "Schema registry";

/// How to reach Kafka.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, host:port[,host:port...] [default: bootstrap.servers
    /// of --command-config, else 127.0.0.1:9092].
    #[arg(
        short = 'b',
        long,
        visible_alias = "bootstrap-server",
        help_heading = KAFKA,
        env = "ORDERFLOW_BOOTSTRAP_SERVERS",
        value_name = "SERVERS"
    )]
    pub bootstrap_servers: Option<String>,

    /// A client.properties file as Kafka's tools take it (security.protocol,
    /// sasl.mechanism, sasl.jaas.config, ssl.truststore.*, ...), applied before
    /// --kafka-config; flags win over it.
    #[arg(long, help_heading = KAFKA, env = "ORDERFLOW_COMMAND_CONFIG", value_name = "FILE")]
    pub command_config: Option<PathBuf>,

    /// A librdkafka property as key=value, applied last (repeatable; the variable
    /// takes several separated by ';'). Prefix a key with consumer. or producer. to
    /// set it on that client only.
    #[arg(long = "kafka-config", help_heading = KAFKA, env = "ORDERFLOW_KAFKA_CONFIG", value_delimiter = ';',
          value_parser = parse_property, value_name = "KEY=VALUE")]
    pub kafka_config: Vec<(String, String)>,

    /// SASL user name (sasl.username).
    #[arg(long, help_heading = KAFKA, env = "ORDERFLOW_SASL_USERNAME")]
    pub sasl_username: Option<String>,

    /// SASL password (sasl.password).
    #[arg(long, help_heading = KAFKA, env = "ORDERFLOW_SASL_PASSWORD", hide_env_values = true)]
    pub sasl_password: Option<String>,
}

impl KafkaArgs {
    /// The connection settings, checked ([`KafkaSettings::validate`]).
    ///
    /// The file of --command-config comes first, then --kafka-config; --bootstrap-servers
    /// and the SASL flags win over the file.
    pub fn settings(&self) -> Result<KafkaSettings, RuntimeError> {
        let file = match &self.command_config {
            Some(path) => command_config::load(path)?,
            None => CommandConfig::default(),
        };
        let servers = self
            .bootstrap_servers
            .clone()
            .or(file.bootstrap_servers)
            .unwrap_or_else(|| DEFAULT_BOOTSTRAP_SERVERS.to_owned());
        let mut settings = KafkaSettings::new(servers.trim());
        settings.sasl_username = self.sasl_username.clone().or(file.sasl_username);
        settings.sasl_password = self.sasl_password.clone().or(file.sasl_password);
        settings.passthrough = file.properties;
        settings
            .passthrough
            .extend(self.kafka_config.iter().cloned());
        settings.validate()?;
        Ok(settings)
    }
}

/// How to reach a Confluent-compatible schema registry (none: registry-less).
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Confluent-compatible schema registry URL [default: none, registry-less; needed
    /// for Confluent-framed data].
    #[arg(long, help_heading = REGISTRY, env = "ORDERFLOW_SCHEMA_REGISTRY_URL")]
    pub schema_registry_url: Option<String>,

    /// Schema registry basic-auth user.
    #[arg(long, help_heading = REGISTRY, env = "ORDERFLOW_SCHEMA_REGISTRY_USERNAME")]
    pub schema_registry_username: Option<String>,

    /// Schema registry basic-auth password.
    #[arg(
        long,
        help_heading = REGISTRY,
        env = "ORDERFLOW_SCHEMA_REGISTRY_PASSWORD",
        hide_env_values = true
    )]
    pub schema_registry_password: Option<String>,

    /// Folder of Avro schemas of your own, laid out as the repository's schemas/ is
    /// (<Name>/v<N>.avsc), read at start beside the built-in ones.
    #[arg(
        long,
        help_heading = REGISTRY,
        env = "ORDERFLOW_SCHEMAS_DIR",
        value_name = "DIR"
    )]
    pub schemas_dir: Option<PathBuf>,
}

impl RegistryArgs {
    /// Adds the schemas of `--schemas-dir` to the catalogue; before anything decodes or
    /// encodes.
    pub fn load_schemas(&self) -> Result<(), RuntimeError> {
        if let Some(dir) = &self.schemas_dir {
            orderflow_events::contract::add_schemas_dir(dir)
                .map_err(|e| RuntimeError::Config(format!("--schemas-dir: {e}")))?;
        }
        Ok(())
    }

    /// The registry's settings; `None` without a URL. A user without a password (or
    /// the other way round) is an error.
    pub fn settings(&self) -> Result<Option<RegistrySettings>, RuntimeError> {
        let Some(url) = self
            .schema_registry_url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
        else {
            return Ok(None);
        };
        let mut settings = RegistrySettings::new(url);
        match (
            &self.schema_registry_username,
            &self.schema_registry_password,
        ) {
            (Some(user), Some(password)) => {
                settings.credentials = Some((user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => {
                return Err(RuntimeError::Config(
                    "give both --schema-registry-username and --schema-registry-password, or \
                     neither"
                        .into(),
                ));
            }
        }
        Ok(Some(settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(url: Option<&str>, user: Option<&str>, password: Option<&str>) -> RegistryArgs {
        RegistryArgs {
            schema_registry_url: url.map(str::to_owned),
            schema_registry_username: user.map(str::to_owned),
            schema_registry_password: password.map(str::to_owned),
            schemas_dir: None,
        }
    }

    #[test]
    fn a_registry_needs_a_url_and_both_credentials_or_neither() {
        assert!(registry(None, None, None).settings().unwrap().is_none());
        assert!(
            registry(Some("  "), None, None)
                .settings()
                .unwrap()
                .is_none()
        );
        let plain = registry(Some(" http://registry:8081 "), None, None)
            .settings()
            .unwrap()
            .unwrap();
        assert_eq!(plain.credentials, None);
        let with_user = registry(Some("http://r"), Some("u"), Some("p"))
            .settings()
            .unwrap()
            .unwrap();
        assert_eq!(with_user.credentials, Some(("u".into(), "p".into())));
        let half = registry(Some("http://r"), Some("u"), None)
            .settings()
            .unwrap_err()
            .to_string();
        assert!(half.contains("--schema-registry-password"), "{half}");
    }

    #[test]
    fn kafka_flags_become_checked_settings() {
        let args = KafkaArgs {
            bootstrap_servers: Some(" 127.0.0.1:9092 ".into()),
            command_config: None,
            kafka_config: vec![("linger.ms".into(), "7".into())],
            sasl_username: None,
            sasl_password: None,
        };
        let settings = args.settings().unwrap();
        assert_eq!(settings.bootstrap_servers, "127.0.0.1:9092");
        assert_eq!(settings.passthrough, [("linger.ms".into(), "7".into())]);
        let bad = KafkaArgs {
            bootstrap_servers: Some("no-port".into()),
            ..args.clone()
        };
        assert!(bad.settings().is_err());
    }

    #[test]
    fn flags_win_over_the_command_config_file() {
        let path = std::env::temp_dir().join(format!("client-{}.properties", std::process::id()));
        std::fs::write(
            &path,
            "bootstrap.servers=file-broker:9093\nlinger.ms=50\nsecurity.protocol=SASL_SSL\n\
             sasl.mechanism=PLAIN\n\
             sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"file-user\" password=\"file-password\";\n",
        )
        .unwrap();
        let args = KafkaArgs {
            bootstrap_servers: None,
            command_config: Some(path.clone()),
            kafka_config: vec![("linger.ms".into(), "7".into())],
            sasl_username: None,
            sasl_password: Some("flag-password".into()),
        };
        let settings = args.settings().unwrap();
        assert_eq!(settings.bootstrap_servers, "file-broker:9093");
        assert_eq!(settings.sasl_username.as_deref(), Some("file-user"));
        assert_eq!(settings.sasl_password.as_deref(), Some("flag-password"));
        assert_eq!(
            settings.passthrough_value(crate::kafka::Role::Producer, "linger.ms"),
            Some("7")
        );
        let flagged = KafkaArgs {
            bootstrap_servers: Some("flag-broker:9092".into()),
            ..args.clone()
        };
        assert_eq!(
            flagged.settings().unwrap().bootstrap_servers,
            "flag-broker:9092"
        );
        let neither = KafkaArgs {
            bootstrap_servers: None,
            command_config: None,
            sasl_password: None,
            ..flagged
        };
        assert_eq!(
            neither.settings().unwrap().bootstrap_servers,
            DEFAULT_BOOTSTRAP_SERVERS
        );
        std::fs::remove_file(&path).unwrap();
    }
}
