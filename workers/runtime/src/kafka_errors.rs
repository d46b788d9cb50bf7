//! Kafka errors sorted by what the caller does next: the one table for the runtime and
//! the CLI. Adding an error code that needs handling is one line here and one row in
//! the table test below.
//!
//! The sort depends on where the error came from ([`Stage`]): a missing topic stops a
//! reader but is a passing state for a producer while a leader is elected; a record too
//! large for its topic goes to the dead-letter topic, but the same code from an admin
//! request is a refusal. Within a transaction call, librdkafka's own flags decide first
//! (fatal, abortable, retriable: its transactional API documents them per call); the
//! code table decides the rest.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Where an error came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// A consumer's `poll`: fetching, positions, the group.
    Poll,
    /// The producer refused to enqueue a record (`send`).
    Send,
    /// A record's delivery report: the broker refused it or it timed out.
    Delivery,
    /// A transaction call: `init_transactions`, `begin_transaction`,
    /// `send_offsets_to_transaction`, `commit_transaction`, `abort_transaction`; also
    /// the code of a producer's fatal error, which the next transaction call returns.
    TransactionCall,
    /// A client's error callback: connections, authentication, a fatal error.
    Client,
    /// A client's error callback before the client ever connected: a TLS failure then
    /// is a wrong certificate or host name, not a broker restarting.
    Connecting,
    /// An admin request (topic creation, configuration).
    Admin,
    /// An offset commit of the consumer group (at-least-once): `Retry` commits again;
    /// `AbortTransaction` means the commit cannot happen, and the next owner reads the
    /// uncommitted messages again.
    Commit,
}

/// What the caller does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Try again: wait and send again, call again, or let the client reconnect (it
    /// does by itself). Under exactly-once a failed delivery makes its transaction
    /// abort, and its inputs are read again in the next one.
    Retry,
    /// The open transaction cannot commit: abort it and read its inputs again. At-least
    /// once has no transaction to abort: its inputs are read again after a restart.
    AbortTransaction,
    /// No retry can deliver this record: dead-letter its input instead.
    DeadLetter,
    /// The producer cannot go on (fenced, or failed fatally); a new producer with the
    /// same transactional id and a new epoch cures it. A client nothing replaces (a
    /// consumer, an at-least-once producer) stops the worker instead.
    ReplaceProducer,
    /// Stop with the error: neither a retry nor a new client cures it (permissions, a
    /// topic that is gone, a broker too old).
    Stop,
    /// Not a failure for this caller (the end of a partition, a topic that exists).
    Ignore,
}

/// What to do after `error`, which came from `stage`.
pub fn classify(error: &KafkaError, stage: Stage) -> Next {
    match error {
        KafkaError::PartitionEOF(_) => Next::Ignore,
        KafkaError::MessageConsumptionFatal(_) => Next::Stop,
        // rust-rdkafka names no code for these, but they carry one.
        KafkaError::AdminOp(code) => classify_code(*code, stage),
        KafkaError::Transaction(inner) => {
            let code = inner.code();
            if inner.is_fatal() {
                // A new producer cures all but what no producer may or can do.
                match classify_code(code, stage) {
                    Next::Stop => Next::Stop,
                    _ => Next::ReplaceProducer,
                }
            } else if inner.txn_requires_abort() {
                Next::AbortTransaction
            } else if inner.is_retriable() {
                Next::Retry
            } else {
                classify_code(code, stage)
            }
        }
        _ => match error.rdkafka_error_code() {
            Some(code) => classify_code(code, stage),
            None => default_for(stage),
        },
    }
}

