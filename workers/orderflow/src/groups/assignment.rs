//! The partitions a group member owns, read from its assignment bytes.
//!
//! A group of protocol type `consumer` hands each member an assignment in Kafka's
//! consumer protocol format (`ConsumerProtocolAssignment`, versions 0 to 3, all
//! non-flexible and with the same fields):
//!
//! ```text
//! version            int16
//! assigned_partitions array (int32 count, -1 = null) of
//!     topic           string (int16 length, then UTF-8 bytes)
//!     partitions      array (int32 count, -1 = null) of int32
//! user_data          bytes (int32 length, -1 = null)
//! ```
//!
//! Any client may write these bytes, so every length is checked against what is left
//! before it is used: malformed input is an error, never a panic or a huge allocation.
//! What follows the partitions (user data, fields of later versions) is not needed and
//! not read. An empty assignment is what a member has before its first one.

use std::fmt;

/// A member's assignment: the consumer protocol version and its partitions by topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Version of the consumer protocol the assignor wrote.
    pub version: i16,
    /// Topic and partitions, in the order of the bytes.
    pub topics: Vec<(String, Vec<i32>)>,
}

/// Why assignment bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedAssignment {
    /// Offset in the bytes where reading failed.
    pub at: usize,
    /// What was expected there.
    pub expected: &'static str,
}

impl fmt::Display for MalformedAssignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed consumer protocol assignment at byte {}: {}",
            self.at, self.expected
        )
    }
}

impl std::error::Error for MalformedAssignment {}

/// Reads assignment bytes (see the module documentation).
pub fn decode(bytes: &[u8]) -> Result<Assignment, MalformedAssignment> {
    if bytes.is_empty() {
        return Ok(Assignment::default());
    }
    let mut reader = Reader { bytes, at: 0 };
    let version = reader.i16("a version (int16)")?;
    if version < 0 {
        return Err(reader.error_before(2, "a version of 0 or more"));
    }
    // A topic takes at least 6 bytes: its name's length and its partition count.
    let topic_count = reader.count(6, "a topic count (int32)")?;
    let mut topics = Vec::with_capacity(topic_count);
    for _ in 0..topic_count {
        let topic = reader.string("a topic name (int16 length and bytes)")?;
        let partition_count = reader.count(4, "a partition count (int32)")?;
        let mut partitions = Vec::with_capacity(partition_count);
        for _ in 0..partition_count {
            partitions.push(reader.i32("a partition (int32)")?);
        }
        topics.push((topic, partitions));
    }
    Ok(Assignment { version, topics })
}

/// A cursor over the bytes that never reads past their end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn error_before(&self, width: usize, expected: &'static str) -> MalformedAssignment {
        MalformedAssignment {
            at: self.at.saturating_sub(width),
            expected,
        }
    }

    fn take<const N: usize>(
        &mut self,
        expected: &'static str,
    ) -> Result<[u8; N], MalformedAssignment> {
        let end = self
            .at
            .checked_add(N)
            .filter(|end| *end <= self.bytes.len());
        let (Some(end), Some(slice)) = (end, self.bytes.get(self.at..)) else {
            return Err(MalformedAssignment {
                at: self.at,
                expected,
            });
        };
        let mut out = [0u8; N];
        out.copy_from_slice(&slice[..N]);
        self.at = end;
        Ok(out)
    }

    fn i16(&mut self, expected: &'static str) -> Result<i16, MalformedAssignment> {
        self.take::<2>(expected).map(i16::from_be_bytes)
    }

    fn i32(&mut self, expected: &'static str) -> Result<i32, MalformedAssignment> {
        self.take::<4>(expected).map(i32::from_be_bytes)
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }

    /// An array count: -1 (null) reads as empty; a count whose elements (at least
    /// `element` bytes each) cannot fit in what is left is an error.
    fn count(
        &mut self,
        element: usize,
        expected: &'static str,
    ) -> Result<usize, MalformedAssignment> {
        let count = self.i32(expected)?;
        if count == -1 {
            return Ok(0);
        }
        let count = usize::try_from(count)
            .map_err(|_| self.error_before(4, "an array count of -1 or more"))?;
        if count.saturating_mul(element) > self.remaining() {
            return Err(self.error_before(4, "an array count that fits in the bytes left"));
        }
        Ok(count)
    }

    fn string(&mut self, expected: &'static str) -> Result<String, MalformedAssignment> {
        let length = self.i16(expected)?;
        let length =
            usize::try_from(length).map_err(|_| self.error_before(2, "a topic name, not null"))?;
        if length > self.remaining() {
            return Err(self.error_before(2, "a topic name that fits in the bytes left"));
        }
        let text = &self.bytes[self.at..self.at + length];
        self.at += length;
        // Kafka topic names are ASCII; anything else is shown, not trusted.
        Ok(String::from_utf8_lossy(text).into_owned())
    }
}

