//! Crash loops across restarts: a record whose handling kills the process (an abort,
//! a panic on a thread that cannot be caught, an out-of-memory kill) would kill every
//! restart the same way, and nothing after it in its partition would ever be handled.
//!
//! The bookkeeping lives in the metadata Kafka keeps with each committed offset
//! (`orderflow:starts=N`): "N processes started handling this partition at this offset
//! and none committed past it". It costs one commit per partition assignment and
//! nothing per message:
//!
//! - On assignment a partition's committed offset and metadata are read. Before its
//!   first message is handled, the task commits that position with `starts` one more
//!   than read. Ordinary commits carry no metadata: progress clears the count, and so
//!   does a clean revoke or shutdown.
//! - A count read above zero means the last owner died (or lost the partition) without
//!   committing past that offset: the task then commits after 1, 2, 4, ... messages
//!   ([`Careful`]), each time with `starts=1`, so that a record that kills the process
//!   soon becomes the committed position itself.
//! - A count of [`SET_ASIDE_AFTER`] read at the offset of the first message means that
//!   many starts in a row died there: that record is dead-lettered with class
//!   `crash-loop`, without being handled, and the partition goes on.

/// Starts that died in a row at the same record before it is set aside.
pub const SET_ASIDE_AFTER: u32 = 3;
/// Messages after which careful commits stop (the last one after 1,024).
const CAREFUL_UNTIL: u64 = 1024;
/// The metadata prefix: other tools may commit metadata of their own.
const PREFIX: &str = "orderflow:starts=";

/// What the committed offset of a newly assigned partition says about earlier starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Restart {
    /// The committed offset.
    pub offset: i64,
    /// Processes that started there and committed nothing past it.
    pub starts: u32,
}

impl Restart {
    /// Reads the committed `offset` and its `metadata` (anything but ours counts as 0).
    pub fn read(offset: i64, metadata: Option<&[u8]>) -> Restart {
        let starts = metadata
            .and_then(|m| std::str::from_utf8(m).ok())
            .and_then(|m| m.strip_prefix(PREFIX))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Restart { offset, starts }
    }

    /// Whether the record at `offset`, the first one this start reads, killed
    /// [`SET_ASIDE_AFTER`] starts in a row.
    pub fn sets_aside(&self, offset: i64) -> bool {
        self.starts >= SET_ASIDE_AFTER && offset >= self.offset
    }

    /// Whether the last owner died here: commit carefully.
    pub fn unclean(&self) -> bool {
        self.starts > 0
    }
}

/// The metadata of a commit that records `starts`.
pub(crate) fn metadata(starts: u32) -> String {
    format!("{PREFIX}{starts}")
}

/// Careful commits after an unclean start: after the 1st, 2nd, 4th, 8th, ... message.
#[derive(Debug, Default)]
pub(crate) struct Careful {
    handled: u64,
}

impl Careful {
    /// One more message handled; whether to commit (with `starts=1`) right after it.
    /// `None` once careful commits are over.
    pub fn next(&mut self) -> Option<bool> {
        self.handled += 1;
        (self.handled <= CAREFUL_UNTIL).then_some(self.handled.is_power_of_two())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_and_foreign_metadata_counts_as_no_start() {
        assert_eq!(Restart::read(7, Some(metadata(2).as_bytes())).starts, 2);
        assert_eq!(Restart::read(7, None).starts, 0);
        assert_eq!(Restart::read(7, Some(b"")).starts, 0);
        assert_eq!(Restart::read(7, Some(b"someone else's")).starts, 0);
        assert_eq!(Restart::read(7, Some(b"orderflow:starts=x")).starts, 0);
        assert_eq!(Restart::read(7, Some(b"\xff\xfe")).starts, 0);
    }

    #[test]
    fn a_record_is_set_aside_after_three_starts_died_on_it() {
        let read = |starts| Restart { offset: 40, starts };
        assert!(!read(0).unclean());
        assert!(read(1).unclean());
        assert!(!read(2).sets_aside(40));
        assert!(read(3).sets_aside(40));
        // The committed offset may be a transaction marker: the first record after it.
        assert!(read(3).sets_aside(41));
        assert!(!read(3).sets_aside(39));
    }

    #[test]
    fn careful_commits_come_after_powers_of_two_then_stop() {
        let mut careful = Careful::default();
        let commits: Vec<u64> = (1..=2000u64)
            .filter(|_| careful.next() == Some(true))
            .collect();
        assert_eq!(commits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
        assert_eq!(careful.next(), None);
    }
}
