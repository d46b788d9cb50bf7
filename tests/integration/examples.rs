//! The producer examples of `examples/producers/` (issue 21: any Kafka client, shown)
//! against the real broker: each example writes events in a wire format, then
//! order-validator runs over them. Every event the example reports delivered must be in
//! the topic as it wrote it (read back with the orderflow codec) and come out of the
//! worker validated, one output per event, nothing dead-lettered.
//!
//! Confluent framing needs the schema registry of `make test`, as the other registry
//! tests do; single-object encoding needs none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use orderflow_events::registry::RegistrySettings;
use orderflow_events::{
    Address, Codec, CodecSettings, LineItem, OrderEvent, OrderPlaced, OrderValidated,
    OrderValidation, Payload, Record, SalesChannel, SchemaRef, ValidationResult,
};
use orderflow_tests::cluster::repo_root;
use orderflow_tests::process::Process;
use orderflow_tests::{kafka, payload, python, registry_url};
use rdkafka::Message;
use tokio::sync::OnceCell;

use crate::runtime::{topics, worker_args};

/// Events each example writes.
const EVENTS: usize = 5;

#[derive(Clone, Copy, Debug)]
enum Language {
    Python,
    Java,
    Node,
}

impl Language {
    /// The `source` the example writes in every event.
    fn source(self) -> &'static str {
        match self {
            Language::Python => "python-example",
            Language::Java => "java-example",
            Language::Node => "node-example",
        }
    }
}

#[orderflow_tests::test(timeout = 180)]
async fn python_example_writes_single_object_events_the_workers_validate() {
    example_events_are_validated(Language::Python, None).await;
}

#[orderflow_tests::test(timeout = 180)]
async fn python_example_writes_confluent_framed_events_the_workers_validate() {
    example_events_are_validated(Language::Python, Some(registry_url())).await;
}

// Longer: the first run downloads the example's dependencies into ~/.m2.
#[orderflow_tests::test(timeout = 420)]
async fn java_example_writes_single_object_events_the_workers_validate() {
    example_events_are_validated(Language::Java, None).await;
}

#[orderflow_tests::test(timeout = 420)]
async fn java_example_writes_confluent_framed_events_the_workers_validate() {
    example_events_are_validated(Language::Java, Some(registry_url())).await;
}

#[orderflow_tests::test(timeout = 180)]
async fn node_example_writes_single_object_events_the_workers_validate() {
    example_events_are_validated(Language::Node, None).await;
}

#[orderflow_tests::test(timeout = 180)]
async fn node_example_writes_confluent_framed_events_the_workers_validate() {
    example_events_are_validated(Language::Node, Some(registry_url())).await;
}

/// Runs the example of `language` into a fresh topic (Confluent framed through
/// `registry` when given, else single-object encoded) and checks what it wrote and what
/// order-validator made of it.
async fn example_events_are_validated(language: Language, registry: Option<String>) {
    let kafka = kafka().await;
    let topics = topics(kafka, 3).await;
    let mut flags = vec![
        "--bootstrap-servers".to_owned(),
        kafka.bootstrap_servers().to_owned(),
        "--topic".to_owned(),
        topics.input.clone(),
        "--count".to_owned(),
        EVENTS.to_string(),
    ];
    if let Some(url) = &registry {
        flags.extend(["--registry-url".to_owned(), url.clone()]);
    }
    let printed = run_example(language, &flags).await;
    println!("{language:?} example:\n{printed}");
    let delivered = delivered(&printed);
    assert_eq!(
        delivered.len(),
        EVENTS,
        "the {language:?} example reports every event delivered:\n{printed}"
    );

    let codec = Codec::new(CodecSettings {
        registry: registry.as_deref().map(RegistrySettings::new),
        ..CodecSettings::default()
    })
    .expect("codec");
    let schema = match &registry {
        Some(url) => SchemaRef::RegistryId(registered_id(url, &topics.input).await),
        None => SchemaRef::Fingerprint(OrderEvent::contract().fingerprint),
    };

    // The topic holds each event once, under its order id, as the example wrote it.
    let inputs = kafka
        .consume(&topics.input, EVENTS + 1, Duration::from_secs(5))
        .await;
    assert_eq!(inputs.len(), EVENTS, "one record per delivered event");
    let now = jiff::Timestamp::now().as_millisecond();
    for record in &inputs {
        let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let decoded = codec
            .decode::<OrderEvent>(payload(record))
            .await
            .unwrap_or_else(|e| panic!("{language:?} record {key}: not decoded: {e}"));
        let event = decoded.value;
        assert_eq!(decoded.schema, schema, "{key}: the writer schema");
        assert_eq!(
            delivered.get(&key),
            Some(&event.event_id),
            "{key}: the event the example reported delivered under this key"
        );
        assert_eq!(event.order_id, key, "keyed by order_id");
        assert_eq!(event.customer_id, "cus-42");
        assert_eq!(event.source, language.source());
        assert!(
            (now - 600_000..=now).contains(&event.occurred_at),
            "{key}: occurred_at {} is now",
            event.occurred_at
        );
        assert_eq!(
            event.payload,
            Payload::OrderPlaced(written_order()),
            "{key}"
        );
    }

    // order-validator validates each one: one output per input, nothing dead-lettered.
    let extra: Vec<&str> = match &registry {
        Some(url) => vec!["--schema-registry-url", url],
        None => Vec::new(),
    };
    let flags = worker_args(kafka, &topics, "exactly-once", &extra);
    let mut worker = Process::start("order-validator", &flags, &[]);
    let outputs = kafka
        .consume(&topics.output, EVENTS, Duration::from_secs(90))
        .await;
    assert_eq!(
        outputs.len(),
        EVENTS,
        "order-validator validates every event the {language:?} example wrote"
    );
    let mut causations = BTreeSet::new();
    for output in &outputs {
        let validation = codec
            .decode::<OrderValidation>(payload(output))
            .await
            .expect("order-validator's output decodes")
            .value;
        assert_eq!(
            validation.result,
            ValidationResult::OrderValidated(OrderValidated {
                total: 8_993,
                currency: "EUR".into(),
                line_count: 2,
            }),
            "{}",
            validation.order_id
        );
        assert_eq!(
            delivered.get(&validation.order_id),
            Some(&validation.causation_id),
            "the output's order and cause are an input's"
        );
        causations.insert(validation.causation_id);
    }
    assert_eq!(causations.len(), EVENTS, "one output per input");
    let dead = kafka.consume(&topics.dlq, 1, Duration::from_secs(2)).await;
    assert!(dead.is_empty(), "nothing dead-lettered");

    worker.terminate();
    let status = worker.wait(Duration::from_secs(25)).await;
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
}

