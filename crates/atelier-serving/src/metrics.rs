//! Request metrics of endpoints and deployments, in Prometheus's text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The counters of one deployment (or of one endpoint, for requests that reach no deployment).
#[derive(Default)]
pub struct Metrics {
    by_status: Mutex<BTreeMap<u16, u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    /// Requests waiting for a free instance now.
    pub queued: AtomicI64,
    /// Worker processes restarted after a crash or a failed liveness probe.
    pub restarts: AtomicU64,
    /// Instances ready to serve now.
    pub ready: AtomicI64,
    /// Requests copied here by mirror traffic.
    pub mirrored: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn record(&self, status: u16, latency: Duration) {
        if let Ok(mut by_status) = self.by_status.lock() {
            *by_status.entry(status).or_default() += 1;
        }
        let seconds = latency.as_secs_f64();
        if let Some(index) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// Requests answered with each status so far.
    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.by_status.lock().map(|by_status| by_status.clone()).unwrap_or_default()
    }
}

/// A single-value series: its name, Prometheus type, help text and reader.
type Gauge = (&'static str, &'static str, &'static str, fn(&Metrics) -> i64);

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes the metrics of `(endpoint, deployment)` pairs (deployment empty for requests that
/// reached none) as Prometheus text.
pub fn render(series: &[(String, String, std::sync::Arc<Metrics>)]) -> String {
    let mut out = String::new();
    let labels = |endpoint: &str, deployment: &str| {
        format!("endpoint=\"{}\",deployment=\"{}\"", escape(endpoint), escape(deployment))
    };
    out.push_str("# HELP atelier_endpoint_requests_total Scoring requests answered, by status code.\n");
    out.push_str("# TYPE atelier_endpoint_requests_total counter\n");
    for (endpoint, deployment, metrics) in series {
        for (status, count) in metrics.statuses() {
            let _ = writeln!(
                out,
                "atelier_endpoint_requests_total{{{},status=\"{status}\"}} {count}",
                labels(endpoint, deployment)
            );
        }
    }
    out.push_str("# HELP atelier_endpoint_request_duration_seconds Time from a request's arrival to its answer.\n");
    out.push_str("# TYPE atelier_endpoint_request_duration_seconds histogram\n");
    for (endpoint, deployment, metrics) in series {
        let base = labels(endpoint, deployment);
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&metrics.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ =
                writeln!(out, "atelier_endpoint_request_duration_seconds_bucket{{{base},le=\"{bound}\"}} {cumulative}");
        }
        let count = metrics.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "atelier_endpoint_request_duration_seconds_bucket{{{base},le=\"+Inf\"}} {count}");
        let sum = metrics.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "atelier_endpoint_request_duration_seconds_sum{{{base}}} {sum}");
        let _ = writeln!(out, "atelier_endpoint_request_duration_seconds_count{{{base}}} {count}");
    }
    let gauges: [Gauge; 4] = [
        ("atelier_endpoint_queue_length", "gauge", "Requests waiting for a free instance.", |m| {
            m.queued.load(Ordering::Relaxed)
        }),
        ("atelier_endpoint_instances_ready", "gauge", "Instances ready to serve.", |m| m.ready.load(Ordering::Relaxed)),
        (
            "atelier_endpoint_worker_restarts_total",
            "counter",
            "Workers restarted after a crash or a failed liveness probe.",
            |m| m.restarts.load(Ordering::Relaxed) as i64,
        ),
        (
            "atelier_endpoint_mirrored_requests_total",
            "counter",
            "Requests copied to the deployment by mirror traffic.",
            |m| m.mirrored.load(Ordering::Relaxed) as i64,
        ),
    ];
    for (name, kind, help, read) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (endpoint, deployment, metrics) in series.iter().filter(|(_, deployment, _)| !deployment.is_empty()) {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(endpoint, deployment), read(metrics));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn histogram_buckets_are_cumulative_and_labels_escaped() {
        let metrics = Arc::new(Metrics::default());
        metrics.record(200, Duration::from_micros(300));
        metrics.record(200, Duration::from_millis(3));
        metrics.record(424, Duration::from_secs(20));
        let text = render(&[("ep".to_owned(), "blue\"x".to_owned(), metrics)]);
        assert!(
            text.contains("atelier_endpoint_requests_total{endpoint=\"ep\",deployment=\"blue\\\"x\",status=\"200\"} 2")
        );
        assert!(text.contains("status=\"424\"} 1"));
        assert!(text.contains("le=\"0.0005\"} 1\n"));
        assert!(text.contains("le=\"0.005\"} 2\n"));
        assert!(text.contains("le=\"10\"} 2\n"));
        assert!(text.contains("le=\"+Inf\"} 3\n"));
        assert!(
            text.contains(
                "atelier_endpoint_request_duration_seconds_count{endpoint=\"ep\",deployment=\"blue\\\"x\"} 3"
            )
        );
    }
}
