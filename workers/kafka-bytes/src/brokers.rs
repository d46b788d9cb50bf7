//! A client that a metadata response left without any broker goes back to its
//! bootstrap servers.
//!
//! librdkafka forgets every broker a metadata response leaves out, and a KRaft cluster
//! leaves out fenced brokers. When the controller fences the only broker, or all of
//! them, for a moment (a broker that did not heartbeat for `broker.session.timeout.ms`,
//! for instance after a pause longer than that), a response from that moment lists no
//! broker at all: the client forgets them all, and since it sends no request any more,
//! neither of its re-bootstrap triggers (all brokers down, no metadata for
//! `metadata.recovery.rebootstrap.trigger.ms` after a request) ever fires. Consumers
//! stop fetching and committing, and never recover (librdkafka 2.12; reported upstream
//! as "0 brokers but topic>0 MetadataResponse"). [`Rebootstrap::check`], called now and
//! then, sees that state and adds the bootstrap servers back, as a re-bootstrap would.
//!
//! Sampled now and then, the watch can miss a short spell with brokers: re-added, the
//! client learns the broker, and a second empty response comes before the next look.
//! So a client that stays without any learned broker for [`RETRY_AFTER`] gets the
//! bootstrap servers added again. While they are still there that is a no-op; a client
//! that never reached the cluster is the only other one in that state.

use std::ffi::{CString, NulError};
use std::time::{Duration, Instant};

use rdkafka::bindings;
use rdkafka::client::{Client, ClientContext};

/// How long a client may go without any learned broker before the bootstrap servers are
/// added again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Watches one client for the state above; one per client.
#[derive(Debug)]
pub struct Rebootstrap {
    servers: CString,
    learned: bool,
    /// Since when the client has known no learned broker (as far as the looks saw).
    without_since: Option<Instant>,
}

/// What one look did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// The client knows brokers, or has not been without them for long: nothing done.
    Fine,
    /// The client had learned brokers and knows none now: bootstrap servers added.
    Readded,
    /// The client has been without any learned broker for [`RETRY_AFTER`]: the
    /// bootstrap servers were added again (a no-op while they are still there).
    AddedAgain,
}

impl Rebootstrap {
    /// A watch that re-adds `bootstrap_servers` (the client's `bootstrap.servers`).
    pub fn new(bootstrap_servers: &str) -> Result<Self, NulError> {
        Ok(Rebootstrap {
            servers: CString::new(bootstrap_servers)?,
            learned: false,
            without_since: None,
        })
    }

    /// Looks at `client` once and adds the bootstrap servers back when it had learned
    /// brokers and knows none now, or has known none for [`RETRY_AFTER`]. Cheap: one
    /// lock and a copy of the broker ids.
    pub fn check<C: ClientContext>(&mut self, client: &Client<C>) -> Look {
        self.look(learned_brokers(client) > 0, Instant::now(), |servers| {
            // SAFETY: `client.native_ptr()` is the live handle `client` borrows;
            // `servers` is a NUL-terminated string that outlives the call, which
            // copies it.
            #[allow(unsafe_code)]
            unsafe {
                bindings::rd_kafka_brokers_add(client.native_ptr(), servers.as_ptr());
            }
        })
    }

    /// The decision of [`Rebootstrap::check`], apart from the client.
    fn look(&mut self, has_brokers: bool, now: Instant, add: impl FnOnce(&CString)) -> Look {
        if has_brokers {
            self.learned = true;
            self.without_since = None;
            return Look::Fine;
        }
        let since = *self.without_since.get_or_insert(now);
        let look = if std::mem::take(&mut self.learned) {
            Look::Readded
        } else if now.duration_since(since) >= RETRY_AFTER {
            Look::AddedAgain
        } else {
            return Look::Fine;
        };
        add(&self.servers);
        self.without_since = Some(now);
        look
    }
}

/// How many brokers `client` learned from metadata and still knows.
pub fn learned_brokers<C: ClientContext>(client: &Client<C>) -> usize {
    let mut count = 0usize;
    // SAFETY: `client.native_ptr()` is the live handle `client` borrows; the call
    // returns an array it allocated with malloc (or null), which we free.
    #[allow(unsafe_code)]
    unsafe {
        let ids = bindings::rd_kafka_brokers_learned_ids(client.native_ptr(), &mut count);
        if !ids.is_null() {
            libc::free(ids.cast::<libc::c_void>());
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::ClientConfig;
    use rdkafka::producer::{BaseProducer, Producer};

    #[test]
    fn a_client_that_never_learned_a_broker_is_left_alone_for_a_while() {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:9")
            .create()
            .expect("producer");
        let mut watch = Rebootstrap::new("127.0.0.1:9").expect("servers");
        assert_eq!(learned_brokers(producer.client()), 0);
        assert_eq!(watch.check(producer.client()), Look::Fine);
    }

    /// Looks at the given instants (seconds from `start`) with or without brokers, and
    /// what each did and whether it added the servers.
    fn looks(steps: &[(u64, bool)]) -> Vec<(Look, bool)> {
        let start = Instant::now();
        let mut watch = Rebootstrap::new("b:9092").expect("servers");
        steps
            .iter()
            .map(|&(at, has_brokers)| {
                let mut added = false;
                let look = watch.look(has_brokers, start + Duration::from_secs(at), |_| {
                    added = true
                });
                (look, added)
            })
            .collect()
    }

    #[test]
    fn losing_every_learned_broker_adds_the_servers_at_once() {
        assert_eq!(
            looks(&[(0, true), (1, false), (2, false)]),
            [
                (Look::Fine, false),
                (Look::Readded, true),
                (Look::Fine, false)
            ]
        );
    }

    #[test]
    fn a_spell_with_brokers_between_two_looks_is_caught_by_the_retry() {
        // Re-added at 1 s; the client learns the broker and loses it again between
        // two looks, so every look sees none: added again once 5 s passed.
        let seen = looks(&[(0, true), (1, false), (2, false), (5, false), (6, false)]);
        assert_eq!(seen[1], (Look::Readded, true));
        assert_eq!(&seen[2..4], [(Look::Fine, false), (Look::Fine, false)]);
        assert_eq!(seen[4], (Look::AddedAgain, true));
    }

    #[test]
    fn a_client_that_never_connected_gets_the_servers_again_every_retry() {
        let seen = looks(&[(0, false), (4, false), (5, false), (9, false), (10, false)]);
        let added: Vec<bool> = seen.iter().map(|(_, added)| *added).collect();
        assert_eq!(added, [false, false, true, false, true]);
    }

    #[test]
    fn servers_with_a_nul_byte_are_refused() {
        assert!(Rebootstrap::new("a\0b").is_err());
    }
}
