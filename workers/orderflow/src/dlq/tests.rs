use super::*;
use crate::cli::ReplayArgs;
use orderflow_runtime::config::{KafkaArgs, RegistryArgs};

fn letter(partition: i32, offset: i64, class: &str, kind: &str, origin_offset: i64) -> DeadLetter {
    let h = |name: &str, value: &str| RecordHeader::new(name, value);
    DeadLetter {
        partition,
        offset,
        timestamp: Some(1_000 + offset),
        key: Some(b"ord-1".to_vec()),
        value: Some(b"payload".to_vec()),
        headers: vec![
            h("traceparent", "00-abc-def-01"),
            h(header::TOPIC, "orders.lifecycle"),
            h(header::PARTITION, "2"),
            h(header::OFFSET, &origin_offset.to_string()),
            h(header::ERROR_CLASS, class),
            h(header::ERROR_KIND, kind),
            h(header::ERROR_MESSAGE, &format!("{kind} at {origin_offset}")),
            h(header::TRUNCATED_FROM, "2000000"),
        ],
    }
}

fn replay_args(all: bool) -> ReplayArgs {
    ReplayArgs {
        connection: ConnectionArgs {
            kafka: KafkaArgs {
                bootstrap_servers: Some("127.0.0.1:9092".into()),
                command_config: None,
                kafka_config: Vec::new(),
                sasl_username: None,
                sasl_password: None,
            },
            registry: RegistryArgs {
                schema_registry_url: None,
                schema_registry_username: None,
                schema_registry_password: None,
                schemas_dir: None,
            },
        },
        topic: "order-status.dlq".into(),
        all,
        class: None,
        partition: None,
        from_offset: None,
        to_offset: None,
        to_topic: None,
        dry_run: false,
    }
}

#[test]
fn dead_letters_are_grouped_by_class_and_kind_with_first_last_and_samples() {
    let letters = vec![
        letter(0, 0, "decode", "malformed", 10),
        letter(0, 1, "transient", "registry-unavailable", 11),
        letter(1, 2, "decode", "malformed", 12),
        letter(0, 3, "decode", "malformed", 13),
    ];
    let report = inspect("order-status.dlq", &letters, 2);
    assert_eq!(report.total, 4);
    assert_eq!(report.groups.len(), 2);
    let decode = &report.groups[0];
    assert_eq!(
        (decode.class.as_str(), decode.kind.as_str(), decode.count),
        ("decode", "malformed", 3)
    );
    assert_eq!(
        decode.first,
        Some(Origin {
            topic: "orders.lifecycle".into(),
            partition: 2,
            offset: 10
        })
    );
    assert_eq!(decode.last.as_ref().map(|o| o.offset), Some(13));
    assert_eq!(decode.samples, ["malformed at 10", "malformed at 12"]);
    assert_eq!(report.groups[1].count, 1);
    let text = inspect_text(&report);
    assert!(text.contains("\ndecode / malformed: 3\n  first: orders.lifecycle/2@10\n  last:  orders.lifecycle/2@13\n"), "{text}");
    assert!(text.ends_with("\ntotal: 4 dead letters\n"), "{text}");
    let json = serde_json::to_string(&report).unwrap();
    assert_eq!(
        serde_json::from_str::<InspectReport>(&json).unwrap(),
        report
    );
}

#[test]
fn a_record_without_provenance_is_grouped_as_unknown() {
    let bare = DeadLetter {
        headers: Vec::new(),
        ..letter(0, 0, "", "", 0)
    };
    let report = inspect("t", &[bare], 2);
    assert_eq!(report.groups[0].class, "unknown");
    assert_eq!(report.groups[0].first, None);
    assert!(report.groups[0].samples.is_empty());
}

