//! temperature-alerts: a worker of your own, on schemas of your own, in one file.
//!
//! It reads `Reading` events and writes a `TemperatureAlert` for every reading above a
//! limit. Its two schemas are in `schemas/`, laid out as the repository's `schemas/` is;
//! the worker is given that folder at start (`--schemas-dir`) and binds its Rust types
//! to it with [`record!`], which checks at start that type and file agree. The runtime
//! does the rest: consumer group, exactly-once transactions, dead letters, retries,
//! metrics, health, shutdown.
//!
//! ```sh
//! temperature-alerts --schemas-dir examples/temperature-alerts/schemas -b 127.0.0.1:9092
//! ```

use apache_avro::AvroSchema;
use orderflow_events::{derived_event_id, event_id_text, record};
use orderflow_runtime::{Input, Outcome, Output, ProcessError, Processor};
use serde::{Deserialize, Serialize};

/// One temperature reading (`schemas/Reading`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.example.sensors")]
pub struct Reading {
    /// Unique id of the reading.
    pub reading_id: String,
    /// The sensor; also the record key.
    pub sensor_id: String,
    /// Degrees Celsius.
    pub celsius: f64,
    /// When it was measured, milliseconds since the Unix epoch.
    pub taken_at: i64,
}

/// A reading above the limit (`schemas/TemperatureAlert`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.example.sensors")]
pub struct TemperatureAlert {
    /// Derived from the reading's id: a replayed reading raises the same alert.
    pub alert_id: String,
    /// The reading that raised it.
    pub reading_id: String,
    /// The sensor.
    pub sensor_id: String,
    /// Degrees Celsius.
    pub celsius: f64,
    /// The limit it is above.
    pub limit_celsius: f64,
    /// When it was measured.
    pub taken_at: i64,
}

record!(Reading, "Reading");
record!(TemperatureAlert, "TemperatureAlert");

/// The rules, from `--rules FILE` (TOML): `max_celsius = 30.0`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Readings above this raise an alert.
    pub max_celsius: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules { max_celsius: 30.0 }
    }
}

/// The worker.
#[derive(Debug)]
pub struct TemperatureAlerts {
    limit: f64,
}

impl Processor for TemperatureAlerts {
    type Input = Reading;
    type Output = TemperatureAlert;
    type Rules = Rules;

    const NAME: &'static str = "temperature-alerts";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INPUT_TOPIC: &'static str = "sensors.readings";
    const OUTPUT_TOPIC: &'static str = "sensors.alerts";

    fn new(rules: Rules) -> Result<Self, String> {
        match rules.max_celsius {
            limit if limit.is_finite() => Ok(TemperatureAlerts { limit }),
            other => Err(format!("max_celsius must be a number, not {other}")),
        }
    }

    fn process(
        &self,
        input: &Input<'_, Reading>,
    ) -> Result<Outcome<TemperatureAlert>, ProcessError> {
        let reading = input.event;
        if reading.celsius.is_nan() {
            return Err(ProcessError::Permanent(
                "the reading is not a number".into(),
            ));
        }
        if reading.celsius <= self.limit {
            return Ok(Outcome::Emit(Vec::new()));
        }
        let alert_id = derived_event_id(Self::NAME, &reading.reading_id, 0);
        Ok(Outcome::Emit(vec![Output {
            key: reading.sensor_id.clone(),
            value: TemperatureAlert {
                alert_id: event_id_text(alert_id),
                reading_id: reading.reading_id.clone(),
                sensor_id: reading.sensor_id.clone(),
                celsius: reading.celsius,
                limit_celsius: self.limit,
                taken_at: reading.taken_at,
            },
        }]))
    }
}

fn main() -> std::process::ExitCode {
    orderflow_runtime::worker_main::<TemperatureAlerts>(
        "Writes a TemperatureAlert for every temperature reading above a limit.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(celsius: f64) -> Result<Outcome<TemperatureAlert>, ProcessError> {
        let reading = Reading {
            reading_id: "r-1".into(),
            sensor_id: "s-1".into(),
            celsius,
            taken_at: 1_700_000_000_000,
        };
        let input = Input {
            event: &reading,
            topic: TemperatureAlerts::INPUT_TOPIC,
            partition: 0,
            offset: 0,
            timestamp: None,
            key: None,
            headers: &[],
            now: 1_700_000_000_500,
        };
        TemperatureAlerts::new(Rules::default())
            .unwrap()
            .process(&input)
    }

    #[test]
    fn only_a_reading_above_the_limit_raises_an_alert() {
        assert_eq!(process(30.0), Ok(Outcome::Emit(Vec::new())));
        let Ok(Outcome::Emit(alerts)) = process(30.5) else {
            panic!("no alert")
        };
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].key, "s-1");
        assert_eq!(alerts[0].value.limit_celsius, 30.0);
        assert_eq!(
            alerts[0].value.alert_id,
            event_id_text(derived_event_id("temperature-alerts", "r-1", 0))
        );
        assert!(matches!(process(f64::NAN), Err(ProcessError::Permanent(_))));
        assert!(
            TemperatureAlerts::new(Rules {
                max_celsius: f64::INFINITY
            })
            .is_err()
        );
    }

    #[test]
    fn the_types_agree_with_the_schema_files() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");
        orderflow_events::contract::add_schemas_dir(std::path::Path::new(dir)).unwrap();
        assert_eq!(
            <Reading as orderflow_events::Record>::contract().full_name,
            "io.example.sensors.Reading"
        );
        assert_eq!(
            <TemperatureAlert as orderflow_events::Record>::contract().version,
            1
        );
    }
}
