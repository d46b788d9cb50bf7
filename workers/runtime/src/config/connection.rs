//! How to reach Kafka and the schema registry: the flags every worker and every
//! `orderflow` command shares (same names, same variables), and the settings they
//! become.

use orderflow_events::registry::RegistrySettings;

use crate::error::RuntimeError;
use crate::kafka::{KafkaSettings, parse_property};

/// The help heading of the Kafka flags (per flag: a heading set on a flattened struct
/// would carry over to the flags after it).
const KAFKA: &str = "Kafka connection";
/// The help heading of the registry flags.
const REGISTRY: &str = "Schema registry";

/// How to reach Kafka.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, host:port[,host:port...].
    #[arg(
        long,
        help_heading = KAFKA,
        env = "ORDERFLOW_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap_servers: String,

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
    pub fn settings(&self) -> Result<KafkaSettings, RuntimeError> {
        let mut settings = KafkaSettings::new(self.bootstrap_servers.trim());
        settings.sasl_username = self.sasl_username.clone();
        settings.sasl_password = self.sasl_password.clone();
        settings.passthrough = self.kafka_config.clone();
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
}

impl RegistryArgs {
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
            bootstrap_servers: " 127.0.0.1:9092 ".into(),
            kafka_config: vec![("linger.ms".into(), "7".into())],
            sasl_username: None,
            sasl_password: None,
        };
        let settings = args.settings().unwrap();
        assert_eq!(settings.bootstrap_servers, "127.0.0.1:9092");
        assert_eq!(settings.passthrough, [("linger.ms".into(), "7".into())]);
        let bad = KafkaArgs {
            bootstrap_servers: "no-port".into(),
            ..args
        };
        assert!(bad.settings().is_err());
    }
}
