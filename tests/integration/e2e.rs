//! The acceptance test of the five workers, judged from outside Rust.
//!
//! `tests/python/e2e.py` writes realistic order lifecycles to the input topic the way a
//! Python service would (confluent-kafka and fastavro, OrderEvent v2 and some v1), and
//! the account events of the orders' customers (UserEvent: registrations, logins from
//! new and known devices, e-mail changes) to the users topic. A share of both, whole
//! orders and whole users, goes in through an `orderflow gateway` process instead: POSTed
//! as JSON, written by the gateway as OrderEvent v2 and UserEvent, in the run's framing.
//! The script computes from the workers' documented rules every derived event they must
//! write, the notifier's user notices included. The five worker binaries then run as
//! separate processes with exactly-once (the notifier with its second input, the users
//! topic), and the same script reads their output topics read_committed and compares:
//! every expected event exactly once, with the expected fields, and nothing else. The
//! gateway must answer every request 202 and stop cleanly on SIGTERM.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use orderflow_tests::cluster::repo_root;
use orderflow_tests::process::Process;
use orderflow_tests::{Kafka, free_port, http_get, kafka, python, registry_url, unique};

use crate::gateway::{Gateway, Routes};

/// Orders of the registry-less run unless `ORDERFLOW_E2E_ORDERS` says otherwise.
const DEFAULT_ORDERS: usize = 1_500;
/// Orders of the run through the schema registry.
const REGISTRY_ORDERS: usize = 300;
/// Partitions of the input topic and of the users topic.
const INPUT_PARTITIONS: i32 = 6;

/// Each worker and the name `e2e.py verify --topics` knows its output by.
const WORKERS: [(&str, &str); 5] = [
    ("order-validator", "validation"),
    ("order-status", "status"),
    ("notifier", "notifier"),
    ("risk-scorer", "risk"),
    ("order-saga", "saga"),
];

/// The notifier's second input and its output.
struct Users {
    input: String,
    output: String,
}

/// One worker of the run: its topics, group and metrics address.
struct Stage {
    worker: &'static str,
    role: &'static str,
    output: String,
    dlq: String,
    group: String,
    http: String,
}

/// What to run: how many orders, and through a registry (Confluent framing) or not.
struct Run {
    orders: usize,
    seed: u64,
    registry: Option<String>,
}

#[orderflow_tests::test(timeout = 900)]
async fn every_worker_turns_python_written_lifecycles_into_the_expected_outputs() {
    let orders = std::env::var("ORDERFLOW_E2E_ORDERS")
        .ok()
        .map(|n| n.parse().expect("ORDERFLOW_E2E_ORDERS is a number"))
        .unwrap_or(DEFAULT_ORDERS);
    run(Run {
        orders,
        seed: 20_251,
        registry: None,
    })
    .await;
}

#[orderflow_tests::test(timeout = 900)]
async fn every_worker_reads_and_writes_confluent_framing_through_the_schema_registry() {
    run(Run {
        orders: REGISTRY_ORDERS,
        seed: 4_242,
        registry: Some(registry_url()),
    })
    .await;
}

