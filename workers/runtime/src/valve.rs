//! The safety valve: when too many messages fail in a row, or too large a share of the
//! recent ones, the input or the worker is broken, not a few messages. Stopping (and
//! letting the orchestrator restart and alert) beats dead-lettering the whole stream.

use std::collections::VecDeque;

use crate::config::ValveSettings;

/// Messages in the ratio window.
const WINDOW: usize = 1000;

/// Counts recent outcomes and trips when they are too bad.
#[derive(Debug)]
pub struct Valve {
    settings: ValveSettings,
    consecutive: u64,
    window: VecDeque<bool>,
    failures_in_window: usize,
}

impl Valve {
    /// A valve with `settings`.
    pub fn new(settings: ValveSettings) -> Valve {
        Valve {
            settings,
            consecutive: 0,
            window: VecDeque::with_capacity(WINDOW),
            failures_in_window: 0,
        }
    }

    /// Records one message's outcome; returns why the worker must stop, if it must.
    pub fn record(&mut self, failed: bool) -> Option<String> {
        self.consecutive = if failed { self.consecutive + 1 } else { 0 };
        if self.window.len() == WINDOW && self.window.pop_front() == Some(true) {
            self.failures_in_window -= 1;
        }
        self.window.push_back(failed);
        if failed {
            self.failures_in_window += 1;
        }
        let max = self.settings.max_consecutive;
        if max > 0 && self.consecutive >= max {
            return Some(format!(
                "{} messages in a row were dead-lettered (limit --max-consecutive-failures {max}); \
                 the input or the worker is broken, check the dead-letter topic",
                self.consecutive
            ));
        }
        let ratio = self.failures_in_window as f64 / WINDOW as f64;
        if self.settings.max_ratio < 1.0
            && self.window.len() == WINDOW
            && ratio > self.settings.max_ratio
        {
            return Some(format!(
                "{:.0}% of the last {WINDOW} messages were dead-lettered (limit \
                 --max-failure-ratio {}); the input or the worker is broken",
                ratio * 100.0,
                self.settings.max_ratio
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_failures_trips_and_a_success_resets_it() {
        let mut valve = Valve::new(ValveSettings {
            max_consecutive: 3,
            max_ratio: 1.0,
        });
        assert!(valve.record(true).is_none());
        assert!(valve.record(true).is_none());
        assert!(valve.record(false).is_none());
        assert!(valve.record(true).is_none());
        assert!(valve.record(true).is_none());
        assert!(valve.record(true).unwrap().contains("3 messages in a row"));
    }

    #[test]
    fn a_high_share_of_failures_trips_once_the_window_is_full() {
        let mut valve = Valve::new(ValveSettings {
            max_consecutive: 0,
            max_ratio: 0.5,
        });
        let mut tripped = None;
        for i in 0..2 * WINDOW {
            // Two failures out of three.
            if let Some(reason) = valve.record(i % 3 != 0) {
                tripped = Some((i, reason));
                break;
            }
        }
        let (at, reason) = tripped.expect("trips");
        assert_eq!(at, WINDOW - 1, "not before the window is full");
        assert!(reason.contains("67%"), "{reason}");
    }

    #[test]
    fn one_percent_of_garbage_never_trips_the_defaults() {
        let mut valve = Valve::new(ValveSettings {
            max_consecutive: 1000,
            max_ratio: 0.5,
        });
        for i in 0..100_000 {
            assert!(valve.record(i % 100 == 0).is_none());
        }
    }
}
