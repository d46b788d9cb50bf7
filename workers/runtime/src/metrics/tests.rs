//! The metrics' names, labels and values as a scrape shows them.

use std::sync::Arc;

use super::*;

/// The value of the sample of `name` for `worker` whose line also holds `labels`.
fn sample(text: &str, name: &str, worker: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| line.contains(&format!("worker=\"{worker}\"")))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

fn worker(name: &'static str) -> (WorkerMetrics, Arc<WorkerStatus>) {
    let status = Arc::new(WorkerStatus::new(name));
    (WorkerMetrics::new(name, "9.8.7", status.clone()), status)
}

#[test]
fn a_scrape_has_the_process_metrics_under_their_usual_names() {
    // Read at each scrape: the memory and descriptors of a running process.
    let _ = worker("process-test");
    let text = render(&prometheus(), &[]);
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        let value = text
            .lines()
            .find(|line| line.starts_with(&format!("{name} ")))
            .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok());
        // A test process may not have used a whole CPU tick yet.
        assert!(value.is_some_and(|v| v >= 0.0), "{name} in\n{text}");
    }
}

#[test]
fn build_info_names_the_versions() {
    let _ = worker("build-test");
    let text = render(&prometheus(), &[]);
    let librdkafka = rdkafka::util::get_rdkafka_version().1;
    let value = sample(
        &text,
        BUILD_INFO,
        "build-test",
        &["version=\"9.8.7\"", &format!("librdkafka=\"{librdkafka}\"")],
    );
    assert_eq!(value, Some(1.0), "{text}");
}

#[test]
fn readiness_follows_what_readyz_answers() {
    let (_metrics, status) = worker("ready-test");
    let scrape = || {
        sample(
            &render(&prometheus(), std::slice::from_ref(&status)),
            READY,
            "ready-test",
            &[],
        )
    };
    assert_eq!(scrape(), Some(0.0));
    status.set_schemas_ready();
    status.set_assigned(2);
    assert_eq!(scrape(), Some(1.0));
    status.set_stopping();
    assert_eq!(scrape(), Some(0.0));
}

#[test]
fn bytes_are_counted_with_the_messages_and_records() {
    let (metrics, _) = worker("bytes-test");
    metrics.consumed(120);
    metrics.consumed(30);
    metrics.delivered(3, 700, &[]);
    let text = render(&prometheus(), &[]);
    assert_eq!(sample(&text, CONSUMED, "bytes-test", &[]), Some(2.0));
    assert_eq!(
        sample(&text, CONSUMED_BYTES, "bytes-test", &[]),
        Some(150.0)
    );
    assert_eq!(sample(&text, PRODUCED, "bytes-test", &[]), Some(3.0));
    assert_eq!(
        sample(&text, PRODUCED_BYTES, "bytes-test", &[]),
        Some(700.0)
    );
}

#[test]
fn commit_times_land_in_their_histograms() {
    let (metrics, _) = worker("commit-test");
    metrics.transaction_commit_took(Duration::from_millis(20));
    metrics.transaction_commit_took(Duration::from_millis(40));
    metrics.offset_commit_took(Duration::from_millis(3));
    let text = render(&prometheus(), &[]);
    let count = |name: &str| sample(&text, &format!("{name}_count"), "commit-test", &[]);
    let sum = |name: &str| sample(&text, &format!("{name}_sum"), "commit-test", &[]);
    assert_eq!(count(TRANSACTION_COMMIT), Some(2.0), "{text}");
    assert!((sum(TRANSACTION_COMMIT).unwrap() - 0.06).abs() < 1e-9);
    assert_eq!(count(OFFSET_COMMIT), Some(1.0));
    // The 25 ms bucket holds the 20 ms commit only.
    let bucket = sample(
        &text,
        &format!("{TRANSACTION_COMMIT}_bucket"),
        "commit-test",
        &["le=\"0.025\""],
    );
    assert_eq!(bucket, Some(1.0));
}

#[test]
fn queue_depths_replace_the_last_reading() {
    let (metrics, _) = worker("queue-test");
    metrics.producer_queue(10, 4096);
    metrics.fetch_queue(7, 2048);
    metrics.producer_queue(2, 512);
    let text = render(&prometheus(), &[]);
    assert_eq!(
        sample(&text, PRODUCER_QUEUE_MESSAGES, "queue-test", &[]),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, PRODUCER_QUEUE_BYTES, "queue-test", &[]),
        Some(512.0)
    );
    assert_eq!(
        sample(&text, FETCH_QUEUE_MESSAGES, "queue-test", &[]),
        Some(7.0)
    );
    assert_eq!(
        sample(&text, FETCH_QUEUE_BYTES, "queue-test", &[]),
        Some(2048.0)
    );
}

#[test]
fn rare_events_are_at_zero_from_the_start() {
    let _ = worker("zero-test");
    let text = render(&prometheus(), &[]);
    for class in FailureClass::ALL {
        let label = format!("class=\"{}\"", class.as_str());
        let value = sample(&text, DEAD_LETTERED, "zero-test", &[&label]);
        assert_eq!(value, Some(0.0), "{label}");
    }
    for (name, label) in [
        (RETRIES, "class=\"transient\""),
        (DELIVERY_ERRORS, "class=\"permanent\""),
        (REBALANCES, "kind=\"lost\""),
        (PRODUCER_RENEWALS, "worker="),
        (VALVE_TRIPS, "worker="),
    ] {
        assert_eq!(
            sample(&text, name, "zero-test", &[label]),
            Some(0.0),
            "{name}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn after_a_trip_the_exit_waits_for_one_scrape_at_most_for_its_limit() {
    let (metrics, status) = worker("trip-wait-test");
    status.scraped();
    metrics.valve_tripped("test");
    let limit = Duration::from_secs(30);
    let started = tokio::time::Instant::now();
    assert!(
        !status.scraped_since_trip(limit).await,
        "no scrape since the trip"
    );
    assert!(started.elapsed() >= limit);
    let waiting = {
        let status = status.clone();
        tokio::spawn(async move { status.scraped_since_trip(limit).await })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    status.scraped();
    let started = tokio::time::Instant::now();
    assert!(waiting.await.unwrap(), "the scrape ends the wait");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_valve_trip_is_counted() {
    let (metrics, _) = worker("valve-test");
    metrics.valve_tripped("1000 messages in a row were dead-lettered");
    let text = render(&prometheus(), &[]);
    assert_eq!(sample(&text, VALVE_TRIPS, "valve-test", &[]), Some(1.0));
}

#[test]
fn every_metric_is_described() {
    let _ = worker("describe-test");
    let text = render(&prometheus(), &[]);
    for name in [
        CONSUMED_BYTES,
        PRODUCED_BYTES,
        TRANSACTION_COMMIT,
        OFFSET_COMMIT,
        PRODUCER_QUEUE_MESSAGES,
        FETCH_QUEUE_MESSAGES,
        BUILD_INFO,
        READY,
        "process_cpu_seconds_total",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} in\n{text}"
        );
    }
}
