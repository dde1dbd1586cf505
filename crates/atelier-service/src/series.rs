//! Metric series for charts.
//!
//! A short series is read whole and drawn from every point. A long one is read whole once, cut
//! into a [`SeriesSummary`] (every block's first, last, lowest and highest point), and kept in a
//! bounded cache. Each later view asks the store only for the series' point count (one row by
//! primary key): an unchanged count means an unchanged series, since points are only ever added;
//! a higher count reads just the points written since the summary's insertion mark and extends
//! it. The read of new points comes with the count from the same snapshot, so a write that
//! committed out of insertion order (possible on PostgreSQL) shows up as a count that does not
//! add up, and the summary is rebuilt rather than silently missing it.

use crate::{Principal, Service};
use atelier_core::Result;
use atelier_core::authz::Action;
use atelier_core::model::RunId;
use atelier_core::names::WorkspaceName;
use atelier_core::series::{Range, Sample, SeriesSummary};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Series with at most this many points are drawn from every point.
pub(crate) const EXACT_POINTS: usize = 20_000;

/// A zoomed view reads the points of its range itself when at most this many lie in it.
pub(crate) const ZOOM_EXACT_POINTS: u64 = 250_000;

/// The cache holds summaries of at most this many blocks in all (about 130 bytes each).
const CACHE_MAX_BLOCKS: usize = 200_000;

/// A metric series as a chart needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricView {
    /// The points to draw, in step order: every point of the series (or of the range) when it
    /// is short enough, else the kept points of its summary.
    pub samples: Vec<Sample>,
    /// How many points the series has in all.
    pub total: u64,
}

#[derive(Debug, Clone)]
struct Summarised {
    summary: SeriesSummary,
    /// The highest insertion mark the summary has seen.
    last_mark: i64,
}

enum Series {
    Whole(Vec<Sample>),
    Summarised(Arc<Summarised>),
}

/// A run's metric: what the cache is keyed by.
type SeriesKey = (RunId, String);

/// Summaries of long series, least recently used first out; each entry keeps the tick of its
/// last use.
#[derive(Default)]
pub(crate) struct SeriesCache {
    entries: Mutex<HashMap<SeriesKey, (Arc<Summarised>, u64)>>,
    clock: AtomicU64,
}

impl SeriesCache {
    fn get(&self, key: &SeriesKey) -> Option<Arc<Summarised>> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.get_mut(key)?;
        entry.1 = tick;
        Some(entry.0.clone())
    }

    fn put(&self, key: SeriesKey, value: Arc<Summarised>) {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let Ok(mut entries) = self.entries.lock() else { return };
        entries.insert(key, (value, tick));
        let mut blocks: usize = entries.values().map(|(entry, _)| entry.summary.blocks()).sum();
        while blocks > CACHE_MAX_BLOCKS && entries.len() > 1 {
            let Some(oldest) = entries.iter().min_by_key(|(_, (_, used))| *used).map(|(key, _)| key.clone()) else {
                break;
            };
            if let Some((entry, _)) = entries.remove(&oldest) {
                blocks -= entry.summary.blocks();
            }
        }
    }

    fn remove(&self, key: &SeriesKey) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

impl Service {
    /// A run's metric series for a chart, all of it or the part in `range`; see the module
    /// documentation for how long series are served.
    pub async fn metric_view(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        key: &str,
        range: Option<Range>,
    ) -> Result<MetricView> {
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsRead).await?;
        let run_id = info.run_id;
        match self.series(&run_id, key).await? {
            Series::Whole(mut samples) => {
                let total = samples.len() as u64;
                if let Some(range) = range {
                    samples.retain(|sample| range.contains(sample));
                }
                Ok(MetricView { samples, total })
            }
            Series::Summarised(summarised) => {
                let total = summarised.summary.points();
                let Some(range) = range else {
                    return Ok(MetricView { samples: summarised.summary.samples(None), total });
                };
                match summarised.summary.span(&range) {
                    None => Ok(MetricView { samples: Vec::new(), total }),
                    Some((points, first, last)) if points <= ZOOM_EXACT_POINTS => {
                        let mut samples = self.store.metric_points_between(&run_id, key, first, last).await?;
                        samples.retain(|sample| range.contains(sample));
                        Ok(MetricView { samples, total })
                    }
                    Some(_) => Ok(MetricView { samples: summarised.summary.samples(Some(&range)), total }),
                }
            }
        }
    }

    async fn series(&self, run_id: &RunId, key: &str) -> Result<Series> {
        let cache_key = (run_id.clone(), key.to_owned());
        if let Some(cached) = self.series_cache.get(&cache_key) {
            let held = cached.summary.points();
            match self.store.metric_points(run_id, key).await? {
                Some(total) if total as u64 == held => return Ok(Series::Summarised(cached)),
                Some(total) if total as u64 > held => {
                    let read = self.store.metric_points_after(run_id, key, cached.last_mark).await?;
                    if read.total as u64 == held + read.samples.len() as u64 {
                        let mut grown = (*cached).clone();
                        grown.summary.extend(&read.samples);
                        grown.last_mark = grown.last_mark.max(read.last_mark);
                        let grown = Arc::new(grown);
                        self.series_cache.put(cache_key, grown.clone());
                        return Ok(Series::Summarised(grown));
                    }
                    tracing::debug!(run = %run_id, key, "metric series changed out of insertion order; summarising it again");
                }
                _ => {}
            }
            self.series_cache.remove(&cache_key);
        }
        let read = self.store.metric_points_after(run_id, key, 0).await?;
        if read.samples.len() <= EXACT_POINTS {
            return Ok(Series::Whole(read.samples));
        }
        let summarised =
            Arc::new(Summarised { summary: SeriesSummary::build(&read.samples), last_mark: read.last_mark });
        if read.total as u64 == read.samples.len() as u64 {
            self.series_cache.put(cache_key, summarised.clone());
        }
        Ok(Series::Summarised(summarised))
    }
}
