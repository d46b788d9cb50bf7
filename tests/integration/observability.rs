//! What the chart ships to watch the workers matches what they expose: every metric the
//! Grafana dashboard (helm/orderflow/dashboards/orderflow.json) and the alert rules
//! (helm/orderflow/templates/prometheusrule.yaml) query is in the scrape of a worker
//! that processed a few events on the real broker, and the log line about a message
//! carries the trace id of its `traceparent`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use orderflow_tests::cluster::repo_root;
use orderflow_tests::orders::events;
use orderflow_tests::process::Process;
use orderflow_tests::{Kafka, free_port, http_get, kafka};
use rdkafka::message::{Header, OwnedHeaders};

use crate::runtime::{Topics, topics, worker_args};

fn chart_file(path: &str) -> PathBuf {
    repo_root().join("helm/orderflow").join(path)
}

/// The PromQL of every panel target and of the template variables' queries.
fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(chart_file("dashboards/orderflow.json")).expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard parses");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push(target["expr"].as_str().expect("expr").to_owned());
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        // `label_values(<series selector>, <label>)`: the selector is the query.
        if let Some(query) = variable["query"]["query"].as_str()
            && let Some(inner) = query
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .and_then(|q| q.rsplit_once(','))
        {
            queries.push(inner.0.to_owned());
        }
    }
    queries
}

/// The `expr:` blocks of the PrometheusRule template, Helm actions removed.
fn alert_queries() -> Vec<String> {
    let text = std::fs::read_to_string(chart_file("templates/prometheusrule.yaml"))
        .expect("PrometheusRule template");
    let mut queries = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let mut query = rest.trim().trim_start_matches('|').to_owned();
        while let Some(next) = lines.peek() {
            let deeper = next.len() - next.trim_start().len() > indent;
            if !deeper || next.trim().is_empty() {
                break;
            }
            query.push(' ');
            query.push_str(next.trim());
            lines.next();
        }
        queries.push(query);
    }
    queries
        .into_iter()
        .map(|q| remove_between(&q, "{{", "}}"))
        .collect()
}

