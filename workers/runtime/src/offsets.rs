//! At-least-once offset tracking: a partition's committable offset advances only over
//! messages whose every output is acknowledged, and never past an earlier message that
//! is still in flight (a contiguous watermark). Also the partition lists the clients
//! take: offsets to commit or store, with a crash-loop count where one is kept.

use std::collections::{HashMap, VecDeque};

use rdkafka::{Offset, TopicPartitionList};

use crate::crash_loop;

/// In-flight messages of one partition, in offset order.
#[derive(Debug, Default)]
pub struct PartitionOffsets {
    /// Offsets handed to the producer and whether all their outputs are acknowledged.
    in_flight: VecDeque<(i64, bool)>,
    /// The next offset to commit: one past the last message of the completed prefix.
    watermark: Option<i64>,
}

impl PartitionOffsets {
    /// Starts tracking `offset`. Offsets must arrive in increasing order.
    pub fn track(&mut self, offset: i64) {
        debug_assert!(self.in_flight.back().is_none_or(|(last, _)| *last < offset));
        self.in_flight.push_back((offset, false));
    }

    /// Every output of `offset` is acknowledged. Returns false if it was not tracked.
    pub fn complete(&mut self, offset: i64) -> bool {
        let Ok(index) = self.in_flight.binary_search_by_key(&offset, |(o, _)| *o) else {
            return false;
        };
        self.in_flight[index].1 = true;
        while let Some(&(first, true)) = self.in_flight.front() {
            self.in_flight.pop_front();
            self.watermark = Some(first + 1);
        }
        true
    }

    /// The offset to commit (one past the last contiguously acknowledged message),
    /// when anything was acknowledged since tracking began.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// Messages not yet fully acknowledged.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

/// Builds a partition list of `topic` from `offsets` (partition to next offset).
pub(crate) fn offsets_list(topic: &str, offsets: &HashMap<i32, i64>) -> TopicPartitionList {
    offsets_list_counting(topic, offsets, &HashMap::new())
}

/// [`offsets_list`], recording a crash-loop count of starts with the offsets of the
/// partitions in `starts` (see `crash_loop`).
pub(crate) fn offsets_list_counting(
    topic: &str,
    offsets: &HashMap<i32, i64>,
    starts: &HashMap<i32, u32>,
) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for (partition, offset) in offsets {
        let _ = list.add_partition_offset(topic, *partition, Offset::Offset(*offset));
        if let Some(count) = starts.get(partition)
            && let Some(mut element) = list.find_partition(topic, *partition)
        {
            element.set_metadata(crash_loop::metadata(*count));
        }
    }
    list
}

/// A partition list of one partition of `topic`.
pub(crate) fn single(topic: &str, partition: i32) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    list.add_partition(topic, partition);
    list
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_watermark_waits_for_the_oldest_message() {
        let mut p = PartitionOffsets::default();
        for offset in [10, 11, 15] {
            p.track(offset);
        }
        p.complete(11);
        p.complete(15);
        assert_eq!(p.watermark(), None, "10 is still in flight");
        p.complete(10);
        assert_eq!(p.watermark(), Some(16));
        assert_eq!(p.in_flight(), 0);
        assert!(!p.complete(99));
    }

    proptest! {
        /// For any order of acknowledgements, the watermark is exactly one past the
        /// longest acknowledged prefix: never beyond an unacknowledged message.
        #[test]
        fn watermark_is_one_past_the_longest_acknowledged_prefix(
            gaps in proptest::collection::vec(1i64..4, 1..60),
            order in proptest::collection::vec(any::<prop::sample::Index>(), 0..80),
        ) {
            let mut offsets = Vec::new();
            let mut next = 100;
            for gap in gaps {
                offsets.push(next);
                next += gap;
            }
            let mut p = PartitionOffsets::default();
            for &offset in &offsets {
                p.track(offset);
            }
            let mut acked = vec![false; offsets.len()];
            for index in order {
                let i = index.index(offsets.len());
                acked[i] = true;
                p.complete(offsets[i]);
                let prefix = acked.iter().take_while(|a| **a).count();
                let expected = (prefix > 0).then(|| offsets[prefix - 1] + 1);
                prop_assert_eq!(p.watermark(), expected);
                prop_assert_eq!(p.in_flight(), offsets.len() - prefix);
            }
        }
    }
}
