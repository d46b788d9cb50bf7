//! Exponential backoff with jitter for transient failures.

use std::time::Duration;

use crate::config::RetryPolicy;

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (attempts count from 1): the initial
    /// delay doubled per attempt, capped, then scaled by a random factor in [0.5, 1]
    /// so that workers failing together do not retry together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << exponent).min(self.max);
        base.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RetriesExhausted;

    #[test]
    fn delays_double_up_to_the_cap_with_jitter() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            exhausted: RetriesExhausted::Fail,
        };
        for (attempt, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            for _ in 0..50 {
                let delay = policy.delay(attempt).as_millis() as u64;
                assert!(
                    delay >= full / 2 && delay <= full,
                    "attempt {attempt}: {delay} ms"
                );
            }
        }
    }
}
