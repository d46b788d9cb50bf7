//! Checks a worker's output against its input: lost, duplicated, per-key order.

use std::collections::{BTreeMap, HashMap, HashSet};

use rdkafka::Message;
use rdkafka::message::OwnedMessage;

use crate::orders::sequence_of;

/// What the outputs of a run look like against the inputs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Inputs with no output.
    pub lost: Vec<String>,
    /// Inputs with more than one output, and how many extra.
    pub duplicated: BTreeMap<String, usize>,
    /// Keys whose outputs are not in input order.
    pub order_violations: Vec<String>,
    /// Outputs of no known input.
    pub unexpected: usize,
    /// Outputs read.
    pub outputs: usize,
}

impl Report {
    /// Extra copies in total.
    pub fn duplicates(&self) -> usize {
        self.duplicated.values().sum()
    }
}

/// Compares outputs (each naming its input by `causation`) with `expected` input ids.
/// Order is checked per key over first occurrences, in each partition's offset order.
pub fn check(
    expected: &HashSet<String>,
    outputs: &[OwnedMessage],
    causation: impl Fn(&OwnedMessage) -> Option<String>,
) -> Report {
    let mut report = Report {
        outputs: outputs.len(),
        ..Report::default()
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut by_partition: BTreeMap<i32, Vec<&OwnedMessage>> = BTreeMap::new();
    for message in outputs {
        by_partition
            .entry(message.partition())
            .or_default()
            .push(message);
    }
    let mut last_sequence: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut violated = HashSet::new();
    for messages in by_partition.values_mut() {
        messages.sort_by_key(|m| m.offset());
        for message in messages.iter() {
            let Some(id) = causation(message) else {
                report.unexpected += 1;
                continue;
            };
            if !expected.contains(&id) {
                report.unexpected += 1;
                continue;
            }
            let seen = counts.entry(id.clone()).or_default();
            *seen += 1;
            if *seen > 1 {
                continue;
            }
            let key = message.key().unwrap_or_default().to_vec();
            if let Some(sequence) = sequence_of(&id) {
                if let Some(&previous) = last_sequence.get(&key)
                    && sequence < previous
                    && violated.insert(key.clone())
                {
                    report
                        .order_violations
                        .push(String::from_utf8_lossy(&key).into_owned());
                }
                last_sequence.insert(key, sequence);
            }
        }
    }
    for id in expected {
        match counts.get(id) {
            None => report.lost.push(id.clone()),
            Some(&n) if n > 1 => {
                report.duplicated.insert(id.clone(), n - 1);
            }
            _ => {}
        }
    }
    report.lost.sort();
    report
}
