//! The verifier itself: what it reports must be what a downstream reader would see,
//! also when the cluster is slow to answer.

use std::time::{Duration, Instant};

use orderflow::verify::read_all;
use orderflow_events::{Codec, CodecSettings, OrderStatus, OrderStatusChanged};
use orderflow_tests::cluster::LocalCluster;
use orderflow_tests::orders::events;
use orderflow_tests::{Kafka, kafka, unique};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// Longer than the broker's session with its controller (`broker.session.timeout.ms`,
/// 9 s): when the broker answers again, the controller fences it for a moment, and a
/// metadata response from that moment lists no broker at all.
const FREEZE: Duration = Duration::from_secs(12);

/// A read that stalls longer than five seconds (a broker that does not answer for a
/// while, as on a machine loaded by the whole suite) goes on where it stopped: a short
/// read would count every output not read yet as lost. The freeze is long enough for
/// the controller to fence the broker, so the reader's client may be told of no broker
/// at all, which librdkafka never recovers from by itself.
#[orderflow_tests::test(timeout = 300)]
async fn a_read_waits_out_a_broker_that_stops_answering_for_longer_than_five_seconds() {
    let cluster = LocalCluster::start(1).await;
    let kafka = Kafka::at(cluster.bootstrap_servers());
    let topic = unique("verify-stall");
    kafka.create_topic(&topic, 2, 1).await;
    // One record per batch, and a reader that fetches one batch per partition at a
    // time and may not get ahead of the application: the read takes thousands of
    // round trips, so it is still going when the broker freezes.
    let records = 3_000;
    let producer: FutureProducer = kafka
        .settings()
        .create(&[("linger.ms", "0"), ("batch.size", "1")])
        .expect("producer");
    let deliveries: Vec<_> = (0..records)
        .map(|i| {
            let key = format!("key-{i}");
            let payload = vec![b'x'; 1_000];
            producer
                .send_result(FutureRecord::to(&topic).key(&key).payload(&payload))
                .map_err(|(error, _)| error)
        })
        .collect();
    for delivery in deliveries {
        delivery
            .expect("enqueued")
            .await
            .expect("delivery")
            .expect("acknowledged");
    }
    let settings = kafka
        .settings()
        // librdkafka raises fetch.max.bytes to at least message.max.bytes.
        .with_property("message.max.bytes", "4096")
        .with_property("fetch.max.bytes", "4096")
        .with_property("max.partition.fetch.bytes", "1")
        .with_property("queued.max.messages.kbytes", "1")
        .with_property("fetch.queue.backoff.ms", "5");
    let started = Instant::now();
    let reader = {
        let topic = topic.clone();
        tokio::spawn(async move { read_all(&settings, &topic, true).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !reader.is_finished(),
        "the read finished before the broker froze"
    );
    cluster.pause_broker(1).await;
    tokio::time::sleep(FREEZE).await;
    cluster.resume_broker(1).await;
    let read = reader.await.expect("reader task").expect("read");
    println!(
        "read {} of {} records in {:.1} s, across a {} s freeze",
        read.len(),
        records,
        started.elapsed().as_secs_f64(),
        FREEZE.as_secs()
    );
    assert_eq!(read.len(), records, "the read stopped short");
}

/// At-least-once outputs reach the count of inputs with duplicates while outputs are
/// still missing (an instance killed, its partitions idle until the group's session
/// timeout ends): the verification waits for every input's output, not for a count.
#[orderflow_tests::test(timeout = 120)]
async fn duplicates_do_not_end_the_wait_for_a_missing_output() {
    let kafka = kafka().await;
    let topic = unique("verify-late");
    kafka.create_topic(&topic, 2, 1).await;
    let events = events(&unique("late"), 2, 4).await;
    let codec = Codec::new(CodecSettings::default()).expect("codec");
    let mut outputs = Vec::new();
    for event in &events {
        let output = OrderStatusChanged {
            event_id: format!("status-{}", event.event_id),
            causation_id: event.event_id.clone(),
            order_id: event.order_id.clone(),
            produced_at: 0,
            worker: "order-status".into(),
            worker_version: "test".into(),
            customer_id: "cus-0".into(),
            status: OrderStatus::Placed,
            occurred_at: 0,
        };
        let bytes = codec.encode(&topic, &output).await.expect("encode");
        outputs.push((event.order_id.clone(), bytes));
    }
    // Three inputs have outputs, the first twice: as many records as inputs.
    let early: Vec<_> = [0, 1, 2, 0].iter().map(|&i| outputs[i].clone()).collect();
    kafka.produce(&topic, &early).await;
    let late = {
        let topic = topic.clone();
        let record = outputs[3].clone();
        tokio::spawn(async move {
            // Longer than the verification reads on for late duplicates.
            tokio::time::sleep(Duration::from_secs(6)).await;
            kafka.produce(&topic, &[record]).await;
        })
    };
    let report = crate::runtime::verify(kafka, &topic, &events, Duration::from_secs(60)).await;
    late.await.expect("late output");
    println!("{report:?}");
    assert!(report.lost.is_empty(), "lost: {:?}", report.lost);
    assert_eq!(report.duplicates(), 1);
    assert_eq!(report.outputs, 5);
}
