//! The body of `metrics/get-history`, written straight into one buffer of about its size. A
//! page holds up to hundreds of thousands of points; serde's derived serialisation of each
//! (its four field names escaped, and the same metric key escaped again for every point)
//! cost about as much as reading the points. Values, times, steps and the key still go
//! through serde_json's own formatting, so the text is the one it would write.

use super::Double;
use atelier_core::series::Sample;

/// `{"metrics":[{"key":…,"value":…,"timestamp":…,"step":…},…],"next_page_token":…}` for the
/// points of metric `key`, the token left out where there is none.
pub(super) fn history_body(key: &str, points: &[Sample], next_page_token: Option<&str>) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(32 + points.len() * (64 + key.len()));
    out.extend_from_slice(b"{\"metrics\":[");
    // The key as JSON, escaped once for every point.
    let escaped = serde_json::to_vec(key)?;
    for (index, point) in points.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        out.extend_from_slice(&escaped);
        out.extend_from_slice(b",\"value\":");
        serde_json::to_writer(&mut out, &Double(point.value))?;
        out.extend_from_slice(b",\"timestamp\":");
        serde_json::to_writer(&mut out, &point.timestamp)?;
        out.extend_from_slice(b",\"step\":");
        serde_json::to_writer(&mut out, &point.step)?;
        out.push(b'}');
    }
    out.push(b']');
    if let Some(token) = next_page_token {
        out.extend_from_slice(b",\"next_page_token\":");
        serde_json::to_writer(&mut out, token)?;
    }
    out.push(b'}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::history_body;
    use crate::mlflow::{Double, MetricOut};
    use atelier_core::series::Sample;

    #[derive(serde::Serialize)]
    struct HistoryPage<'a> {
        metrics: Vec<MetricOut<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_page_token: Option<&'a str>,
    }

    fn derived(key: &str, points: &[Sample], next_page_token: Option<&str>) -> Vec<u8> {
        let metrics = points
            .iter()
            .map(|point| MetricOut { key, value: Double(point.value), timestamp: point.timestamp, step: point.step })
            .collect();
        serde_json::to_vec(&HistoryPage { metrics, next_page_token }).unwrap()
    }

    #[test]
    fn the_body_is_what_serde_would_write() {
        let point = |value: f64, step: i64| Sample { value, timestamp: 1_700_000_000_000_i64.wrapping_add(step), step };
        let points = vec![
            point(0.1, 0),
            point(f64::NAN, -1),
            point(f64::INFINITY, i64::MAX),
            point(f64::NEG_INFINITY, i64::MIN),
            point(-0.0, 3),
            point(1e300, 4),
            point(5.0, 5),
        ];
        for key in ["loss \"val\"/\u{e9}\n", "acc"] {
            for token in [None, Some("eyJhIjoxfQ==")] {
                assert_eq!(
                    String::from_utf8(history_body(key, &points, token).unwrap()).unwrap(),
                    String::from_utf8(derived(key, &points, token)).unwrap()
                );
                assert_eq!(history_body(key, &[], token).unwrap(), derived(key, &[], token));
            }
        }
    }
}