/// What to do after an error with `code` from `stage`: the table.
pub fn classify_code(code: RDKafkaErrorCode, stage: Stage) -> Next {
    use RDKafkaErrorCode as C;
    match (code, stage) {
        (C::PartitionEOF, _) => Next::Ignore,
        (C::TopicAlreadyExists, Stage::Admin) => Next::Ignore,
        // A record the broker refuses whatever the retry (a topic's policy too).
        (
            C::MessageSizeTooLarge
            | C::InvalidRecord
            | C::InvalidMessage
            | C::InvalidTimestamp
            | C::PolicyViolation,
            Stage::Send | Stage::Delivery,
        ) => Next::DeadLetter,
        (code, _) if is_denied(code) => Next::Stop,
        (C::UnsupportedVersion | C::UnsupportedFeature, _) => Next::Stop,
        // A reader whose topic is gone has nothing to read; a producer's metadata
        // catches up with a new leader or a topic being created.
        (C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition, Stage::Poll) => {
            Next::Stop
        }
        (C::QueueFull, Stage::Send) => Next::Retry,
        (
            C::ProducerFenced | C::InvalidProducerEpoch | C::Fenced | C::Fatal,
            Stage::Send | Stage::Delivery | Stage::TransactionCall | Stage::Client,
        ) => Next::ReplaceProducer,
        (C::Fatal, _) => Next::Stop,
        (C::SSL, Stage::Connecting) => Next::Stop,
        // The group is between two generations (a member still rejoining has not yet
        // learned the new generation: ILLEGAL_GENERATION, which librdkafka itself
        // takes for a lost assignment only outside a rebalance; the caller stops once
        // the assignment is lost), or its coordinator is moving or loading: the same
        // commit succeeds once that passes.
        (
            C::RebalanceInProgress
            | C::IllegalGeneration
            | C::CoordinatorLoadInProgress
            | C::CoordinatorNotAvailable
            | C::NotCoordinator
            | C::RequestTimedOut
            | C::WaitingForCoordinator
            | C::OperationTimedOut,
            Stage::Commit,
        ) => Next::Retry,
        _ => default_for(stage),
    }
}

/// Whether `code` says the client may not do this at all: an authentication failure,
/// missing ACLs, or a policy of the cluster.
pub fn is_denied(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::Authentication
            | C::SaslAuthenticationFailed
            | C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed
            | C::DelegationTokenAuthorizationFailed
            | C::PolicyViolation
    )
}

