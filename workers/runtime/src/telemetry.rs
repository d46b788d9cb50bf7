//! Logs and trace context.
//!
//! Logs go through `tracing`, as JSON lines or human-readable text. The W3C trace
//! context travels in the `traceparent` header: every output continues the input's
//! trace with a new span id, or starts a new trace when the input had none.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The W3C trace-context header.
pub const TRACEPARENT: &str = "traceparent";

/// Installs the global log subscriber; `RUST_LOG` sets levels (default `info`).
/// Safe to call more than once: later calls do nothing.
pub fn init_logging(format: Option<LogFormat>) {
    init_logging_at(format, "info,rdkafka=warn,librdkafka=warn");
}

/// [`init_logging`] with other default levels (`RUST_LOG` still wins).
pub fn init_logging_at(format: Option<LogFormat>, default_directives: &str) {
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_directives));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Panics go to the log as events (a JSON log stays JSON), with where they happened.
/// A panic in a message's handling is caught and dead-lettered; elsewhere it stops the
/// worker: either way the log says what happened. For binaries: it replaces the default
/// hook, which tests rely on to show a failed assertion.
pub fn log_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let location = info.location().map(ToString::to_string).unwrap_or_default();
            let thread = std::thread::current();
            tracing::error!(
                thread = thread.name().unwrap_or("unnamed"),
                location,
                panic = message,
                "panicked"
            );
        }));
    });
}

/// The `traceparent` of an output: the input's trace with a new span id, or a new
/// sampled trace when the input carried none (or an invalid one).
pub fn child_traceparent(parent: Option<&[u8]>) -> String {
    // Written digit by digit: this runs for every output, and `format!` cost more than
    // the rest of the header work together.
    let span = u128::from(nonzero_random());
    let mut out = String::with_capacity(55);
    out.push_str("00-");
    match parent.and_then(parse_traceparent) {
        Some((trace, flags)) => {
            out.push_str(trace);
            out.push('-');
            push_hex(&mut out, span, 16);
            out.push('-');
            out.push_str(flags);
        }
        None => {
            let trace: u128 = loop {
                let value = rand::random::<u128>();
                if value != 0 {
                    break value;
                }
            };
            push_hex(&mut out, trace, 32);
            out.push('-');
            push_hex(&mut out, span, 16);
            out.push_str("-01");
        }
    }
    out
}

/// Appends the low `digits` hex digits of `value`, lower case, most significant first.
fn push_hex(out: &mut String, value: u128, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..digits).rev() {
        out.push(char::from(HEX[((value >> (shift * 4)) & 0xf) as usize]));
    }
}

fn nonzero_random() -> u64 {
    loop {
        let value = rand::random::<u64>();
        if value != 0 {
            return value;
        }
    }
}

/// The trace id of a valid version-00 `traceparent`.
pub fn trace_id(traceparent: &[u8]) -> Option<&str> {
    parse_traceparent(traceparent).map(|(trace, _)| trace)
}

/// The trace id and flags of a valid version-00 `traceparent`.
fn parse_traceparent(value: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let valid = version == "00"
        && parts.next().is_none()
        && hex(trace, 32)
        && hex(span, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && span.bytes().any(|b| b != b'0');
    valid.then_some((trace, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_continues_the_input_trace_with_a_new_span() {
        let parent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let child = child_traceparent(Some(parent));
        assert!(
            child.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{child}"
        );
        assert!(child.ends_with("-01"));
        assert_ne!(&child[36..52], "00f067aa0ba902b7");
    }

    #[test]
    fn a_missing_or_invalid_parent_starts_a_new_trace() {
        for parent in [
            None,
            Some(&b"garbage"[..]),
            Some(b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ] {
            let child = child_traceparent(parent);
            let (trace, flags) = parse_traceparent(child.as_bytes()).expect("valid");
            assert_ne!(trace, "00000000000000000000000000000000");
            assert_eq!(flags, "01");
        }
    }

    #[test]
    fn hex_digits_keep_leading_zeros_and_every_child_is_valid() {
        let mut out = String::new();
        push_hex(&mut out, 0xab, 16);
        assert_eq!(out, "00000000000000ab");
        out.clear();
        push_hex(&mut out, u128::MAX, 32);
        assert_eq!(out, "f".repeat(32));
        let parent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        for parent in [None, Some(&parent[..])] {
            let child = child_traceparent(parent);
            assert_eq!(child.len(), 55, "{child}");
            assert!(parse_traceparent(child.as_bytes()).is_some(), "{child}");
        }
        assert!(
            child_traceparent(Some(parent)).ends_with("-00"),
            "the parent's flags are kept"
        );
    }
}
