//! The fixture talks to a real Apache Kafka broker, not a stand-in.

use std::time::Duration;

use orderflow_tests::cluster::LocalCluster;
use orderflow_tests::{kafka, payload, unique};
use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

#[orderflow_tests::test(timeout = 300)]
async fn the_broker_is_a_real_kraft_apache_kafka_and_round_trips_records() {
    let kafka = kafka().await;
    let metadata_client: BaseConsumer = kafka.settings().create(&[]).unwrap();
    let metadata = metadata_client
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    let broker_id = metadata.brokers()[0].id();
    let cluster_id = metadata_client
        .client()
        .fetch_cluster_id(Duration::from_secs(10))
        .unwrap();
    println!(
        "cluster id {cluster_id}, {} broker(s)",
        metadata.brokers().len()
    );
    assert_eq!(
        cluster_id.len(),
        22,
        "a KRaft cluster id is a 22-character base64 uuid"
    );

    // DescribeConfigs is served by real brokers only; `process.roles` proves KRaft mode.
    let configs = kafka
        .admin()
        .describe_configs(
            &[ResourceSpecifier::Broker(broker_id)],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    let config = configs.into_iter().next().unwrap().unwrap();
    let roles = config
        .get("process.roles")
        .and_then(|e| e.value.clone())
        .unwrap_or_default();
    println!("broker {broker_id} process.roles={roles}");
    assert!(roles.contains("broker"), "process.roles={roles}");

    let topic = unique("proof");
    kafka.create_topic(&topic, 3, 1).await;
    let records: Vec<_> = (0..30)
        .map(|i| (format!("k{i}"), format!("v{i}").into_bytes()))
        .collect();
    kafka.produce(&topic, &records).await;
    let read = kafka.consume(&topic, 30, Duration::from_secs(30)).await;
    assert_eq!(read.len(), 30);
    let mut values: Vec<_> = read
        .iter()
        .map(|m| String::from_utf8(payload(m).to_vec()).unwrap())
        .collect();
    values.sort();
    let mut expected: Vec<_> = (0..30).map(|i| format!("v{i}")).collect();
    expected.sort();
    assert_eq!(values, expected);
}

#[orderflow_tests::test(timeout = 300)]
async fn three_brokers_keep_accepting_acks_all_writes_with_one_broker_down() {
    let cluster = LocalCluster::start(3).await;
    let topic = unique("replicated");
    let admin: rdkafka::admin::AdminClient<_> = cluster.settings().create(&[]).unwrap();
    let new_topic =
        rdkafka::admin::NewTopic::new(&topic, 3, rdkafka::admin::TopicReplication::Fixed(3))
            .set("min.insync.replicas", "2");
    let created = admin
        .create_topics(&[new_topic], &AdminOptions::new())
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");

    cluster.stop_broker(2).await;
    let producer: FutureProducer = cluster
        .settings()
        .create(&[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("message.timeout.ms", "60000"),
        ])
        .unwrap();
    for i in 0..20 {
        let key = format!("k{i}");
        let delivered = producer
            .send(
                FutureRecord::to(&topic).key(&key).payload("v"),
                Duration::from_secs(30),
            )
            .await;
        assert!(
            delivered.is_ok(),
            "acks=all write {i} failed with one of three brokers down: {delivered:?}"
        );
    }
    let reader: BaseConsumer = cluster.settings().create(&[("group.id", "check")]).unwrap();
    let metadata = reader
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    for partition in metadata.topics()[0].partitions() {
        assert_eq!(partition.replicas().len(), 3);
        assert_ne!(partition.leader(), 2, "a stopped broker cannot lead");
    }
    assert_eq!(cluster.brokers(), 3);
}
