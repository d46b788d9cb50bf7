//! The shared table of Avro schema resolution cases (`tests/avro-resolution/cases.json`)
//! against fastavro and the Java Avro library; the Rust decoder runs the same table in
//! its unit tests. Each implementation must give what the specification says, or the
//! deviation the table records for it (see docs/avro-resolution.md); a recorded
//! deviation that is no longer seen fails too, so that the table and the document stay
//! true.

use std::path::Path;
use std::process::Stdio;

use orderflow_tests::cluster::repo_root;
use orderflow_tests::python;
use serde_json::Value as Json;

/// Runs `program` with `args` in `dir`, returning its standard output.
async fn run(program: &Path, args: &[&str], dir: &Path) -> String {
    let output = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\n{}\n{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Each case's outcome, by name, from JSON lines.
fn outcomes(text: &str) -> std::collections::HashMap<String, Json> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let outcome: Json = serde_json::from_str(l).expect("a JSON line");
            (outcome["name"].as_str().unwrap_or("").to_owned(), outcome)
        })
        .collect()
}

/// JSON equality where numbers compare by value (5 and 5.0 are one number).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Whether `outcome` is what `expected` says: `{"value": ...}` or `{"error": ...}`.
fn gives(outcome: &Json, expected: &Json) -> bool {
    match (outcome.get("value"), expected.get("value")) {
        (Some(got), Some(want)) => same(got, want),
        _ => outcome.get("error").is_some() && expected.get("error").is_some(),
    }
}

/// Checks one implementation's outcomes against the table; returns the failures and
/// the number of recorded deviations seen.
fn check(
    implementation: &str,
    table: &Json,
    outcomes: &std::collections::HashMap<String, Json>,
) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut deviations = 0;
    for case in table["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().unwrap_or("?");
        let Some(outcome) = outcomes.get(name) else {
            failures.push(format!("{implementation}: {name}: no outcome"));
            continue;
        };
        if let Some(setup) = outcome.get("setup") {
            failures.push(format!(
                "{implementation}: {name}: the check could not run it: {setup}"
            ));
            continue;
        }
        let spec = match case.get("expected") {
            Some(value) => serde_json::json!({ "value": value }),
            None => serde_json::json!({ "error": case["error"] }),
        };
        let recorded = case["deviations"].get(implementation);
        match (gives(outcome, &spec), recorded) {
            (true, None) => {}
            (true, Some(_)) => failures.push(format!(
                "{implementation}: {name}: now gives what the specification says; remove the \
                 recorded deviation from cases.json and docs/avro-resolution.md"
            )),
            (false, Some(deviation)) if gives(outcome, deviation) => deviations += 1,
            (false, _) => failures.push(format!(
                "{implementation}: {name}: gives {outcome}, the specification says {spec}{}",
                recorded
                    .map(|d| format!(" and the recorded deviation is {d}"))
                    .unwrap_or_default()
            )),
        }
    }
    (failures, deviations)
}

#[orderflow_tests::test(timeout = 600)]
async fn fastavro_and_java_avro_resolve_the_shared_table_as_the_specification_says_or_as_recorded()
{
    let root = repo_root();
    let dir = root.join("tests").join("avro-resolution");
    let cases = dir.join("cases.json");
    let table: Json =
        serde_json::from_str(&std::fs::read_to_string(&cases).expect("cases.json")).expect("JSON");
    let cases = cases.display().to_string();

    let fastavro = run(
        &python(),
        &[&dir.join("fastavro_check.py").display().to_string(), &cases],
        &dir,
    )
    .await;

    // The Java check is a small Maven project: compile it and write its classpath, then
    // run it with the JVM directly (no Maven plugin to run it).
    let java_dir = dir.join("java");
    let build = root.join("target").join("avro-resolution-java");
    let classpath_file = build.join("classpath.txt");
    run(
        Path::new("mvn"),
        &[
            "-q",
            "-B",
            "-Dstyle.color=never",
            "compile",
            "dependency:build-classpath",
            &format!("-Dmdep.outputFile={}", classpath_file.display()),
        ],
        &java_dir,
    )
    .await;
    let classpath = format!(
        "{}:{}",
        build.join("classes").display(),
        std::fs::read_to_string(&classpath_file)
            .expect("classpath.txt")
            .trim()
    );
    let java = run(
        Path::new("java"),
        &[
            "-cp",
            &classpath,
            "io.orderflow.resolution.ResolutionCheck",
            &cases,
        ],
        &java_dir,
    )
    .await;

    let mut failures = Vec::new();
    for (implementation, output) in [("fastavro", &fastavro), ("java", &java)] {
        let (mut found, deviations) = check(implementation, &table, &outcomes(output));
        println!(
            "{implementation}: {} cases, {deviations} recorded deviations, {} failures",
            table["cases"].as_array().map(Vec::len).unwrap_or(0),
            found.len()
        );
        failures.append(&mut found);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
