//! A worker with two input topics against the real broker: the notifier reads the order
//! lifecycle and the user-account events in one consumer group, through a rebalance
//! while both topics have work, with a poison record on each topic; every notice comes
//! out exactly once, both poison records are dead-lettered, both topics' offsets are
//! committed, and both processes stop cleanly.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use orderflow::verify::read_all;
use orderflow_events::{
    Codec, CodecSettings, NotificationRequested, OrderEvent, UserEvent, UserNotificationRequested,
    UserPayload, derived_event_id, event_id_text, sample,
};
use orderflow_tests::process::Process;
use orderflow_tests::{Kafka, kafka, payload, unique};
use rdkafka::Message;

use crate::runtime::{Topics, topics, worker_args};

const PARTITIONS: i32 = 3;

/// The user topics of one test.
struct UserTopics {
    input: String,
    output: String,
}

async fn user_topics(kafka: &Kafka) -> UserTopics {
    let topics = UserTopics {
        input: unique("users"),
        output: unique("user-notices"),
    };
    for topic in [&topics.input, &topics.output] {
        kafka.create_topic(topic, PARTITIONS, 1).await;
    }
    topics
}

fn notifier_args(kafka: &Kafka, orders: &Topics, users: &UserTopics) -> Vec<String> {
    worker_args(
        kafka,
        orders,
        "exactly-once",
        &[
            "--users-input-topic",
            &users.input,
            "--users-output-topic",
            &users.output,
            "--commit-interval-ms",
            "50",
        ],
    )
}

/// What a batch of events must yield: the ids of the derived events, per output topic.
#[derive(Default)]
struct Expected {
    orders: HashSet<String>,
    users: HashSet<String>,
}

/// Writes batch `batch` to both input topics: `count` orders placed, and `count` users
/// who each register, log in from a new and from a known device, and change their
/// address. Adds what the notifier must derive from it to `expected`.
async fn produce_batch(
    kafka: &Kafka,
    orders: &Topics,
    users: &UserTopics,
    batch: usize,
    count: usize,
    expected: &mut Expected,
) {
    let codec = Codec::new(CodecSettings::default()).expect("codec");
    let mut order_records = Vec::new();
    let mut user_records = Vec::new();
    for n in 0..count {
        let mut order: OrderEvent = sample::order_placed(1);
        order.order_id = format!("ord-{batch}-{n}");
        order.event_id = format!("{}-{batch}-{n}", orders.input);
        expected.orders.insert(event_id_text(derived_event_id(
            "notifier",
            &order.event_id,
            0,
        )));
        let bytes = codec.encode(&orders.input, &order).await.expect("encode");
        order_records.push((order.order_id.clone(), bytes));

        let user_id = format!("user-{batch}-{n}");
        let [registered, login, changed] = sample::user_payloads();
        let UserPayload::UserLoggedIn(mut known) = login.clone() else {
            unreachable!("the second sample payload is a login")
        };
        known.new_device = false;
        // Notices per payload: the welcome, the new-device notice, none for a known
        // device, two for an address change.
        let payloads = [
            (registered, 1),
            (login, 1),
            (UserPayload::UserLoggedIn(known), 0),
            (changed, 2),
        ];
        for (sequence, (payload, notices)) in payloads.into_iter().enumerate() {
            let mut event: UserEvent = sample::user_event(payload);
            event.user_id = user_id.clone();
            event.event_id = format!("{}-{batch}-{n}-{sequence}", users.input);
            for index in 0..notices {
                expected.users.insert(event_id_text(derived_event_id(
                    "notifier",
                    &event.event_id,
                    index,
                )));
            }
            let bytes = codec.encode(&users.input, &event).await.expect("encode");
            user_records.push((user_id.clone(), bytes));
        }
        if batch == 0 && n == count / 2 {
            order_records.push((order.order_id.clone(), b"not an order event".to_vec()));
            user_records.push((user_id.clone(), b"not a user event".to_vec()));
        }
    }
    kafka.produce(&orders.input, &order_records).await;
    kafka.produce(&users.input, &user_records).await;
}

