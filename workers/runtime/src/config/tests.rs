//! What the flags resolve to: the specified defaults, the settings that depend on
//! each other, and the message each bad setting fails with.

use clap::Parser;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: WorkerArgs,
}

const IDENTITY: WorkerIdentity = WorkerIdentity {
    name: "order-validator",
    version: "0.1.0",
    input_topic: "orders.lifecycle",
    output_topic: "orders.validation",
};

fn resolve(args: &[&str]) -> Result<RuntimeConfig, String> {
    let cli = Cli::try_parse_from(std::iter::once("w").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    cli.args.resolve(IDENTITY).map_err(|e| e.to_string())
}

#[test]
fn defaults_follow_the_specification() {
    let config = resolve(&[]).unwrap();
    assert_eq!(config.kafka.bootstrap_servers, "127.0.0.1:9092");
    assert_eq!(config.group_id, "order-validator");
    assert_eq!(config.input_topic, "orders.lifecycle");
    assert_eq!(config.output_topic, "orders.validation");
    assert_eq!(config.dlq_topic, "order-validator.dlq");
    assert_eq!(config.guarantee, Guarantee::ExactlyOnce);
    assert_eq!(config.codec.output_format, WireFormat::SingleObject);
    assert_eq!(config.commit_interval, Duration::from_millis(100));
}

#[test]
fn only_a_transaction_must_outlast_the_commit_interval() {
    let long = ["--commit-interval-ms", "45000"];
    let error = resolve(&long).unwrap_err();
    assert!(error.contains("--transaction-timeout-ms 30000"), "{error}");
    let config = resolve(&[long[0], long[1], "--guarantee", "at-least-once"]).unwrap();
    assert_eq!(config.commit_interval, Duration::from_secs(45));
}

#[test]
fn a_registry_makes_confluent_the_default_output() {
    let config = resolve(&["--schema-registry-url", "http://r:8081"]).unwrap();
    assert_eq!(config.codec.output_format, WireFormat::Confluent);
    let config = resolve(&[
        "--schema-registry-url",
        "http://r:8081",
        "--output-format",
        "single-object",
    ])
    .unwrap();
    assert_eq!(config.codec.output_format, WireFormat::SingleObject);
}

#[test]
fn the_output_schema_is_registered_when_missing_unless_told_otherwise() {
    let config = resolve(&[]).unwrap();
    assert_eq!(config.codec.registration, SchemaRegistration::default());
    assert!(config.codec.registration.auto_register);
    let config = resolve(&["--auto-register-schemas", "false", "--use-latest-version"]).unwrap();
    assert_eq!(
        config.codec.registration,
        SchemaRegistration {
            auto_register: false,
            use_latest_version: true
        }
    );
}

#[test]
fn kafka_config_is_repeatable_and_semicolon_separated() {
    let config = resolve(&[
        "--kafka-config",
        "linger.ms=7;socket.keepalive.enable=true",
        "--kafka-config",
        "client.id=x",
    ])
    .unwrap();
    assert_eq!(config.kafka.passthrough.len(), 3);
}

#[test]
fn bad_settings_fail_with_a_message_that_says_what_to_fix() {
    for (args, expected) in [
        (
            vec!["--output-format", "confluent"],
            "needs --schema-registry-url",
        ),
        (vec!["--guarantee", "maybe-once"], "exactly-once"),
        (
            vec!["--output-topic", "orders lifecycle"],
            "not a valid Kafka topic name",
        ),
        (
            vec!["--output-topic", "orders.lifecycle"],
            "would consume its own output",
        ),
        (
            vec!["--kafka-config", "enable.auto.commit=true"],
            "managed by orderflow",
        ),
        (
            vec!["--kafka-config", "no.such.property=1"],
            "no.such.property",
        ),
        (vec!["--kafka-config", "novalue"], "key=value"),
        (vec!["--bootstrap-servers", "localhost"], "host:port"),
        (vec!["--commit-interval-ms", "0"], "--commit-interval-ms"),
        (vec!["--rules", "/nonexistent/rules.toml"], "--rules"),
        (
            vec!["--guarantee", "at-least-once", "--transactional-id", "x"],
            "only used with",
        ),
        (
            vec![
                "--schema-registry-url",
                "http://r",
                "--schema-registry-username",
                "u",
            ],
            "both",
        ),
        (vec!["--max-failure-ratio", "1.5"], "--max-failure-ratio"),
    ] {
        let error = resolve(&args).unwrap_err();
        assert!(error.contains(expected), "{args:?}: {error}");
    }
}
