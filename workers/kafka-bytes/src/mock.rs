//! Test support: the part of librdkafka's mock cluster API that rust-rdkafka does not
//! wrap. Compiled with the `mock` feature only (the failure tests enable it).

use std::ffi::c_int;
use std::time::Duration;

use rdkafka::bindings;
use rdkafka::client::{Client, ClientContext};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

/// Makes the next `count` requests of `api_key` to `broker`, of the mock cluster that
/// `owner` created (`test.mock.num.brokers`), answered normally but each `delay` late:
/// a broker whose answers do not come back in time.
pub fn delay_requests<C: ClientContext>(
    owner: &Client<C>,
    broker: i32,
    api_key: RDKafkaApiKey,
    count: usize,
    delay: Duration,
) -> Result<(), String> {
    let ms = c_int::try_from(delay.as_millis()).map_err(|_| "delay too long".to_owned())?;
    let native = owner.native_ptr();
    for _ in 0..count {
        // SAFETY: `native` is the live client `owner` borrows, and the mock cluster it
        // returns lives as long as that client; the variadic arguments are exactly one
        // (error code, round-trip time in ms) pair of C ints, as the count 1 says.
        #[allow(unsafe_code)]
        let err = unsafe {
            let cluster = bindings::rd_kafka_handle_mock_cluster(native);
            if cluster.is_null() {
                return Err("the client owns no mock cluster".into());
            }
            bindings::rd_kafka_mock_broker_push_request_error_rtts(
                cluster,
                broker,
                api_key as i16,
                1,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR as c_int,
                ms,
            )
        };
        if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(format!("the mock cluster refused the delay: {err:?}"));
        }
    }
    Ok(())
}

/// Starts recording every request the mock cluster that `owner` created receives (see
/// [`requests_seen`]).
pub fn track_requests<C: ClientContext>(owner: &Client<C>) -> Result<(), String> {
    // SAFETY: as in `delay_requests`: the cluster lives as long as `owner`.
    #[allow(unsafe_code)]
    unsafe {
        let cluster = bindings::rd_kafka_handle_mock_cluster(owner.native_ptr());
        if cluster.is_null() {
            return Err("the client owns no mock cluster".into());
        }
        bindings::rd_kafka_mock_start_request_tracking(cluster);
    }
    Ok(())
}

/// How many requests of `api_key` the mock cluster that `owner` created has received
/// since [`track_requests`].
pub fn requests_seen<C: ClientContext>(
    owner: &Client<C>,
    api_key: RDKafkaApiKey,
) -> Result<usize, String> {
    // SAFETY: as in `delay_requests`; the array and its elements are owned here and
    // freed once, with the function librdkafka documents for it.
    #[allow(unsafe_code)]
    unsafe {
        let cluster = bindings::rd_kafka_handle_mock_cluster(owner.native_ptr());
        if cluster.is_null() {
            return Err("the client owns no mock cluster".into());
        }
        let mut count = 0usize;
        let requests = bindings::rd_kafka_mock_get_requests(cluster, &mut count);
        if requests.is_null() {
            return Ok(0);
        }
        let seen = std::slice::from_raw_parts(requests, count)
            .iter()
            .filter(|request| bindings::rd_kafka_mock_request_api_key(**request) == api_key as i16)
            .count();
        bindings::rd_kafka_mock_request_destroy_array(requests, count);
        Ok(seen)
    }
}
