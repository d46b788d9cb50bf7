//! The crash-loop bookkeeping both committers keep (see `crash_loop`): the checkpoints
//! accepted and not yet committed, whose partitions wait for them, and the partitions
//! whose last commit recorded a count of starts, so that a clean revoke or shutdown
//! commits their position again without it (a clean stop is no crash).

use std::collections::HashMap;

use crate::message::{Checkpoint, Prepared};

/// Counts of starts a committer has to commit, and the committed ones it has to clear.
#[derive(Debug, Default)]
pub(crate) struct StartCounts {
    /// Checkpoints accepted and not yet committed, with their partitions, in order.
    checkpoints: Vec<(i32, Checkpoint)>,
    /// Partitions whose last commit recorded a count of starts, at which offset.
    counted: HashMap<i32, i64>,
}

impl StartCounts {
    /// Keeps the checkpoint `item` carries, if any, until its commit.
    pub fn keep_checkpoint(&mut self, item: &mut Prepared) {
        if let Some(checkpoint) = item.checkpoint.take() {
            self.checkpoints.push((item.partition, checkpoint));
        }
    }

    /// Checkpoints not yet committed.
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.len()
    }

    /// The counts of starts the checkpoints not yet committed record, by partition.
    pub fn checkpoint_starts(&self) -> HashMap<i32, u32> {
        self.checkpoints
            .iter()
            .map(|(partition, checkpoint)| (*partition, checkpoint.starts))
            .collect()
    }

    /// Takes the checkpoints not yet committed, to commit them one by one.
    pub fn take_checkpoints(&mut self) -> Vec<(i32, Checkpoint)> {
        std::mem::take(&mut self.checkpoints)
    }

    /// The commit of every checkpoint succeeded: answers whoever waits.
    pub fn answer_checkpoints(&mut self) {
        for (_, checkpoint) in self.checkpoints.drain(..) {
            let _ = checkpoint.done.send(());
        }
    }

    /// The checkpoints' commit will not happen: they are dropped unanswered, and the
    /// waiters go on uncounted.
    pub fn drop_checkpoints(&mut self) {
        self.checkpoints.clear();
    }

    /// A commit of `offsets` succeeded, recording the counts of `starts`: it recorded a
    /// count for those partitions and cleared the others' (an ordinary commit carries
    /// no count).
    pub fn committed(&mut self, offsets: &HashMap<i32, i64>, starts: &HashMap<i32, u32>) {
        for (partition, offset) in offsets {
            if starts.contains_key(partition) {
                self.counted.insert(*partition, *offset);
            } else {
                self.counted.remove(partition);
            }
        }
    }

    /// Partitions among `only` (all when `None`) whose last commit recorded a count of
    /// starts, at their committed offset, unless `moving_on` commits them anyway:
    /// committing these positions without a count clears it.
    pub fn to_clear(
        &self,
        only: Option<&[i32]>,
        moving_on: &HashMap<i32, i64>,
    ) -> HashMap<i32, i64> {
        self.counted
            .iter()
            .filter(|(p, _)| only.is_none_or(|list| list.contains(p)))
            .filter(|(p, _)| !moving_on.contains_key(p))
            .map(|(p, o)| (*p, *o))
            .collect()
    }

    /// Forgets the counts of `partitions`, given up: what Kafka holds for them is their
    /// next owner's to read.
    pub fn forget(&mut self, partitions: &[i32]) {
        for partition in partitions {
            self.counted.remove(partition);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::committer::tests::item;

    /// A message of `partition` at `offset` that carries a checkpoint of `starts`.
    fn checkpointed(partition: i32, offset: i64, starts: u32) -> (Prepared, oneshot::Receiver<()>) {
        let (done, answer) = oneshot::channel();
        let mut item = item(partition, offset);
        item.checkpoint = Some(Checkpoint { starts, done });
        (item, answer)
    }

    #[test]
    fn a_commit_without_a_count_clears_the_partitions_count() {
        let mut counts = StartCounts::default();
        counts.committed(
            &HashMap::from([(1, 10), (2, 20)]),
            &HashMap::from([(1, 3), (2, 1)]),
        );
        assert_eq!(
            counts.to_clear(None, &HashMap::new()),
            HashMap::from([(1, 10), (2, 20)])
        );
        counts.committed(&HashMap::from([(2, 25)]), &HashMap::new());
        assert_eq!(
            counts.to_clear(None, &HashMap::new()),
            HashMap::from([(1, 10)])
        );
    }

    #[test]
    fn only_the_named_partitions_that_do_not_move_on_are_cleared() {
        let mut counts = StartCounts::default();
        let offsets = HashMap::from([(1, 10), (2, 20), (3, 30)]);
        counts.committed(&offsets, &HashMap::from([(1, 1), (2, 1), (3, 1)]));
        let moving_on = HashMap::from([(2, 21)]);
        assert_eq!(
            counts.to_clear(Some(&[1, 2]), &moving_on),
            HashMap::from([(1, 10)])
        );
        counts.forget(&[1]);
        assert_eq!(counts.to_clear(None, &moving_on), HashMap::from([(3, 30)]));
    }

    #[test]
    fn checkpoints_are_answered_after_their_commit_and_dropped_without_it() {
        let mut counts = StartCounts::default();
        let (mut first, mut first_answer) = checkpointed(1, 5, 2);
        let mut plain = item(2, 7);
        counts.keep_checkpoint(&mut first);
        counts.keep_checkpoint(&mut plain);
        assert!(first.checkpoint.is_none(), "taken from the message");
        assert_eq!(counts.checkpoints(), 1);
        assert_eq!(counts.checkpoint_starts(), HashMap::from([(1, 2)]));
        counts.answer_checkpoints();
        assert_eq!(first_answer.try_recv(), Ok(()));
        assert_eq!(counts.checkpoints(), 0);

        let (mut second, mut second_answer) = checkpointed(1, 6, 1);
        counts.keep_checkpoint(&mut second);
        counts.drop_checkpoints();
        assert_eq!(
            second_answer.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        );
    }
}