/// Encodes an assignment as the consumer protocol does (with null user data): the
/// inverse of [`decode`], for tests.
#[cfg(test)]
pub fn encode(assignment: &Assignment) -> Vec<u8> {
    let mut out = assignment.version.to_be_bytes().to_vec();
    out.extend((assignment.topics.len() as i32).to_be_bytes());
    for (topic, partitions) in &assignment.topics {
        out.extend((topic.len() as i16).to_be_bytes());
        out.extend(topic.as_bytes());
        out.extend((partitions.len() as i32).to_be_bytes());
        for partition in partitions {
            out.extend(partition.to_be_bytes());
        }
    }
    out.extend((-1i32).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Assignment {
        Assignment {
            version: 3,
            topics: vec![
                ("orders.lifecycle".to_owned(), vec![0, 2, 4]),
                ("orders.status".to_owned(), vec![]),
            ],
        }
    }

    #[test]
    fn an_assignment_reads_back_what_the_consumer_protocol_wrote() {
        assert_eq!(decode(&encode(&sample())), Ok(sample()));
    }

    #[test]
    fn version_0_bytes_written_by_hand_decode() {
        let bytes = [
            0, 0, // version 0
            0, 0, 0, 1, // one topic
            0, 1, b't', // "t"
            0, 0, 0, 2, // two partitions
            0, 0, 0, 7, 0, 0, 0, 9, // 7, 9
            0, 0, 0, 3, 1, 2, 3, // user data: three bytes
        ];
        assert_eq!(
            decode(&bytes),
            Ok(Assignment {
                version: 0,
                topics: vec![("t".to_owned(), vec![7, 9])],
            })
        );
    }

    #[test]
    fn empty_bytes_are_no_assignment_yet() {
        assert_eq!(decode(&[]), Ok(Assignment::default()));
    }

    #[test]
    fn null_arrays_read_as_empty() {
        let bytes = [0, 1, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(decode(&bytes).unwrap().topics, vec![]);
        let bytes = [0, 1, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            decode(&bytes).unwrap().topics,
            vec![("t".to_owned(), vec![])]
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = encode(&sample());
        // Cut inside the partitions (the null user data is 4 trailing bytes).
        for end in 1..bytes.len() - 4 {
            assert!(decode(&bytes[..end]).is_err(), "cut at {end} decoded");
        }
        assert!(decode(&bytes[..bytes.len() - 4]).is_ok());
    }

    #[test]
    fn lengths_that_do_not_fit_are_refused_before_allocating() {
        let huge_topics = [0, 0, 0x7f, 0xff, 0xff, 0xff];
        let error = decode(&huge_topics).unwrap_err();
        assert_eq!(error.at, 2, "{error}");
        let huge_partitions = [0, 0, 0, 0, 0, 1, 0, 1, b't', 0x7f, 0xff, 0xff, 0xff];
        assert_eq!(decode(&huge_partitions).unwrap_err().at, 9);
        let long_name = [0, 0, 0, 0, 0, 1, 0x7f, 0xff, b't', 0, 0, 0, 0];
        assert_eq!(decode(&long_name).unwrap_err().at, 6);
        let null_name = [0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0];
        assert!(decode(&null_name).is_err());
        let negative_count = [0, 0, 0xff, 0xff, 0xff, 0xfe];
        assert!(decode(&negative_count).is_err());
        let negative_version = [0xff, 0xff, 0, 0, 0, 0];
        assert!(decode(&negative_version).is_err());
    }

    #[test]
    fn a_name_that_is_not_utf8_is_shown_not_trusted() {
        let bytes = [0, 0, 0, 0, 0, 1, 0, 2, 0xc3, 0x28, 0, 0, 0, 1, 0, 0, 0, 5];
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.topics[0].1, vec![5]);
        assert!(decoded.topics[0].0.contains('\u{fffd}'));
    }

    proptest::proptest! {
        /// Whatever the topics and partitions, decoding gives back what was encoded.
        #[test]
        fn any_assignment_reads_back(
            version in 0i16..4,
            topics in proptest::collection::vec(
                ("[a-z._-]{1,40}", proptest::collection::vec(proptest::num::i32::ANY, 0..20)),
                0..8,
            ),
        ) {
            let assignment = Assignment { version, topics };
            proptest::prop_assert_eq!(decode(&encode(&assignment)), Ok(assignment));
        }

        /// Arbitrary bytes, and a real assignment with bytes changed, decode or fail:
        /// they never panic.
        #[test]
        fn arbitrary_bytes_never_panic(
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
            at in proptest::num::usize::ANY,
            value in proptest::num::u8::ANY,
        ) {
            let _ = decode(&noise);
            let mut changed = encode(&sample());
            let index = at % changed.len();
            changed[index] = value;
            let _ = decode(&changed);
        }
    }

    #[test]
    fn any_bytes_decode_or_fail_without_panicking() {
        // Every prefix and every single-byte change of a real assignment, and some
        // pseudo-random noise: none may panic.
        let bytes = encode(&sample());
        for at in 0..bytes.len() {
            for value in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] {
                let mut changed = bytes.clone();
                changed[at] = value;
                let _ = decode(&changed);
            }
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for length in 0..2000 {
            let noise: Vec<u8> = (0..length % 64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let _ = decode(&noise);
        }
    }
}
