//! Where `orderflow groups reset` moves each partition's committed offset: a pure
//! function of the target and what the broker said about the partition, so every
//! `--to-*` is tested without a broker.
//!
//! As Kafka's `kafka-consumer-groups --reset-offsets` does, every new offset is
//! clamped to the partition's [low watermark, high watermark]: an offset below the
//! oldest record kept would be reset by the consumer's `auto.offset.reset` anyway, and
//! one past the end would skip records not yet written.

use serde::Serialize;

/// Where to move the offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The oldest record kept (low watermark).
    Earliest,
    /// After the newest record (high watermark).
    Latest,
    /// This offset.
    Offset(i64),
    /// The committed offset plus this many (negative: back).
    ShiftBy(i64),
    /// The first record at or after this time (milliseconds since the Unix epoch).
    Datetime(i64),
}

/// What the broker said about one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The group's committed offset, if it has one.
    pub committed: Option<i64>,
    /// Low watermark: the oldest offset kept.
    pub low: i64,
    /// High watermark: the offset the next record gets.
    pub high: i64,
    /// For [`Target::Datetime`]: the offset `offsets_for_times` answered, `None` when
    /// no record is that late.
    pub at_time: Option<i64>,
}

/// One partition's move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The committed offset before (`null`: none).
    pub current_offset: Option<i64>,
    /// The offset committed (`null`: left as it is, see [`new_offset`]).
    pub new_offset: Option<i64>,
}

/// The new offset of one partition; `None` only for a shift on a partition with no
/// committed offset (there is nothing to shift from, so it is left alone).
pub fn new_offset(target: Target, state: &PartitionState) -> Option<i64> {
    let wanted = match target {
        Target::Earliest => Some(state.low),
        Target::Latest => Some(state.high),
        Target::Offset(offset) => Some(offset),
        Target::ShiftBy(by) => state.committed.map(|current| current.saturating_add(by)),
        // No record that late: the end, as Kafka's tool does.
        Target::Datetime(_) => Some(state.at_time.unwrap_or(state.high)),
    };
    // min then max (not `clamp`, which panics when low > high).
    wanted.map(|offset| offset.min(state.high).max(state.low))
}

/// The moves of every partition, in the order given.
pub fn plan(target: Target, partitions: &[PartitionState]) -> Vec<Move> {
    partitions
        .iter()
        .map(|state| Move {
            topic: state.topic.clone(),
            partition: state.partition,
            current_offset: state.committed,
            new_offset: new_offset(target, state),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partition that keeps offsets 100..200, committed at 150.
    fn partition(committed: Option<i64>) -> PartitionState {
        PartitionState {
            topic: "orders.lifecycle".into(),
            partition: 3,
            committed,
            low: 100,
            high: 200,
            at_time: None,
        }
    }

    #[test]
    fn earliest_and_latest_are_the_watermarks() {
        assert_eq!(
            new_offset(Target::Earliest, &partition(Some(150))),
            Some(100)
        );
        assert_eq!(new_offset(Target::Latest, &partition(Some(150))), Some(200));
        assert_eq!(new_offset(Target::Earliest, &partition(None)), Some(100));
    }

    #[test]
    fn an_offset_outside_the_log_is_clamped_to_its_watermarks() {
        let state = partition(Some(150));
        let to = |offset| new_offset(Target::Offset(offset), &state);
        assert_eq!(to(120), Some(120));
        assert_eq!(to(5), Some(100));
        assert_eq!(to(-1), Some(100));
        assert_eq!(to(100), Some(100));
        assert_eq!(to(200), Some(200));
        assert_eq!(to(10_000), Some(200));
    }

    #[test]
    fn a_shift_moves_from_the_committed_offset_and_is_clamped() {
        let shift = |by, committed| new_offset(Target::ShiftBy(by), &partition(committed));
        assert_eq!(shift(-20, Some(150)), Some(130));
        assert_eq!(shift(30, Some(150)), Some(180));
        assert_eq!(shift(-500, Some(150)), Some(100));
        assert_eq!(shift(500, Some(150)), Some(200));
        assert_eq!(shift(i64::MAX, Some(150)), Some(200));
        assert_eq!(shift(i64::MIN, Some(150)), Some(100));
        // Nothing committed: nothing to shift from.
        assert_eq!(shift(-20, None), None);
    }

    #[test]
    fn a_datetime_takes_the_looked_up_offset_or_the_end() {
        let mut state = partition(Some(150));
        state.at_time = Some(120);
        assert_eq!(new_offset(Target::Datetime(0), &state), Some(120));
        state.at_time = None;
        assert_eq!(new_offset(Target::Datetime(0), &state), Some(200));
        // A lookup answer outside the log (records deleted meanwhile) is clamped.
        state.at_time = Some(20);
        assert_eq!(new_offset(Target::Datetime(0), &state), Some(100));
    }

    proptest::proptest! {
        /// Every target lands within the watermarks, or leaves a partition without a
        /// committed offset alone under a shift.
        #[test]
        fn every_new_offset_is_within_the_watermarks(
            low in 0i64..1_000,
            length in 0i64..1_000,
            committed in proptest::option::of(proptest::num::i64::ANY),
            at_time in proptest::option::of(proptest::num::i64::ANY),
            n in proptest::num::i64::ANY,
        ) {
            let state = PartitionState {
                topic: "t".into(),
                partition: 0,
                committed,
                low,
                high: low + length,
                at_time,
            };
            for target in [
                Target::Earliest,
                Target::Latest,
                Target::Offset(n),
                Target::ShiftBy(n),
                Target::Datetime(n),
            ] {
                match new_offset(target, &state) {
                    Some(offset) => proptest::prop_assert!(
                        (state.low..=state.high).contains(&offset),
                        "{target:?} gave {offset} outside {low}..={}", state.high
                    ),
                    None => proptest::prop_assert!(
                        matches!(target, Target::ShiftBy(_)) && committed.is_none()
                    ),
                }
            }
        }
    }

    #[test]
    fn watermarks_in_the_wrong_order_do_not_panic() {
        let mut state = partition(Some(150));
        state.low = 300;
        assert_eq!(new_offset(Target::Offset(250), &state), Some(300));
    }

    #[test]
    fn the_plan_lists_every_partition_with_its_current_and_new_offset() {
        let mut other = partition(None);
        other.partition = 4;
        let moves = plan(Target::ShiftBy(-10), &[partition(Some(150)), other]);
        assert_eq!(
            moves,
            vec![
                Move {
                    topic: "orders.lifecycle".into(),
                    partition: 3,
                    current_offset: Some(150),
                    new_offset: Some(140),
                },
                Move {
                    topic: "orders.lifecycle".into(),
                    partition: 4,
                    current_offset: None,
                    new_offset: None,
                },
            ]
        );
    }
}