fn remove_between(text: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        match rest[start..].find(close) {
            Some(end) => rest = &rest[start + end + close.len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The metric names a PromQL expression reads: identifiers that are not functions,
/// keywords, label names (in matchers and in `by`/`without`/`on`/`ignoring` lists),
/// label values, ranges or Grafana variables.
fn metric_names(query: &str) -> BTreeSet<String> {
    const KEYWORDS: [&str; 7] = ["and", "or", "unless", "bool", "offset", "inf", "nan"];
    // Aggregations may be followed by `by (...)` rather than their parenthesis.
    const AGGREGATIONS: [&str; 12] = [
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    const LABEL_LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let mut text = remove_between(query, "\"", "\"");
    for (open, close) in [("{", "}"), ("[", "]")] {
        text = remove_between(&text, open, close);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word = c.is_ascii_alphabetic() || c == '_' || c == ':';
        if !starts_word {
            // `$worker`, `${datasource}`: skip the variable's name too.
            if c == '$' {
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                continue;
            }
            // A number such as 0.99 or 1e3: skip it whole.
            if c.is_ascii_digit() {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                continue;
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
        {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let mut after = i;
        while after < chars.len() && chars[after].is_whitespace() {
            after += 1;
        }
        let called = chars.get(after) == Some(&'(');
        if LABEL_LISTS.contains(&word.as_str()) {
            // Skip the parenthesised list of label names.
            if called && let Some(close) = chars[after..].iter().position(|&c| c == ')') {
                i = after + close + 1;
            }
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if called || KEYWORDS.contains(&lower.as_str()) || AGGREGATIONS.contains(&lower.as_str()) {
            continue;
        }
        names.insert(word);
    }
    names
}

/// The metric families of a Prometheus text scrape: every `# TYPE` name, and the
/// series names of its samples.
fn scraped_names(scrape: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut families = BTreeSet::new();
    let mut histograms = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next())
                && kind == "histogram"
            {
                histograms.insert(name.to_owned());
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            families.insert(line[..end].to_owned());
        }
    }
    (families, histograms)
}

/// Whether `name` (`_bucket`, `_sum`, `_count` of a histogram included) is scraped.
fn is_scraped(name: &str, (series, histograms): &(BTreeSet<String>, BTreeSet<String>)) -> bool {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|base| histograms.contains(*base));
    series.contains(name) || base.is_some()
}

/// An order-status worker on `topics` with its HTTP endpoints on a free port, once
/// `/readyz` answers 200; with the base URL of the endpoints.
async fn ready_worker(kafka: &Kafka, topics: &Topics, extra: &[&str]) -> (Process, String) {
    let http = format!("127.0.0.1:{}", free_port());
    let mut args = worker_args(kafka, topics, "exactly-once", extra);
    let at = args
        .iter()
        .position(|a| a == "127.0.0.1:0")
        .expect("--http-addr");
    args[at] = http.clone();
    let mut worker = Process::start("order-status", &args, &[]);
    let base = format!("http://{http}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(&format!("{base}/readyz")).await.map(|a| a.0) != Some(200) {
        assert!(worker.try_wait().is_none(), "the worker exited early");
        assert!(
            Instant::now() < deadline,
            "never ready:\n{}",
            worker.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (worker, base)
}

#[orderflow_tests::test(timeout = 10)]
async fn promql_metric_names_skip_functions_labels_and_variables() {
    let query = r#"histogram_quantile(0.99, sum by (worker, le) (rate(orderflow_end_to_end_seconds_bucket{namespace="$namespace", worker=~"$worker"}[$__rate_interval])))
        / on (worker) group_left (version) orderflow_build_info and max_over_time(up_total[1e3s]) > 1e3"#;
    let names: Vec<_> = metric_names(query).into_iter().collect();
    assert_eq!(
        names,
        [
            "orderflow_build_info",
            "orderflow_end_to_end_seconds_bucket",
            "up_total"
        ]
    );
    let helm = "sum (orderflow_consumer_lag{ {{- $sel -}} }) > {{ $rule.lagThreshold }}";
    let cleaned = remove_between(helm, "{{", "}}");
    assert_eq!(
        metric_names(&cleaned).into_iter().collect::<Vec<_>>(),
        ["orderflow_consumer_lag"]
    );
    let scrape = "# TYPE a_seconds histogram\na_seconds_bucket{le=\"1\"} 1\na_seconds_sum 1\n\
                  a_seconds_count 1\nb_total{worker=\"x\"} 2\n";
    let scraped = scraped_names(scrape);
    assert!(is_scraped("a_seconds_count", &scraped) && is_scraped("b_total", &scraped));
    assert!(!is_scraped("c_total", &scraped) && !is_scraped("b_total_count", &scraped));
}

#[orderflow_tests::test(timeout = 240)]
async fn every_metric_the_dashboard_and_the_alerts_query_is_in_a_worker_scrape() {
    let mut wanted = BTreeSet::new();
    let dashboard = dashboard_queries();
    let alerts = alert_queries();
    assert!(dashboard.len() >= 20, "dashboard queries: {dashboard:?}");
    assert_eq!(alerts.len(), 5, "alert expressions: {alerts:?}");
    for query in dashboard.iter().chain(&alerts) {
        let names = metric_names(query);
        assert!(!names.is_empty(), "no metric in {query}");
        wanted.extend(names);
    }
    for expected in [
        "process_cpu_seconds_total",
        "orderflow_ready",
        "orderflow_safety_valve_trips_total",
    ] {
        assert!(wanted.contains(expected), "{expected} not among {wanted:?}");
    }

    let kafka = kafka().await;
    let topics = topics(kafka, 2).await;
    let good = events(&topics.input, 4, 20).await;
    let (mut worker, base) = ready_worker(kafka, &topics, &[]).await;

    // A few events, and one undecodable message with a trace context: dead-lettered.
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let headers = OwnedHeaders::new().insert(Header {
        key: "traceparent",
        value: Some(traceparent.as_bytes()),
    });
    let records = good
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone(), None))
        .chain([("garbage".to_owned(), b"not avro".to_vec(), Some(headers))]);
    kafka.produce_with_headers(&topics.input, records).await;
    let letters = kafka.consume(&topics.dlq, 1, Duration::from_secs(60)).await;
    assert_eq!(letters.len(), 1, "the garbage message is dead-lettered");

    // Lag and queue depths come from the client's statistics, every 5 s: scrape until
    // every wanted metric is there, or the deadline passes.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (scrape, missing) = loop {
        let (_, scrape) = http_get(&format!("{base}/metrics")).await.expect("metrics");
        let scraped = scraped_names(&scrape);
        let missing: Vec<_> = wanted
            .iter()
            .filter(|name| !is_scraped(name, &scraped))
            .cloned()
            .collect();
        if missing.is_empty() || Instant::now() >= deadline {
            break (scrape, missing);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let log = worker.log();
    worker.terminate();
    worker.wait(Duration::from_secs(25)).await;
    assert!(
        missing.is_empty(),
        "queried by the dashboard or the alerts but not exposed: {missing:?}\n{scrape}"
    );
    // Every orderflow_ series names its worker (the module doc of runtime::metrics).
    for line in scrape.lines().filter(|l| l.starts_with("orderflow_")) {
        assert!(line.contains("worker=\"order-status\""), "{line}");
    }
    let line = log
        .lines()
        .find(|l| l.contains("message dead-lettered"))
        .unwrap_or_else(|| panic!("no dead-letter log line:\n{log}"));
    // The text log quotes string fields; the JSON log writes "trace_id":"...".
    assert!(line.contains(&format!("trace_id=\"{trace}\"")), "{line}");
}

#[orderflow_tests::test(timeout = 180)]
async fn a_worker_the_safety_valve_stopped_exits_once_a_scrape_has_seen_the_trip() {
    let kafka = kafka().await;
    let topics = topics(kafka, 1).await;
    let (mut worker, base) =
        ready_worker(kafka, &topics, &["--max-consecutive-failures", "3"]).await;
    let garbage: Vec<_> = (0..5)
        .map(|i| (format!("garbage-{i}"), b"not avro".to_vec()))
        .collect();
    kafka.produce(&topics.input, &garbage).await;
    assert!(
        worker
            .wait_for_log(Duration::from_secs(60), |l| l
                .contains("safety valve tripped"))
            .await,
        "the valve never tripped:\n{}",
        worker.log_tail(30)
    );
    // Stopping takes well under this; nobody has read /metrics since the trip.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        worker.try_wait().is_none(),
        "exited before a scrape saw the trip:\n{}",
        worker.log_tail(20)
    );
    let (_, scrape) = http_get(&format!("{base}/metrics"))
        .await
        .expect("metrics while waiting");
    assert!(
        scrape.contains("orderflow_safety_valve_trips_total{worker=\"order-status\"} 1"),
        "{scrape}"
    );
    let status = worker.wait(Duration::from_secs(10)).await;
    // Messages without a trace context log no trace id at all.
    let log = worker.log();
    let letters: Vec<_> = log
        .lines()
        .filter(|l| l.contains("message dead-lettered"))
        .collect();
    assert_eq!(letters.len(), 3, "{log}");
    assert!(letters.iter().all(|l| !l.contains("trace_id")), "{log}");
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "exits with the valve's failure once scraped:\n{}",
        worker.log_tail(20)
    );
}