async fn run(run: Run) {
    let kafka = kafka().await;
    let input = unique("e2e-lifecycle");
    kafka.create_topic(&input, INPUT_PARTITIONS, 1).await;
    let users = Users {
        input: unique("e2e-users"),
        output: unique("e2e-user-notices"),
    };
    kafka.create_topic(&users.input, INPUT_PARTITIONS, 1).await;
    kafka.create_topic(&users.output, 3, 1).await;
    let mut stages = Vec::new();
    for (worker, role) in WORKERS {
        let stage = Stage {
            worker,
            role,
            output: unique(&format!("e2e-{role}")),
            dlq: unique(&format!("e2e-{role}-dlq")),
            group: unique(&format!("e2e-{worker}")),
            http: format!("127.0.0.1:{}", free_port()),
        };
        kafka.create_topic(&stage.output, 3, 1).await;
        kafka.create_topic(&stage.dlq, 1, 1).await;
        stages.push(stage);
    }
    let expected = std::env::temp_dir().join(format!("{}.json", unique("e2e-expected")));
    // The run's registry, so that the gateway writes the run's framing.
    let mut gateway = Gateway::start(
        kafka.bootstrap_servers(),
        &Routes {
            orders: input.clone(),
            users: users.input.clone(),
        },
        &match &run.registry {
            Some(registry) => vec!["--schema-registry-url", registry.as_str()],
            None => Vec::new(),
        },
    );
    gateway
        .wait_readyz_within(200, Duration::from_secs(60))
        .await;
    let started = Instant::now();

    let mut produce = vec![
        "produce".to_owned(),
        "--bootstrap".into(),
        kafka.bootstrap_servers().into(),
        "--topic".into(),
        input.clone(),
        "--orders".into(),
        run.orders.to_string(),
        "--seed".into(),
        run.seed.to_string(),
        "--expected".into(),
        expected.display().to_string(),
        "--users-topic".into(),
        users.input.clone(),
        "--gateway".into(),
        gateway.url.clone(),
    ];
    if let Some(registry) = &run.registry {
        produce.extend(["--format".into(), "confluent".into()]);
        produce.extend(["--registry".into(), registry.clone()]);
    }
    let produced = e2e_py(&produce).await;
    report("e2e.py produce", &produced);
    println!("gateway: {}", gateway_counters(&gateway.url).await);
    assert!(
        produced.status.success(),
        "e2e.py produce failed; the gateway's log:\n{}",
        gateway.process.log_tail(30)
    );
    let produce_time = started.elapsed();

    let mut workers: Vec<Process> = stages
        .iter()
        .map(|stage| {
            let args = worker_args(kafka, &input, &users, stage, &run);
            Process::start(stage.worker, &args, &[])
        })
        .collect();

    // Room for slow machines: 10,000 orders take well under a minute on a laptop.
    let timeout = 120 + run.orders as u64 / 25;
    let topics = stages
        .iter()
        .map(|s| format!("{}={}", s.role, s.output))
        .chain([format!("users={}", users.output)])
        .collect::<Vec<_>>()
        .join(",");
    let mut verify = vec![
        "verify".to_owned(),
        "--bootstrap".into(),
        kafka.bootstrap_servers().into(),
        "--expected".into(),
        expected.display().to_string(),
        "--topics".into(),
        topics,
        "--timeout".into(),
        timeout.to_string(),
    ];
    if let Some(registry) = &run.registry {
        verify.extend(["--registry".into(), registry.clone()]);
    }
    let verified = e2e_py(&verify).await;
    let total_time = started.elapsed();
    report("e2e.py verify", &verified);

    for (stage, worker) in stages.iter().zip(&workers) {
        let metrics = worker_counters(&stage.http).await;
        println!("{:>16}: {metrics}", worker.name());
    }
    let mut dead_letters = Vec::new();
    for stage in &stages {
        let records = kafka.consume_all(&stage.dlq, Duration::from_secs(2)).await;
        dead_letters.push((stage.worker, records.len()));
    }
    println!("dead letters per worker: {dead_letters:?}");
    println!(
        "{} orders and their customers' account events: produced in {produce_time:.1?}, \
         all five workers verified after {total_time:.1?}",
        run.orders
    );

    for worker in &workers {
        worker.terminate();
    }
    gateway.stop_cleanly().await;
    let mut exits = Vec::new();
    for worker in &mut workers {
        let status = worker.wait(Duration::from_secs(30)).await;
        exits.push((worker.name().to_owned(), status));
    }
    let _ = std::fs::remove_file(&expected);

    assert!(
        verified.status.success(),
        "the derived events differ from what the documented rules predict (summary above)"
    );
    for (worker, count) in &dead_letters {
        assert_eq!(
            *count, 0,
            "{worker} dead-lettered {count} valid Avro records"
        );
    }
    for (worker, status) in exits {
        let status = status.unwrap_or_else(|| panic!("{worker} did not exit after SIGTERM"));
        assert!(
            status.success(),
            "{worker} exit status after SIGTERM: {status}"
        );
    }
}

fn worker_args(kafka: &Kafka, input: &str, users: &Users, stage: &Stage, run: &Run) -> Vec<String> {
    let mut args: Vec<String> = [
        "--bootstrap-servers",
        kafka.bootstrap_servers(),
        "--group-id",
        &stage.group,
        "--input-topic",
        input,
        "--output-topic",
        &stage.output,
        "--dlq-topic",
        &stage.dlq,
        "--guarantee",
        "exactly-once",
        "--http-addr",
        &stage.http,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if stage.worker == "notifier" {
        args.extend([
            "--users-input-topic".to_owned(),
            users.input.clone(),
            "--users-output-topic".to_owned(),
            users.output.clone(),
        ]);
    }
    if let Some(registry) = &run.registry {
        args.extend(["--schema-registry-url".to_owned(), registry.clone()]);
    }
    args
}

/// Runs `tests/python/e2e.py` with `args` and waits for it.
async fn e2e_py(args: &[String]) -> Output {
    let script: PathBuf = repo_root().join("tests").join("python").join("e2e.py");
    tokio::process::Command::new(python())
        .kill_on_drop(true)
        .arg(script)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {} e2e.py: {e}", python().display()))
}

fn report(what: &str, output: &Output) {
    println!("==== {what} ({})", output.status);
    print!("{}", String::from_utf8_lossy(&output.stdout));
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.trim().is_empty() {
        println!("---- stderr:\n{stderr}");
    }
}

/// The worker's own counts from `/metrics`: consumed, produced, skipped, dead-lettered.
async fn worker_counters(http: &str) -> String {
    let Some((_, metrics)) = http_get(&format!("http://{http}/metrics")).await else {
        return "no /metrics answer".into();
    };
    let total = |name: &str| -> u64 {
        metrics
            .lines()
            .filter(|line| line.starts_with(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|value| value as u64)
            .sum()
    };
    format!(
        "consumed {}, produced {}, skipped {}, dead-lettered {}",
        total("orderflow_messages_consumed_total"),
        total("orderflow_records_produced_total"),
        total("orderflow_messages_skipped_total"),
        total("orderflow_dead_letters_total"),
    )
}

/// The gateway's own counts from `/metrics`: requests by route and status, events by
/// route and outcome.
async fn gateway_counters(url: &str) -> String {
    let Some((_, metrics)) = http_get(&format!("{url}/metrics")).await else {
        return "no /metrics answer".into();
    };
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("orderflow_gateway_requests_total")
                || line.starts_with("orderflow_gateway_events_total")
        })
        .map(|line| line.trim_start_matches("orderflow_gateway_"))
        .collect::<Vec<_>>()
        .join("; ")
}