/// Codes the table does not name.
fn default_for(stage: Stage) -> Next {
    match stage {
        // librdkafka recovers by itself (reconnects, refreshes metadata, retries).
        Stage::Poll | Stage::Delivery | Stage::Client | Stage::Connecting => Next::Retry,
        // The record is not in the transaction: it cannot commit as it is.
        Stage::Send | Stage::TransactionCall => Next::AbortTransaction,
        Stage::Admin => Next::Stop,
        // Not a member any more (evicted, the assignment lost): the commit cannot
        // happen, and the next owner processes the uncommitted messages again.
        Stage::Commit => Next::AbortTransaction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RDKafkaErrorCode as C;
    use Stage::*;

    /// One row per code that needs handling: the code, the stage, what follows.
    #[test]
    fn every_code_that_matters_is_sorted_by_what_comes_next() {
        let table = [
            // Not failures.
            (C::PartitionEOF, Poll, Next::Ignore),
            (C::TopicAlreadyExists, Admin, Next::Ignore),
            // Permissions: nothing cures them, wherever they come from.
            (C::TopicAuthorizationFailed, Poll, Next::Stop),
            (C::GroupAuthorizationFailed, Poll, Next::Stop),
            (C::TopicAuthorizationFailed, Send, Next::Stop),
            (C::TopicAuthorizationFailed, Delivery, Next::Stop),
            (
                C::TransactionalIdAuthorizationFailed,
                TransactionCall,
                Next::Stop,
            ),
            (C::ClusterAuthorizationFailed, TransactionCall, Next::Stop),
            (C::SaslAuthenticationFailed, Client, Next::Stop),
            (C::Authentication, Client, Next::Stop),
            (C::TopicAuthorizationFailed, Admin, Next::Stop),
            (C::UnsupportedVersion, TransactionCall, Next::Stop),
            (C::UnsupportedFeature, Client, Next::Stop),
            // A reader's topic gone; a producer's metadata catching up.
            (C::UnknownTopicOrPartition, Poll, Next::Stop),
            (C::UnknownTopic, Poll, Next::Stop),
            (C::UnknownPartition, Poll, Next::Stop),
            (C::UnknownTopicOrPartition, Delivery, Next::Retry),
            // The producer's queue is full: wait for room.
            (C::QueueFull, Send, Next::Retry),
            // Records no retry can deliver.
            (C::MessageSizeTooLarge, Send, Next::DeadLetter),
            (C::MessageSizeTooLarge, Delivery, Next::DeadLetter),
            (C::InvalidRecord, Delivery, Next::DeadLetter),
            (C::InvalidMessage, Delivery, Next::DeadLetter),
            (C::InvalidTimestamp, Delivery, Next::DeadLetter),
            (C::PolicyViolation, Delivery, Next::DeadLetter),
            (C::PolicyViolation, Admin, Next::Stop),
            (C::PolicyViolation, Poll, Next::Stop),
            // A producer that cannot go on; a new epoch cures it.
            (C::ProducerFenced, TransactionCall, Next::ReplaceProducer),
            (C::InvalidProducerEpoch, Delivery, Next::ReplaceProducer),
            (C::Fenced, Send, Next::ReplaceProducer),
            (C::Fatal, Client, Next::ReplaceProducer),
            (C::Fatal, Poll, Next::Stop),
            // TLS: a configuration error before the first connection, a broker
            // restarting after it.
            (C::SSL, Connecting, Next::Stop),
            (C::SSL, Client, Next::Retry),
            // Connection trouble: the client reconnects by itself.
            (C::AllBrokersDown, Client, Next::Retry),
            (C::BrokerTransportFailure, Poll, Next::Retry),
            (C::BrokerTransportFailure, Client, Next::Retry),
            (C::MessageTimedOut, Delivery, Next::Retry),
            (C::RequestTimedOut, Delivery, Next::Retry),
            (C::NotLeaderForPartition, Delivery, Next::Retry),
            // A transaction call that failed without librdkafka's flags.
            (
                C::InvalidTransactionalState,
                TransactionCall,
                Next::AbortTransaction,
            ),
            (C::OperationTimedOut, Send, Next::AbortTransaction),
            (C::OperationTimedOut, Admin, Next::Stop),
            // Offset commits: a group between generations or a coordinator on the move
            // passes; a member left behind cannot commit.
            (C::RebalanceInProgress, Commit, Next::Retry),
            (C::CoordinatorLoadInProgress, Commit, Next::Retry),
            (C::NotCoordinator, Commit, Next::Retry),
            (C::WaitingForCoordinator, Commit, Next::Retry),
            (C::IllegalGeneration, Commit, Next::Retry),
            (C::UnknownMemberId, Commit, Next::AbortTransaction),
            (C::AssignmentLost, Commit, Next::AbortTransaction),
            (C::GroupAuthorizationFailed, Commit, Next::Stop),
        ];
        let wrong: Vec<String> = table
            .iter()
            .filter(|(code, stage, next)| classify_code(*code, *stage) != *next)
            .map(|(code, stage, next)| {
                format!(
                    "{code:?} at {stage:?}: {:?}, expected {next:?}",
                    classify_code(*code, *stage)
                )
            })
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn the_client_error_kinds_take_their_code_through_the_table() {
        let cases = [
            (KafkaError::PartitionEOF(3), Poll, Next::Ignore),
            (
                KafkaError::MessageConsumptionFatal(C::OffsetOutOfRange),
                Poll,
                Next::Stop,
            ),
            (
                KafkaError::MessageConsumption(C::BrokerTransportFailure),
                Poll,
                Next::Retry,
            ),
            (
                KafkaError::MessageConsumption(C::TopicAuthorizationFailed),
                Poll,
                Next::Stop,
            ),
            (
                KafkaError::MessageProduction(C::QueueFull),
                Send,
                Next::Retry,
            ),
            (
                KafkaError::MessageProduction(C::MessageSizeTooLarge),
                Delivery,
                Next::DeadLetter,
            ),
            (KafkaError::Global(C::AllBrokersDown), Client, Next::Retry),
            (
                KafkaError::AdminOp(C::TopicAlreadyExists),
                Admin,
                Next::Ignore,
            ),
        ];
        for (error, stage, next) in cases {
            assert_eq!(classify(&error, stage), next, "{error:?} at {stage:?}");
        }
    }
}