/// The OrderPlaced every example writes (see examples/producers/README.md).
fn written_order() -> OrderPlaced {
    OrderPlaced {
        line_items: vec![
            LineItem {
                sku: "SKU-1001".into(),
                quantity: 2,
                unit_price: 1999,
            },
            LineItem {
                sku: "SKU-2002".into(),
                quantity: 1,
                unit_price: 4500,
            },
        ],
        currency: "EUR".into(),
        shipping: 495,
        tax: 0,
        discount: 0,
        total: 8_993,
        shipping_address: Address {
            recipient: "Ada Lovelace".into(),
            line1: "Hauptstraße 1".into(),
            line2: None,
            city: "Berlin".into(),
            postal_code: "10115".into(),
            region: None,
            country: "DE".into(),
        },
        billing_country: "DE".into(),
        customer_email: "ada@example.com".into(),
        new_customer: false,
        sales_channel: SalesChannel::Web,
    }
}

/// `event_id` by `order_id`, from the example's `delivered order_id=… event_id=…` lines
/// (Maven may print a terminal escape sequence before the first).
fn delivered(printed: &str) -> BTreeMap<String, String> {
    printed
        .lines()
        .filter_map(|line| line.split_once("delivered ").map(|(_, rest)| rest))
        .filter_map(|rest| {
            let fields: BTreeMap<&str, &str> = rest
                .split_whitespace()
                .filter_map(|f| f.split_once('='))
                .collect();
            Some((
                fields.get("order_id")?.to_string(),
                fields.get("event_id")?.to_string(),
            ))
        })
        .collect()
}

/// The id of the newest schema under `<topic>-value`: what the example registered.
async fn registered_id(registry: &str, topic: &str) -> u32 {
    let url = format!("{registry}/subjects/{topic}-value/versions/latest");
    let answer: serde_json::Value = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .json()
        .await
        .expect("JSON");
    answer["id"].as_u64().expect("an id") as u32
}

fn examples_dir(folder: &str) -> PathBuf {
    repo_root().join("examples").join("producers").join(folder)
}

/// Runs the example of `language` with `flags`, as examples/producers/README.md says,
/// and returns what it printed; fails the test with its output if it fails.
async fn run_example(language: Language, flags: &[String]) -> String {
    match language {
        Language::Python => {
            let script = examples_dir("python").join("producer.py");
            let mut args = vec![script.display().to_string()];
            args.extend_from_slice(flags);
            let needs = "the virtualenv that scripts/deps.sh creates (make test runs it)";
            run(&python(), &args, &examples_dir("python"), needs).await
        }
        Language::Java => {
            let dir = examples_dir("java");
            java_compiled(&dir).await;
            // exec.args is split on spaces: no flag holds one.
            let args = [
                "-q".to_owned(),
                "-B".to_owned(),
                "-Dstyle.color=never".to_owned(),
                "exec:java".to_owned(),
                format!("-Dexec.args={}", flags.join(" ")),
            ];
            run(Path::new("mvn"), &args, &dir, JAVA).await
        }
        Language::Node => {
            let dir = examples_dir("node");
            assert!(
                dir.join("node_modules").join("@platformatic").is_dir(),
                "the Node.js example's packages are not installed: run scripts/deps.sh \
                 (make test does), which runs npm ci in {}",
                dir.display()
            );
            let mut args = vec!["producer.mjs".to_owned()];
            args.extend_from_slice(flags);
            let needs = "Node.js 20.19+ with npm (then scripts/deps.sh installs the example's \
                         packages)";
            run(Path::new("node"), &args, &dir, needs).await
        }
    }
}

/// Compiles the Java example once per test run: its two tests would otherwise compile
/// the same target/ folder at the same time.
async fn java_compiled(dir: &Path) {
    static COMPILED: OnceCell<()> = OnceCell::const_new();
    COMPILED
        .get_or_init(|| async {
            let args = ["-q", "-B", "-Dstyle.color=never", "compile"].map(str::to_owned);
            run(Path::new("mvn"), &args, dir, JAVA).await;
        })
        .await;
}

/// What the Java example needs.
const JAVA: &str = "Java 17+ and Maven";

/// Runs `program` in `dir`, killed if the test stops first; its standard output, or
/// the test fails with everything it printed, or with what to install (`needs`) when
/// the program is missing.
async fn run(program: &Path, args: &[String], dir: &Path, needs: &str) -> String {
    let output = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => panic!(
                "{} not found: the producer example in {} needs {needs}",
                program.display(),
                dir.display()
            ),
            _ => panic!("running {}: {e}", program.display()),
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\n{stdout}\n{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
