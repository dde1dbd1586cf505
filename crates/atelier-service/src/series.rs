//! Metric series for charts.
//!
//! A short series is read whole and drawn from every point. A long one is read once, a page of
//! [`READ_PAGE`] points at a time, into a [`SeriesSummary`] (every block's first, last, lowest
//! and highest point), kept in a bounded cache and by the store (see [`Service::run_series_summaries`]). Each later view asks the store only for the series' point count (one row by
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
use atelier_store::SeriesCursor;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Series with at most this many points are drawn from every point.
pub(crate) const EXACT_POINTS: usize = 20_000;

/// A long series is read this many points at a time.
const READ_PAGE: i64 = 20_000;

/// A zoomed view reads the points of its range itself when at most this many lie in it.
pub(crate) const ZOOM_EXACT_POINTS: u64 = 250_000;

/// A written series is summarised in the background once it has been quiet this long...
const SUMMARISE_QUIET: Duration = Duration::from_secs(5);
/// ...or at least this often while it is being written.
const SUMMARISE_AT_LEAST: Duration = Duration::from_secs(60);

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
    /// How many points the summary the store keeps covers (0: none is kept).
    kept: u64,
}

enum Series {
    Whole(Vec<Sample>),
    Summarised(Arc<Summarised>),
}

/// A run's metric: what the cache is keyed by.
pub(crate) type SeriesKey = (RunId, String);

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
        self.series_with(run_id, key, true).await
    }

    /// A series whole or summarised; `remember` puts a summary in the cache (a view), or leaves
    /// the cache to the views (the background summariser).
    async fn series_with(&self, run_id: &RunId, key: &str, remember: bool) -> Result<Series> {
        let cache_key = (run_id.clone(), key.to_owned());
        let known = match self.series_cache.get(&cache_key) {
            Some(cached) => Some((cached, true)),
            None => self.kept_summary(run_id, key).await.map(|kept| (kept, false)),
        };
        if let Some((known, cached)) = known {
            let held = known.summary.points();
            match self.store.metric_points(run_id, key).await? {
                Some(total) if total as u64 == held => {
                    if remember && !cached {
                        self.series_cache.put(cache_key, known.clone());
                    }
                    return Ok(Series::Summarised(known));
                }
                Some(total) if total as u64 > held => {
                    let mut grown = (*known).clone();
                    let (total, read) = self.extend_from_store(run_id, key, &mut grown, known.last_mark, None).await?;
                    if total == held + read {
                        let grown = self.keep(run_id, key, grown).await;
                        if remember || cached {
                            self.series_cache.put(cache_key, grown.clone());
                        }
                        return Ok(Series::Summarised(grown));
                    }
                    tracing::debug!(run = %run_id, key, "metric series changed out of insertion order; summarising it again");
                }
                _ => {}
            }
            self.series_cache.remove(&cache_key);
        }
        // One point more than is drawn exactly: a first page that is not full is the whole series.
        let first = self.store.metric_points_after(run_id, key, 0, None, EXACT_POINTS as i64 + 1).await?;
        if first.next.is_none() {
            return Ok(Series::Whole(first.samples));
        }
        let mut summarised =
            Summarised { summary: SeriesSummary::build(&first.samples), last_mark: first.last_mark, kept: 0 };
        let (mut total, mut read) = (first.total as u64, first.samples.len() as u64);
        if first.next.is_some() {
            let (last_total, rest) = self.extend_from_store(run_id, key, &mut summarised, 0, first.next).await?;
            (total, read) = (last_total, read + rest);
        }
        if total != read {
            return Ok(Series::Summarised(Arc::new(summarised)));
        }
        let summarised = self.keep(run_id, key, summarised).await;
        if remember {
            self.series_cache.put(cache_key, summarised.clone());
        }
        Ok(Series::Summarised(summarised))
    }

    /// Extends a summary with the points inserted after the mark `after`, from after `from` in
    /// series order, a page at a time (a long series never lies in memory whole). Returns the
    /// series' point count in the last page's snapshot and how many points were read: the count
    /// equal to the points held before plus those read means none was missed, since every point
    /// of that snapshot past the cursor was in the last page.
    async fn extend_from_store(
        &self,
        run_id: &RunId,
        key: &str,
        summarised: &mut Summarised,
        after: i64,
        mut from: Option<SeriesCursor>,
    ) -> Result<(u64, u64)> {
        let mut read = 0;
        loop {
            let page = self.store.metric_points_after(run_id, key, after, from, READ_PAGE).await?;
            summarised.summary.extend(&page.samples);
            summarised.last_mark = summarised.last_mark.max(page.last_mark);
            read += page.samples.len() as u64;
            match page.next {
                Some(next) => from = Some(next),
                None => return Ok((page.total as u64, read)),
            }
        }
    }

    /// The summary the store keeps for a series, if any (one it cannot read counts as none).
    async fn kept_summary(&self, run_id: &RunId, key: &str) -> Option<Arc<Summarised>> {
        match self.store.series_summary(run_id, key).await {
            Ok(kept) => {
                kept.map(|(summary, last_mark)| Arc::new(Summarised { kept: summary.points(), summary, last_mark }))
            }
            Err(error) => {
                tracing::warn!(run = %run_id, key, %error, "reading a kept metric series summary failed");
                None
            }
        }
    }

    /// Gives a summary to the store to keep when none is kept or it has grown by a tenth since,
    /// so that a live series is not rewritten on every view. A failure costs only speed later.
    async fn keep(&self, run_id: &RunId, key: &str, mut summarised: Summarised) -> Arc<Summarised> {
        let points = summarised.summary.points();
        if points >= summarised.kept + (summarised.kept / 10).max(1) {
            match self.store.put_series_summary(run_id, key, &summarised.summary, summarised.last_mark).await {
                Ok(()) => summarised.kept = points,
                Err(error) => tracing::warn!(run = %run_id, key, %error, "keeping a metric series summary failed"),
            }
        }
        Arc::new(summarised)
    }

    /// Notes that a run's series were written, for the background summariser.
    pub(crate) fn note_series_written(&self, run_id: &RunId, keys: impl IntoIterator<Item = String>) {
        let now = Instant::now();
        let Ok(mut written) = self.series_written.lock() else { return };
        for key in keys {
            written.entry((run_id.clone(), key)).and_modify(|(_, last)| *last = now).or_insert((now, now));
        }
    }

    /// Keeps the summaries of long series current in the background, so that a chart's first
    /// view (after a restart too) reads a kept summary and the few points written since, not the
    /// whole series. A series is summarised once it has been quiet for [`SUMMARISE_QUIET`], or
    /// every [`SUMMARISE_AT_LEAST`] while it is written without a pause; the work then reads only
    /// the points written since the kept summary. Runs for the life of the server.
    pub async fn run_series_summaries(self: Arc<Self>) {
        let mut tick = tokio::time::interval(SUMMARISE_QUIET);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = Instant::now();
            let due: Vec<SeriesKey> = match self.series_written.lock() {
                Ok(mut written) => {
                    let due: Vec<SeriesKey> = written
                        .iter()
                        .filter(|(_, (first, last))| {
                            now.duration_since(*last) >= SUMMARISE_QUIET
                                || now.duration_since(*first) >= SUMMARISE_AT_LEAST
                        })
                        .map(|(key, _)| key.clone())
                        .collect();
                    for key in &due {
                        written.remove(key);
                    }
                    due
                }
                Err(_) => Vec::new(),
            };
            for (run_id, key) in due {
                let long = matches!(self.store.metric_points(&run_id, &key).await, Ok(Some(points)) if points as usize > EXACT_POINTS);
                if long && let Err(error) = self.series_with(&run_id, &key, false).await {
                    tracing::warn!(run = %run_id, key, %error, "summarising a metric series failed");
                }
            }
        }
    }
}
