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

use std::ffi::{CString, NulError};

use rdkafka::bindings;
use rdkafka::client::{Client, ClientContext};

/// Watches one client for the state above; one per client.
#[derive(Debug)]
pub struct Rebootstrap {
    servers: CString,
    learned: bool,
}

impl Rebootstrap {
    /// A watch that re-adds `bootstrap_servers` (the client's `bootstrap.servers`).
    pub fn new(bootstrap_servers: &str) -> Result<Self, NulError> {
        Ok(Rebootstrap {
            servers: CString::new(bootstrap_servers)?,
            learned: false,
        })
    }

    /// Looks at `client` once. When it had learned brokers from metadata and knows
    /// none now, adds the bootstrap servers back and returns true. Cheap: one lock and
    /// a copy of the broker ids.
    pub fn check<C: ClientContext>(&mut self, client: &Client<C>) -> bool {
        if learned_brokers(client) > 0 {
            self.learned = true;
            return false;
        }
        if !self.learned {
            // Not connected yet: the bootstrap servers are still in use.
            return false;
        }
        self.learned = false;
        // SAFETY: `client.native_ptr()` is the live handle `client` borrows;
        // `self.servers` is a NUL-terminated string that outlives the call, which
        // copies it.
        #[allow(unsafe_code)]
        unsafe {
            bindings::rd_kafka_brokers_add(client.native_ptr(), self.servers.as_ptr());
        }
        true
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
    fn a_client_that_never_learned_a_broker_is_left_alone() {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:9")
            .create()
            .expect("producer");
        let mut watch = Rebootstrap::new("127.0.0.1:9").expect("servers");
        assert_eq!(learned_brokers(producer.client()), 0);
        assert!(!watch.check(producer.client()));
    }

    #[test]
    fn servers_with_a_nul_byte_are_refused() {
        assert!(Rebootstrap::new("a\0b").is_err());
    }
}
