//! Which URL writes which events where: one entry per event type, nothing else in the
//! gateway names a topic or a schema.

use crate::topology::{INPUT_TOPIC, USERS_TOPIC};

/// One `POST` endpoint: events of `schema` written to `topic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Its name in `--topic NAME=TOPIC`.
    pub name: &'static str,
    /// The URL path.
    pub path: &'static str,
    /// The topic the events are written to.
    pub topic: &'static str,
    /// The schema folder of the events (the newest version is written).
    pub schema: &'static str,
    /// The field whose value is the record key (it decides the partition, so the order
    /// of one key's events is kept).
    pub key_field: &'static str,
    /// The field holding the event's id, generated (UUID v4) when the client leaves it
    /// out.
    pub id_field: &'static str,
}

/// Every endpoint; the gateway refuses to start with a route whose schema is unknown.
pub const ROUTES: &[Route] = &[
    Route {
        name: "orders",
        path: "/v1/orders/events",
        topic: INPUT_TOPIC,
        schema: "OrderEvent",
        key_field: "order_id",
        id_field: "event_id",
    },
    Route {
        name: "users",
        path: "/v1/users/events",
        topic: USERS_TOPIC,
        schema: "UserEvent",
        key_field: "user_id",
        id_field: "event_id",
    },
];

/// `routes` with the topics of `overrides` (`NAME=TOPIC`, from `--topic`); an unknown
/// name is an error that lists the known ones.
pub fn with_topics(routes: &[Route], overrides: &[(String, String)]) -> Result<Vec<Route>, String> {
    let mut routes = routes.to_vec();
    for (name, topic) in overrides {
        let route = routes.iter_mut().find(|r| r.name == name).ok_or_else(|| {
            let names: Vec<&str> = ROUTES.iter().map(|r| r.name).collect();
            format!(
                "--topic {name}={topic}: no route {name} (the routes are {})",
                names.join(", ")
            )
        })?;
        // Read once at start and kept for the life of the process.
        route.topic = Box::leak(topic.clone().into_boxed_str());
    }
    Ok(routes)
}

/// The distinct topics of `routes` (what readiness waits for).
pub fn topics(routes: &[Route]) -> Vec<&'static str> {
    let mut topics: Vec<&'static str> = routes.iter().map(|r| r.topic).collect();
    topics.sort_unstable();
    topics.dedup();
    topics
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_events::contract::newest;

    #[test]
    fn every_route_has_a_schema_a_unique_path_and_order_events_go_to_the_lifecycle_topic() {
        for route in ROUTES {
            assert!(
                newest(route.schema).is_some(),
                "{} has no schema",
                route.path
            );
            assert_eq!(ROUTES.iter().filter(|r| r.path == route.path).count(), 1);
        }
        let orders = ROUTES
            .iter()
            .find(|r| r.path == "/v1/orders/events")
            .unwrap();
        assert_eq!(
            (orders.topic, orders.schema, orders.key_field),
            ("orders.lifecycle", "OrderEvent", "order_id")
        );
        let users = ROUTES
            .iter()
            .find(|r| r.path == "/v1/users/events")
            .unwrap();
        assert_eq!(
            (users.topic, users.schema, users.key_field),
            ("users.lifecycle", "UserEvent", "user_id")
        );
        assert_eq!(topics(ROUTES), ["orders.lifecycle", "users.lifecycle"]);
    }

    #[test]
    fn a_route_topic_can_be_renamed_by_route_name_only() {
        let renamed = with_topics(ROUTES, &[("orders".into(), "staging.orders".into())]).unwrap();
        assert_eq!(renamed[0].topic, "staging.orders");
        assert_eq!(renamed[0].path, "/v1/orders/events");
        let error = with_topics(ROUTES, &[("carts".into(), "x".into())]).unwrap_err();
        assert!(
            error.contains("no route carts (the routes are orders, users)"),
            "{error}"
        );
    }
}
