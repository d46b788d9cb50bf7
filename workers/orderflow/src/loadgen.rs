//! `orderflow loadgen`: realistic order lifecycles at a target rate, in either wire
//! format, reporting the rate it achieved.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use orderflow_events::{Codec, OrderEvent};
use orderflow_runtime::clock::now_millis;
use orderflow_runtime::kafka::{KafkaSettings, Role, Watched};
use orderflow_runtime::kafka_errors::{Next, Stage, classify};
use rdkafka::ClientContext;
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

use crate::cli::LoadgenArgs;
use crate::lifecycle::{Generator, Kind, Mix};

/// Header carrying the producer's clock (epoch microseconds), for latency measurements.
pub const PRODUCED_AT_HEADER: &str = "orderflow.produced-at-us";

/// What a load run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadReport {
    /// Events acknowledged by the broker.
    pub events: u64,
    /// Events whose delivery failed.
    pub failed: u64,
    /// Orders placed.
    pub orders: u64,
    /// Of which invalid.
    pub invalid: u64,
    /// Of which risky.
    pub risky: u64,
    /// Wall-clock seconds from first send to last acknowledgement.
    pub seconds: f64,
    /// Achieved events per second.
    pub rate: f64,
}

/// Counts acknowledgements.
#[derive(Default)]
pub struct Acks {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// A fast, idempotent producer that counts its acknowledgements.
pub fn producer(settings: &KafkaSettings) -> anyhow::Result<Watched<Arc<ThreadedProducer<Acks>>>> {
    use rdkafka::config::FromClientConfigAndContext;
    let config = settings.config_for(
        Role::Producer,
        &[
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("compression.type", "lz4"),
            ("queue.buffering.max.messages", "200000"),
            ("partitioner", "murmur2_random"),
        ],
    );
    let producer = Arc::new(
        ThreadedProducer::from_config_and_context(&config, Acks::default())
            .context("creating the producer")?,
    );
    Ok(Watched::new(settings, "producer", producer, |p| p.client()))
}

/// Enqueues one record, waiting while the client's queue is full.
pub async fn send(
    producer: &ThreadedProducer<Acks>,
    topic: &str,
    key: &str,
    value: &[u8],
    headers: Option<OwnedHeaders>,
) -> anyhow::Result<()> {
    loop {
        let mut record = BaseRecord::to(topic).key(key).payload(value);
        if let Some(headers) = &headers {
            record = record.headers(headers.clone());
        }
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((error, _)) if classify(&error, Stage::Send) == Next::Retry => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((error, _)) => return Err(error).context("producing"),
        }
    }
}

/// Paces sending: how many events are due after `elapsed` at `rate` per second.
pub fn due(rate: u64, elapsed: Duration) -> u64 {
    if rate == 0 {
        u64::MAX
    } else {
        (elapsed.as_secs_f64() * rate as f64) as u64
    }
}

/// How long the records still queued at the end may take: librdkafka acknowledges or
/// fails each record within `message.timeout.ms` of its production (300 s unless set),
/// so waiting that long loses no acknowledgement to a broker that is slow to come back;
/// the margin is for the record produced last.
pub fn acknowledgement_wait(settings: &KafkaSettings) -> Duration {
    let config = settings.config_for(Role::Producer, &[]);
    let millis = ["message.timeout.ms", "delivery.timeout.ms"]
        .iter()
        .find_map(|key| config.get(key)?.parse::<u64>().ok())
        .unwrap_or(300_000);
    Duration::from_millis(millis) + Duration::from_secs(10)
}

/// Runs `orderflow loadgen`.
pub async fn run(args: LoadgenArgs) -> anyhow::Result<LoadReport> {
    let settings = args.connection.kafka()?;
    let codec = Codec::new(args.connection.codec(args.format)?).map_err(anyhow::Error::msg)?;
    let header = codec
        .header_for::<OrderEvent>(&args.topic)
        .await
        .context("preparing the OrderEvent schema")?;
    orderflow_runtime::topics::require_topic(&settings, &args.topic).await?;
    let producer = producer(&settings)?;
    let limit = args.count.unwrap_or(u64::MAX);
    let stop_at = args.duration.map(|d| Instant::now() + d);
    let bar = if args.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::hidden()
    } else if let Some(count) = args.count {
        ProgressBar::new(count)
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {pos}/{len} events [{elapsed_precise}] {per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut generator = Generator::new(
        args.seed,
        args.concurrent_orders,
        Mix {
            invalid: args.invalid_share,
            risky: args.risky_share,
        },
    );
    let mut report = LoadReport::default();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    'outer: while sent < limit {
        if stop_at.is_some_and(|at| Instant::now() >= at) {
            break;
        }
        let target = due(args.rate, started.elapsed()).min(limit);
        if target <= sent {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(2)) => {}
                _ = &mut interrupted => break 'outer,
            }
            continue;
        }
        let batch_end = target.min(sent + 10_000);
        while sent < batch_end {
            let (event, kind) = generator.next_event(now_millis());
            match kind {
                Some(Kind::Invalid) => report.invalid += 1,
                Some(Kind::Risky) => report.risky += 1,
                _ => {}
            }
            report.orders += u64::from(kind.is_some());
            let value = codec.encode_with(header, &event)?;
            let headers = args.timestamp_header.then(|| {
                let micros = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as u64)
                    .to_string();
                OwnedHeaders::new().insert(Header {
                    key: PRODUCED_AT_HEADER,
                    value: Some(&micros),
                })
            });
            send(&producer, &args.topic, &event.order_id, &value, headers).await?;
            sent += 1;
        }
        bar.set_position(sent);
        tokio::task::yield_now().await;
    }
    let flusher = Arc::clone(&producer);
    let wait = acknowledgement_wait(&settings);
    tokio::task::spawn_blocking(move || flusher.flush(wait))
        .await?
        .with_context(|| format!("waiting {} s for acknowledgements", wait.as_secs()))?;
    bar.finish_and_clear();
    report.events = producer.context().delivered.load(Ordering::Relaxed);
    report.failed = producer.context().failed.load(Ordering::Relaxed);
    report.seconds = started.elapsed().as_secs_f64();
    report.rate = report.events as f64 / report.seconds.max(1e-9);
    println!(
        "produced {} events ({} orders, {} invalid, {} risky) to {} in {:.1} s: {:.0} events/s{}",
        report.events,
        report.orders,
        report.invalid,
        report.risky,
        args.topic,
        report.seconds,
        report.rate,
        if report.failed > 0 {
            format!(", {} failed", report.failed)
        } else {
            String::new()
        }
    );
    if report.failed > 0 {
        anyhow::bail!("{} events were not acknowledged", report.failed);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_for_acknowledgements_outlasts_the_producers_message_timeout() {
        let settings = KafkaSettings::new("127.0.0.1:9092");
        assert_eq!(acknowledgement_wait(&settings), Duration::from_secs(310));
        let settings = settings.with_property("producer.message.timeout.ms", "60000");
        assert_eq!(acknowledgement_wait(&settings), Duration::from_secs(70));
        let settings =
            KafkaSettings::new("127.0.0.1:9092").with_property("delivery.timeout.ms", "5000");
        assert_eq!(acknowledgement_wait(&settings), Duration::from_secs(15));
    }
}
