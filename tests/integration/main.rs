//! Integration tests: one binary, a real Apache Kafka broker (see `orderflow_tests`).

mod broker;
mod faults;
mod runtime;
