//! Integration tests: one binary, a real Apache Kafka broker (see `orderflow_tests`).

mod broker;
mod chaos;
mod cli;
mod e2e;
mod examples;
mod faults;
mod gateway;
mod groups;
mod interop;
mod observability;
mod records;
mod registry;
mod resolution;
mod runtime;
mod saga;
mod users;
mod verifier;