#[orderflow_tests::test(timeout = 300)]
async fn the_notifier_reads_orders_and_users_in_one_group_exactly_once_through_a_rebalance() {
    let kafka = kafka().await;
    let orders = topics(kafka, PARTITIONS).await;
    let users = user_topics(kafka).await;
    let mut expected = Expected::default();
    produce_batch(kafka, &orders, &users, 0, 40, &mut expected).await;

    let args = notifier_args(kafka, &orders, &users);
    let mut first = Process::start("notifier", &args, &[]);
    // Both inputs are being processed by the first process...
    let started_orders = kafka
        .consume(&orders.output, 1, Duration::from_secs(90))
        .await;
    let started_users = kafka
        .consume(&users.output, 1, Duration::from_secs(90))
        .await;
    assert!(
        !started_orders.is_empty() && !started_users.is_empty(),
        "the first notifier produced nothing on one of its outputs:\n{}",
        first.log_tail(40)
    );
    // ...when a second member joins the group, while work keeps arriving on both topics:
    // before its join, during the rebalance, and after it was assigned partitions of
    // both.
    let mut second = Process::start("notifier", &args, &[]);
    let assigned = |route: &str, line: &str| {
        line.contains(&format!("worker=\"{route}\""))
            && line.contains("rebalance")
            && line.contains("kind=\"assign\"")
            && !line.contains("partitions=0")
    };
    let mut batch = 1;
    let mut after = 0;
    while after < 4 {
        assert!(
            batch < 400,
            "the second notifier got no partitions of both inputs:\n{}",
            second.log_tail(40)
        );
        produce_batch(kafka, &orders, &users, batch, 2, &mut expected).await;
        batch += 1;
        let log = second.log();
        if ["notifier", "notifier.users"]
            .iter()
            .all(|route| log.lines().any(|line| assigned(route, line)))
        {
            after += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let letters = kafka.consume(&orders.dlq, 2, Duration::from_secs(90)).await;
    let order_notices = kafka
        .consume(
            &orders.output,
            expected.orders.len(),
            Duration::from_secs(120),
        )
        .await;
    let user_notices = kafka
        .consume(
            &users.output,
            expected.users.len(),
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(
        (order_notices.len(), user_notices.len()),
        (expected.orders.len(), expected.users.len()),
        "notices missing; first notifier:\n{}\nsecond notifier:\n{}",
        first.log_tail(30),
        second.log_tail(30)
    );
    // Late duplicates would show up after the expected count: read everything again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settings = kafka.settings();
    let order_notices = read_all(&settings, &orders.output, true)
        .await
        .expect("read");
    let user_notices = read_all(&settings, &users.output, true)
        .await
        .expect("read");

    for process in [&mut first, &mut second] {
        process.terminate();
        let status = process
            .wait(Duration::from_secs(25))
            .await
            .expect("exits after SIGTERM");
        assert!(
            status.success(),
            "exit status {status}:\n{}",
            process.log_tail(30)
        );
    }

    let codec = Codec::new(CodecSettings::default()).expect("codec");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for message in &order_notices {
        let notice: NotificationRequested =
            codec.decode(payload(message)).await.expect("decode").value;
        assert_eq!(message.key(), Some(notice.order_id.as_bytes()));
        assert!(
            expected.orders.contains(&notice.event_id),
            "unexpected {notice:?}"
        );
        *seen.entry(notice.event_id).or_default() += 1;
    }
    for message in &user_notices {
        let notice: UserNotificationRequested =
            codec.decode(payload(message)).await.expect("decode").value;
        assert_eq!(
            message.key(),
            Some(notice.user_id.as_bytes()),
            "keyed by user"
        );
        assert!(
            expected.users.contains(&notice.event_id),
            "unexpected {notice:?}"
        );
        *seen.entry(notice.event_id).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    assert_eq!(seen.len(), expected.orders.len() + expected.users.len());

    // One dead letter per topic, in the worker's one dead-letter topic.
    let mut poison: Vec<_> = letters.iter().map(|l| payload(l).to_vec()).collect();
    poison.sort();
    assert_eq!(
        poison,
        [b"not a user event".to_vec(), b"not an order event".to_vec()]
    );

    // Both inputs' offsets are committed to their ends, in the one group.
    for topic in [&orders.input, &users.input] {
        let ends = kafka.end_offsets(topic, PARTITIONS);
        let committed = kafka.committed(&orders.group, topic, PARTITIONS);
        assert_eq!(committed, ends, "{topic}");
    }
}

#[orderflow_tests::test(timeout = 60)]
async fn two_inputs_on_one_topic_are_refused_at_start() {
    let kafka = kafka().await;
    let orders = topics(kafka, 1).await;
    let mut args = worker_args(kafka, &orders, "exactly-once", &[]);
    args.extend(["--users-input-topic".to_owned(), orders.input.clone()]);
    let mut worker = Process::start("notifier", &args, &[]);
    let status = worker
        .wait(Duration::from_secs(20))
        .await
        .expect("exits at start");
    assert_eq!(status.code(), Some(2), "{}", worker.log());
    assert!(
        worker.log().contains("give each input its own topic"),
        "{}",
        worker.log()
    );
}
