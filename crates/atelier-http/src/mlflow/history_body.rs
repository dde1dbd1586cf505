//! The body of `metrics/get-history`, written straight into one buffer of about its size. A
//! page holds up to hundreds of thousands of points; serde's derived serialisation of each
//! (its four field names escaped, and the same metric key escaped again for every point)
//! cost about as much as reading the points. Values, times, steps and the key still go
//! through serde_json's own formatting, so the text is the one it would write.

use super::Double;
use atelier_core::model::Metric;

/// `{"metrics":[{"key":…,"value":…,"timestamp":…,"step":…},…],"next_page_token":…}`, the
/// token left out where there is none.
pub(super) fn history_body(metrics: &[Metric], next_page_token: Option<&str>) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(32 + metrics.len() * 80);
    out.extend_from_slice(b"{\"metrics\":[");
    // The key as JSON, escaped once for every point that shares it (all of a page's do).
    let mut key: Option<(&str, Vec<u8>)> = None;
    for (index, metric) in metrics.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        let escaped = match &key {
            Some((text, escaped)) if *text == metric.key => escaped,
            _ => &key.insert((metric.key.as_str(), serde_json::to_vec(&metric.key)?)).1,
        };
        out.extend_from_slice(b"{\"key\":");
        out.extend_from_slice(escaped);
        out.extend_from_slice(b",\"value\":");
        serde_json::to_writer(&mut out, &Double(metric.value))?;
        out.extend_from_slice(b",\"timestamp\":");
        serde_json::to_writer(&mut out, &metric.timestamp)?;
        out.extend_from_slice(b",\"step\":");
        serde_json::to_writer(&mut out, &metric.step)?;
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
    use atelier_core::model::Metric;

    #[derive(serde::Serialize)]
    struct HistoryPage<'a> {
        metrics: Vec<MetricOut<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_page_token: Option<&'a str>,
    }

    fn derived(metrics: &[Metric], next_page_token: Option<&str>) -> Vec<u8> {
        let metrics = metrics
            .iter()
            .map(|m| MetricOut { key: &m.key, value: Double(m.value), timestamp: m.timestamp, step: m.step })
            .collect();
        serde_json::to_vec(&HistoryPage { metrics, next_page_token }).unwrap()
    }

    #[test]
    fn the_body_is_what_serde_would_write() {
        let point = |key: &str, value: f64, step: i64| Metric {
            key: key.to_owned(),
            value,
            timestamp: 1_700_000_000_000_i64.wrapping_add(step),
            step,
        };
        let quoted = "loss \"val\"/\u{e9}\n";
        let metrics = vec![
            point(quoted, 0.1, 0),
            point(quoted, f64::NAN, -1),
            point(quoted, f64::INFINITY, i64::MAX),
            point(quoted, f64::NEG_INFINITY, i64::MIN),
            point("other", -0.0, 3),
            point(quoted, 1e300, 4),
            point(quoted, 5.0, 5),
        ];
        for token in [None, Some("eyJhIjoxfQ==")] {
            assert_eq!(
                String::from_utf8(history_body(&metrics, token).unwrap()).unwrap(),
                String::from_utf8(derived(&metrics, token)).unwrap()
            );
            assert_eq!(history_body(&[], token).unwrap(), derived(&[], token));
        }
    }
}
