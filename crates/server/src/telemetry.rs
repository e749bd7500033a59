//! Metrics for operators, served at `/metrics` in Prometheus's text format:
//!
//! - `headwater_events_accepted_total`, `headwater_events_duplicate_total`;
//! - `headwater_requests_refused_total{reason}`: by the error code clients get;
//! - `headwater_bot_requests_total`: requests answered but dropped as bots;
//! - `headwater_spam_submissions_total{reason}`: form submissions kept as spam;
//! - `headwater_batch_seconds`: time to store and evaluate a batch;
//! - `headwater_batches_per_commit`: how many batches the writer committed together;
//! - `headwater_outbox_pending`: handoffs waiting for delivery;
//! - `headwater_handoffs_total{outcome}`: delivered, failed (will retry), dead.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle.
pub fn recorder() -> PrometheusHandle {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder (a test harness's) may be installed already: then
            // metrics go there and this handle renders nothing, which is harmless.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub fn events_stored(accepted: u64, duplicates: u64) {
    metrics::counter!("headwater_events_accepted_total").increment(accepted);
    metrics::counter!("headwater_events_duplicate_total").increment(duplicates);
}

pub fn refused(reason: &'static str) {
    metrics::counter!("headwater_requests_refused_total", "reason" => reason).increment(1);
}

pub fn bot_request() {
    metrics::counter!("headwater_bot_requests_total").increment(1);
}

pub fn spam_submission(reason: &'static str) {
    metrics::counter!("headwater_spam_submissions_total", "reason" => reason).increment(1);
}

pub fn batch_took(seconds: f64) {
    metrics::histogram!("headwater_batch_seconds").record(seconds);
}

pub fn group_committed(batches: usize) {
    metrics::histogram!("headwater_batches_per_commit").record(batches as f64);
}

pub fn outbox_pending(count: i64) {
    metrics::gauge!("headwater_outbox_pending").set(count as f64);
}

pub fn handoff(outcome: &'static str) {
    metrics::counter!("headwater_handoffs_total", "outcome" => outcome).increment(1);
}