#[test]
fn replay_refuses_to_run_without_a_selector() {
    let error = Selection::from_args(&replay_args(false))
        .unwrap_err()
        .to_string();
    assert!(error.contains("--all"), "{error}");
    assert_eq!(
        Selection::from_args(&replay_args(true)).unwrap(),
        Selection::default()
    );
    let mut args = replay_args(false);
    args.class = Some("transient".into());
    assert!(Selection::from_args(&args).is_ok());
    args.class = Some("transiant".into());
    assert!(
        Selection::from_args(&args)
            .unwrap_err()
            .to_string()
            .contains("unknown error class")
    );
    let mut args = replay_args(false);
    (args.from_offset, args.to_offset) = (Some(5), Some(4));
    assert!(Selection::from_args(&args).is_err());
}

#[test]
fn selection_filters_by_class_partition_and_inclusive_offsets() {
    let letters = [
        letter(0, 4, "decode", "malformed", 1),
        letter(0, 5, "transient", "registry-unavailable", 2),
        letter(0, 7, "transient", "registry-unavailable", 3),
        letter(1, 6, "transient", "registry-unavailable", 4),
    ];
    let chosen = |selection: Selection| -> Vec<String> {
        letters
            .iter()
            .filter(|l| selection.matches(l))
            .map(DeadLetter::position)
            .collect()
    };
    assert_eq!(chosen(Selection::default()).len(), 4);
    assert_eq!(
        chosen(Selection {
            class: Some("transient".into()),
            ..Default::default()
        }),
        ["0@5", "0@7", "1@6"]
    );
    assert_eq!(
        chosen(Selection {
            partition: Some(0),
            from_offset: Some(5),
            to_offset: Some(7),
            ..Default::default()
        }),
        ["0@5", "0@7"]
    );
    assert_eq!(
        chosen(Selection {
            from_offset: Some(6),
            to_offset: Some(6),
            ..Default::default()
        }),
        ["1@6"]
    );
}

#[test]
fn replayed_headers_drop_the_provenance_and_say_where_they_came_from() {
    let mut dead = letter(1, 42, "transient", "registry-unavailable", 7);
    dead.headers.push(RecordHeader::new(header::REPLAY_AT, "1"));
    let headers = replay_headers(&dead, "order-status.dlq", 1_700_000_000_000);
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.name_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "traceparent",
            header::REPLAY_DLQ_TOPIC,
            header::REPLAY_DLQ_PARTITION,
            header::REPLAY_DLQ_OFFSET,
            header::REPLAY_AT
        ]
    );
    let value = |name: &str| {
        headers
            .iter()
            .find(|h| h.is(name))
            .and_then(|h| h.value.clone())
            .unwrap()
    };
    assert_eq!(value("traceparent"), b"00-abc-def-01");
    assert_eq!(value(header::REPLAY_DLQ_TOPIC), b"order-status.dlq");
    assert_eq!(value(header::REPLAY_DLQ_PARTITION), b"1");
    assert_eq!(value(header::REPLAY_DLQ_OFFSET), b"42");
    assert_eq!(value(header::REPLAY_AT), b"1700000000000");
}

#[test]
fn a_letter_goes_back_to_its_original_topic_and_partition_unless_redirected() {
    let dead = letter(0, 3, "poison", "rejected", 9);
    let replayed = plan(&dead, "d", None, 5).unwrap();
    assert_eq!(
        (replayed.topic.as_str(), replayed.partition),
        ("orders.lifecycle", Some(2))
    );
    assert_eq!(
        (replayed.key.as_deref(), replayed.value.as_deref()),
        (Some(&b"ord-1"[..]), Some(&b"payload"[..]))
    );
    assert_eq!(replayed.reason, "poison/rejected");
    let redirected = plan(&dead, "d", Some("orders.retry"), 5).unwrap();
    assert_eq!(
        (redirected.topic.as_str(), redirected.partition),
        ("orders.retry", None)
    );
    let orphan = DeadLetter {
        headers: Vec::new(),
        ..dead
    };
    let warning = plan(&orphan, "d", None, 5).unwrap_err();
    assert!(
        warning.contains("d/0@3") && warning.contains("--to-topic"),
        "{warning}"
    );
    assert!(plan(&orphan, "d", Some("x"), 5).is_ok());
}
