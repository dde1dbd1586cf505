//! A metric's history: paged the way MLflow's client reads it (`get-history`), and sampled
//! across runs for charts (`get-history-bulk-interval`).

use crate::tracking::{decode_page_token, next_token};
use crate::{Principal, Service};
use atelier_core::authz::Action;
use atelier_core::limits::validate_max_results;
use atelier_core::model::{Metric, RunId};
use atelier_core::names::WorkspaceName;
use atelier_core::series::Sample;
use atelier_core::{Error, Result};
use atelier_store::SeriesCursor;
use base64::Engine;

/// A page of one metric's history: its key once, and its points in step order, then time,
/// then insertion.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricHistory {
    pub key: String,
    pub points: Vec<Sample>,
    pub next_page_token: Option<String>,
}

/// Where a page of a metric's history starts: after a point (keyset tokens, which the server
/// gives out), or at an offset (the tokens servers before them gave out, still read).
#[derive(Debug, Clone, Copy, PartialEq)]
enum HistoryStart {
    After(Option<SeriesCursor>),
    Offset(i64),
}

fn encode_history_token((step, timestamp, mark): SeriesCursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{step}:{timestamp}:{mark}"))
}

fn decode_history_token(token: Option<&str>) -> Result<HistoryStart> {
    let Some(token) = token.filter(|token| !token.is_empty()) else { return Ok(HistoryStart::After(None)) };
    let invalid = || Error::invalid(format!("invalid page token '{token}'"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    if text.starts_with("offset:") {
        return Ok(HistoryStart::Offset(decode_page_token(Some(token))?));
    }
    let numbers: Vec<i64> = text
        .strip_prefix("after:")
        .ok_or_else(invalid)?
        .split(':')
        .map(|number| number.parse().map_err(|_| invalid()))
        .collect::<Result<_>>()?;
    match numbers[..] {
        [step, timestamp, mark] => Ok(HistoryStart::After(Some((step, timestamp, mark)))),
        _ => Err(invalid()),
    }
}

/// The steps and the number of points `get-history-bulk-interval` asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepInterval {
    pub start_step: Option<i64>,
    pub end_step: Option<i64>,
    pub max_results: Option<i64>,
}

/// The largest number of runs `get-history-bulk-interval` accepts, as in MLflow.
pub const BULK_INTERVAL_MAX_RUNS: usize = 100;
/// The default and largest number of points per run of `get-history-bulk-interval`.
pub const BULK_INTERVAL_DEFAULT_POINTS: i64 = 320;
pub const BULK_INTERVAL_MAX_POINTS: i64 = 1000;

/// Picks at most `count` steps from `steps` (sorted, distinct), evenly spread and always keeping
/// the first and the last, as MLflow's bulk-interval endpoint does.
fn sample_steps(steps: &[i64], count: usize) -> Vec<i64> {
    if steps.len() <= count {
        return steps.to_vec();
    }
    if count < 2 {
        return steps.last().copied().into_iter().collect();
    }
    let last = steps.len() - 1;
    let mut picked: Vec<i64> = (0..count).map(|index| steps[index * last / (count - 1)]).collect();
    picked.dedup();
    picked
}

impl Service {
    pub async fn get_metric_history(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<MetricHistory> {
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsRead).await?;
        if key.is_empty() {
            return Err(Error::invalid("missing value for required parameter 'metric_key'"));
        }
        let limit = match max_results {
            None => None,
            Some(value) if value > 0 => Some(value),
            Some(value) => {
                return Err(Error::invalid(format!(
                    "invalid value {value} for parameter 'max_results': it must be positive"
                )));
            }
        };
        // A page starts after the last point of the page before, in the series' index order, so
        // each page is one range of the index: no page re-reads the points before it, and points
        // logged while a client pages through a live run do not shift the pages.
        let from = match decode_history_token(page_token)? {
            HistoryStart::After(from) => from,
            HistoryStart::Offset(offset) => {
                let items = self.store.get_metric_history(&info.run_id, key, limit, offset).await?;
                let next_page_token = limit.and_then(|limit| next_token(items.len(), limit, offset));
                let points = items
                    .into_iter()
                    .map(|metric| Sample { step: metric.step, timestamp: metric.timestamp, value: metric.value })
                    .collect();
                return Ok(MetricHistory { key: key.to_owned(), points, next_page_token });
            }
        };
        let read = self.store.metric_points_after(&info.run_id, key, 0, from, limit.unwrap_or(i64::MAX)).await?;
        let next_page_token = limit.and(read.next).map(encode_history_token);
        Ok(MetricHistory { key: key.to_owned(), points: read.samples, next_page_token })
    }

    /// The history of one metric for several runs, sampled to at most `max_results` steps per
    /// run between `start_step` and `end_step` (MLflow's `get-history-bulk-interval`, used by
    /// charts). Every point of a picked step is returned, tagged with its run id.
    pub async fn get_metric_history_bulk_interval(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_ids: &[String],
        key: &str,
        interval: StepInterval,
    ) -> Result<Vec<(RunId, Metric)>> {
        let StepInterval { start_step, end_step, max_results } = interval;
        if run_ids.is_empty() {
            return Err(Error::invalid("get-history-bulk-interval needs at least one run_id"));
        }
        if run_ids.len() > BULK_INTERVAL_MAX_RUNS {
            return Err(Error::invalid(format!(
                "get-history-bulk-interval accepts at most {BULK_INTERVAL_MAX_RUNS} run ids; got {}",
                run_ids.len()
            )));
        }
        let points =
            validate_max_results(max_results, BULK_INTERVAL_DEFAULT_POINTS, BULK_INTERVAL_MAX_POINTS)? as usize;
        if let (Some(start), Some(end)) = (start_step, end_step)
            && start > end
        {
            return Err(Error::invalid(format!("end_step ({end}) must be at least start_step ({start})")));
        }
        let mut result = Vec::new();
        for run_id in run_ids {
            let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsRead).await?;
            let history: Vec<Metric> = self
                .store
                .get_metric_history(&info.run_id, key, None, 0)
                .await?
                .into_iter()
                .filter(|metric| {
                    start_step.is_none_or(|start| metric.step >= start) && end_step.is_none_or(|end| metric.step <= end)
                })
                .collect();
            let mut steps: Vec<i64> = history.iter().map(|metric| metric.step).collect();
            steps.dedup();
            let picked = sample_steps(&steps, points);
            result.extend(
                history
                    .into_iter()
                    .filter(|metric| picked.binary_search(&metric.step).is_ok())
                    .map(|metric| (info.run_id.clone(), metric)),
            );
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::encode_page_token;

    #[test]
    fn history_tokens_round_trip_read_offsets_and_reject_garbage() {
        let cursor = (-5, 1_700_000_000_000, 42);
        assert_eq!(
            decode_history_token(Some(&encode_history_token(cursor))).unwrap(),
            HistoryStart::After(Some(cursor))
        );
        assert_eq!(decode_history_token(None).unwrap(), HistoryStart::After(None));
        assert_eq!(decode_history_token(Some(&encode_page_token(25_000))).unwrap(), HistoryStart::Offset(25_000));
        let encode = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        for garbage in ["after:1:2", "after:1:2:3:4", "after:a:b:c", "before:1:2:3", "offset:-1"] {
            assert!(decode_history_token(Some(&encode(garbage))).is_err(), "{garbage}");
        }
        assert!(decode_history_token(Some("not a token")).is_err());
    }

    #[test]
    fn samples_keep_first_and_last_and_stay_bounded() {
        let steps: Vec<i64> = (0..1000).collect();
        let picked = sample_steps(&steps, 10);
        assert_eq!(picked.len(), 10);
        assert_eq!((picked[0], picked[9]), (0, 999));
        assert_eq!(sample_steps(&[1, 2, 3], 10), vec![1, 2, 3]);
        assert!(sample_steps(&[], 10).is_empty());
    }
}
