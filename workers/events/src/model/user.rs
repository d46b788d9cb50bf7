//! `UserEvent`, what the user service publishes on `users.lifecycle`
//! (`schemas/UserEvent`), and `UserNotificationRequested`, what the notifier derives
//! from it on `users.notifications` (`schemas/UserNotificationRequested`).

use std::collections::HashMap;

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};

use crate::{Lineage, NotificationChannel};

/// Something that happened to a user account, keyed by `user_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct UserEvent {
    /// Unique id of this event (a UUID); the idempotency key.
    pub event_id: String,
    /// The user; also the record key. The `customer_id` of the user's orders.
    pub user_id: String,
    /// When it happened at the source, milliseconds since the Unix epoch (UTC).
    pub occurred_at: i64,
    /// Name of the producing service.
    pub source: String,
    /// What happened.
    pub payload: UserPayload,
}

/// What happened to the account: the `payload` union.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(repr = "bare_union")]
pub enum UserPayload {
    /// A user signed up.
    UserRegistered(UserRegistered),
    /// A user logged in.
    UserLoggedIn(UserLoggedIn),
    /// A user changed their e-mail address.
    UserEmailChanged(UserEmailChanged),
}

impl UserPayload {
    /// Every payload type, by record name.
    pub const TYPES: [&'static str; 3] = ["UserRegistered", "UserLoggedIn", "UserEmailChanged"];

    /// The payload's record name, for logs and metric labels.
    pub fn type_name(&self) -> &'static str {
        match self {
            UserPayload::UserRegistered(_) => "UserRegistered",
            UserPayload::UserLoggedIn(_) => "UserLoggedIn",
            UserPayload::UserEmailChanged(_) => "UserEmailChanged",
        }
    }
}

/// A user signed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct UserRegistered {
    /// The address the user registered with.
    pub email: String,
    /// The name the user chose to be greeted by.
    pub display_name: String,
    /// Language and region as a BCP 47 tag.
    pub locale: String,
    /// True when the user agreed to marketing messages.
    pub marketing_consent: bool,
}

/// A user logged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct UserLoggedIn {
    /// Client IP address, textual.
    pub ip_address: String,
    /// The client's User-Agent header.
    pub user_agent: String,
    /// The user service's id of the device.
    pub device_id: String,
    /// True when the user service has not seen this device for this user before.
    pub new_device: bool,
}

/// A user changed their e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct UserEmailChanged {
    /// The address before the change.
    pub old_email: String,
    /// The address after the change.
    pub new_email: String,
}

/// A message to send to a user about their account, keyed by `user_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct UserNotificationRequested {
    /// Deterministic id of the derived event.
    pub event_id: String,
    /// `event_id` of the source event.
    pub causation_id: String,
    /// The user to notify.
    pub user_id: String,
    /// When the worker produced the event, epoch milliseconds.
    pub produced_at: i64,
    /// Producing worker's name.
    pub worker: String,
    /// Producing worker's version.
    pub worker_version: String,
    /// Delivery channel.
    pub channel: NotificationChannel,
    /// Address for the channel, when known.
    pub recipient: Option<String>,
    /// Template name.
    pub template: String,
    /// Template parameters.
    #[serde(serialize_with = "super::derived::sorted")]
    pub parameters: HashMap<String, String>,
}

impl Lineage {
    /// Lineage of output number `index` derived from the user event `source` by
    /// `worker`; its `order_id` holds the user id (the key of the derived event).
    pub fn of_user(
        worker: &str,
        worker_version: &str,
        source: &UserEvent,
        index: usize,
        produced_at: i64,
    ) -> Lineage {
        Lineage::new(
            worker,
            worker_version,
            &source.event_id,
            &source.user_id,
            index,
            produced_at,
        )
    }
}

impl UserNotificationRequested {
    /// The notification, with its id, cause, user, time and worker from `lineage` (see
    /// [`Lineage::of_user`]).
    pub fn requested(
        lineage: Lineage,
        channel: NotificationChannel,
        recipient: Option<String>,
        template: String,
        parameters: HashMap<String, String>,
    ) -> UserNotificationRequested {
        UserNotificationRequested {
            event_id: lineage.event_id,
            causation_id: lineage.causation_id,
            user_id: lineage.order_id,
            produced_at: lineage.produced_at,
            worker: lineage.worker,
            worker_version: lineage.worker_version,
            channel,
            recipient,
            template,
            parameters,
        }
    }
}
