//! The HTTP endpoints on their own listener: `/metrics` (Prometheus), `/healthz` (the
//! poll loop is alive) and `/readyz` (group joined, partitions assigned, schemas
//! loaded). One server can report several workers (the dev stack runs four).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::error::RuntimeError;
use crate::metrics::WorkerStatus;

/// A poll loop silent for longer than this is not alive.
pub const LIVENESS_WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Endpoints {
    prometheus: PrometheusHandle,
    workers: Arc<Vec<Arc<WorkerStatus>>>,
}

/// The router, without a socket (tests drive it with `oneshot`).
pub fn router(prometheus: PrometheusHandle, workers: Vec<Arc<WorkerStatus>>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Endpoints {
            prometheus,
            workers: Arc::new(workers),
        })
}

/// Binds `addr` now (so a taken port fails at start) and serves until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, RuntimeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| RuntimeError::Config(format!("cannot listen on --http-addr {addr}: {e}")))?;
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "HTTP server failed");
        }
    }))
}

async fn metrics(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    for worker in endpoints.workers.iter() {
        worker.scraped();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::metrics::render(&endpoints.prometheus, &endpoints.workers),
    )
}

async fn healthz(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    let stalled: Vec<_> = endpoints
        .workers
        .iter()
        .filter(|w| !w.is_live(LIVENESS_WINDOW))
        .map(|w| w.name)
        .collect();
    if stalled.is_empty() {
        (StatusCode::OK, "ok\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("poll loop stalled: {}\n", stalled.join(", ")),
        )
    }
}

async fn readyz(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    let waiting: Vec<_> = endpoints
        .workers
        .iter()
        .filter_map(|w| {
            w.not_ready_reason()
                .map(|reason| format!("{}: {reason}", w.name))
        })
        .collect();
    if waiting.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", waiting.join("; ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::metrics::{WorkerMetrics, prometheus};

    async fn get(router: &Router, path: &str) -> (StatusCode, String) {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn readyz_turns_ready_after_assignment_and_schemas() {
        let status = Arc::new(WorkerStatus::new("test-worker"));
        let router = router(prometheus(), vec![status.clone()]);
        let (code, body) = get(&router, "/readyz").await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("schemas not loaded"), "{body}");
        status.set_schemas_ready();
        assert!(get(&router, "/readyz").await.1.contains("not joined"));
        status.set_assigned(0);
        assert!(get(&router, "/readyz").await.1.contains("no partitions"));
        status.set_assigned(3);
        assert_eq!(get(&router, "/readyz").await.0, StatusCode::OK);
        status.set_stopping();
        assert_eq!(
            get(&router, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn healthz_is_ok_while_the_poll_loop_runs() {
        let status = Arc::new(WorkerStatus::new("test-worker"));
        let router = router(prometheus(), vec![status.clone()]);
        status.polled();
        assert_eq!(get(&router, "/healthz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn metrics_are_rendered_in_prometheus_text_format() {
        let status = Arc::new(WorkerStatus::new("http-test"));
        let metrics = WorkerMetrics::new("http-test", "1.2.3", status.clone());
        metrics.consumed(100);
        let (code, body) = get(&router(prometheus(), vec![status]), "/metrics").await;
        assert_eq!(code, StatusCode::OK);
        assert!(
            body.contains("orderflow_messages_consumed_total{worker=\"http-test\"} 1"),
            "{body}"
        );
    }
}
