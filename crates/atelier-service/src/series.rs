//! Metric series for charts.
//!
//! A short series is read whole and drawn from every point. A long one is summarised into a
//! [`SeriesSummary`] (every block's first, last, lowest and highest point), kept in a bounded
//! cache and by the store. The summaries the store keeps are written in the background from the
//! points this server writes, kept current as they arrive (see [`Service::run_series_summaries`]);
//! a series the server did not see whole is read back once, a page of [`READ_PAGE`] points at a
//! time. Each view asks the store only for the series' point count (one row by
//! primary key): an unchanged count means an unchanged series, since points are only ever added;
//! a higher count reads just the points written since the summary's insertion mark and extends
//! it. The read of new points comes with the count from the same snapshot, so a write that
//! committed out of insertion order (possible on PostgreSQL) shows up as a count that does not
//! add up, and the summary is rebuilt rather than silently missing it.

use crate::{Principal, Service};
use atelier_core::Result;
use atelier_core::authz::Action;
use atelier_core::model::Metric;
use atelier_core::model::RunId;
use atelier_core::names::WorkspaceName;
use atelier_core::series::{Range, Sample, SeriesSummary};
use atelier_store::SeriesCursor;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
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

/// The background summariser counts the points of at most this many series in one statement.
const COUNT_AT_ONCE: usize = 1_000;

/// The cache holds summaries of at most this many blocks in all (about 136 bytes each).
const CACHE_MAX_BLOCKS: usize = 200_000;

/// The summary of a series being written holds at most this many blocks (about 280 KB), half
/// what a view's may: still several blocks to a pixel of a chart.
const LIVE_ROOM: usize = atelier_core::series::TARGET_BLOCKS;

/// The summaries of series being written hold at most this many blocks in all (about 14 MB);
/// a series whose summary would go past it is read back when it is summarised instead.
const LIVE_MAX_BLOCKS: usize = 100_000;

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

/// A series being written: when its writes began and last came, and its summary, extended with
/// every point this server has written to it since it was first seen (`None` once it would go
/// past the budget of [`LIVE_MAX_BLOCKS`]). A write notes its points only after they committed,
/// and nothing else ever goes into the summary, so its points are always some of the series';
/// whether they are all of them is checked against the store's count before it is kept.
struct Written {
    first: Instant,
    last: Instant,
    summary: Option<SeriesSummary>,
}

/// The series being written, and how many blocks their summaries hold in all.
#[derive(Default)]
pub(crate) struct LiveSeries {
    series: HashMap<SeriesKey, Written>,
    blocks: usize,
}

impl LiveSeries {
    fn extend(&mut self, run_id: &RunId, written: Vec<(String, Vec<Sample>)>, now: Instant) {
        for (key, samples) in written {
            match self.series.entry((run_id.clone(), key)) {
                Entry::Occupied(mut entry) => {
                    let entry = entry.get_mut();
                    entry.last = now;
                    if let Some(summary) = &mut entry.summary {
                        let before = summary.blocks();
                        summary.extend(&samples);
                        self.blocks = self.blocks - before + summary.blocks();
                        if self.blocks > LIVE_MAX_BLOCKS {
                            self.blocks -= summary.blocks();
                            entry.summary = None;
                        }
                    }
                }
                Entry::Vacant(entry) => {
                    let summary = SeriesSummary::build(&samples).with_room(LIVE_ROOM);
                    let summary = (self.blocks + summary.blocks() <= LIVE_MAX_BLOCKS).then_some(summary);
                    self.blocks += summary.as_ref().map_or(0, SeriesSummary::blocks);
                    entry.insert(Written { first: now, last: now, summary });
                }
            }
        }
    }

    /// The series due to be summarised: those quiet for [`SUMMARISE_QUIET`] leave, with their
    /// summaries (a later write starts them again); those written for [`SUMMARISE_AT_LEAST`]
    /// without a pause stay, are due again that much later, and have their summaries copied
    /// just before they are counted ([`LiveSeries::current`]), so that few writes fall between.
    fn take_due(&mut self, now: Instant) -> Vec<(SeriesKey, Due)> {
        let quiet: Vec<SeriesKey> = self
            .series
            .iter()
            .filter(|(_, written)| now.duration_since(written.last) >= SUMMARISE_QUIET)
            .map(|(key, _)| key.clone())
            .collect();
        let mut due = Vec::with_capacity(quiet.len());
        for key in quiet {
            if let Some(written) = self.series.remove(&key) {
                self.blocks -= written.summary.as_ref().map_or(0, SeriesSummary::blocks);
                due.push((key, Due::Quiet(written.summary)));
            }
        }
        for (key, written) in &mut self.series {
            if now.duration_since(written.first) >= SUMMARISE_AT_LEAST {
                written.first = now;
                due.push((key.clone(), Due::Writing));
            }
        }
        due
    }

    /// A copy of the summary of a series being written, as it is now.
    fn current(&self, key: &SeriesKey) -> Option<SeriesSummary> {
        self.series.get(key).and_then(|written| written.summary.clone())
    }
}

/// Why a series is due, and for a quiet one its summary.
#[derive(Debug)]
enum Due {
    Quiet(Option<SeriesSummary>),
    Writing,
}

/// A batch's metric points, by key (sorted; each key's points in the batch's order), for
/// [`Service::note_series_written`].
pub(crate) fn series_points(metrics: &[Metric]) -> Vec<(String, Vec<Sample>)> {
    let mut order: Vec<&Metric> = metrics.iter().collect();
    order.sort_by(|a, b| a.key.cmp(&b.key));
    let mut written: Vec<(String, Vec<Sample>)> = Vec::new();
    for metric in order {
        let sample = Sample { step: metric.step, timestamp: metric.timestamp, value: metric.value };
        match written.last_mut() {
            Some((key, samples)) if *key == metric.key => samples.push(sample),
            _ => written.push((metric.key.clone(), vec![sample])),
        }
    }
    written
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

    /// Notes the points a write stored (after it committed), for the background summariser.
    pub(crate) fn note_series_written(&self, run_id: &RunId, written: Vec<(String, Vec<Sample>)>) {
        if written.is_empty() {
            return;
        }
        let now = Instant::now();
        if let Ok(mut live) = self.series_written.lock() {
            live.extend(run_id, written, now);
        }
    }

    /// Keeps the summaries of long series in the store current in the background, so that a
    /// chart's first view (after a restart too) reads a kept summary and the few points written
    /// since, not the whole series. A series is summarised once it has been quiet for
    /// [`SUMMARISE_QUIET`], or every [`SUMMARISE_AT_LEAST`] while it is written without a pause.
    /// Its summary was kept current as its points were written, so the work is a count and a
    /// write, unless the count says the summary is not the whole series (points from before a
    /// restart or from another server, or a write that committed and is not noted yet): then the
    /// points since the kept summary are read back, as before, and the summary in memory stays
    /// as it was, to be tried again next time. Runs for the life of the server.
    pub async fn run_series_summaries(self: Arc<Self>) {
        let mut tick = tokio::time::interval(SUMMARISE_QUIET);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let due = match self.series_written.lock() {
                Ok(mut live) => live.take_due(Instant::now()),
                Err(_) => Vec::new(),
            };
            // The series not kept from their written points are counted together, so that a
            // burst of short series (thousands of new runs) costs a few statements, not one each.
            let mut to_count = Vec::new();
            for (series, due) in due {
                let summary = match due {
                    Due::Quiet(summary) => summary,
                    Due::Writing => self.series_written.lock().ok().and_then(|live| live.current(&series)),
                };
                let (run_id, key) = &series;
                if let Some(summary) = summary
                    && summary.points() as usize > EXACT_POINTS
                    && self.keep_written(run_id, key, &summary).await
                {
                    continue;
                }
                to_count.push(series);
            }
            for chunk in to_count.chunks(COUNT_AT_ONCE) {
                let long = match self.store.long_series(chunk, EXACT_POINTS as i64).await {
                    Ok(long) => long,
                    Err(error) => {
                        tracing::warn!(series = chunk.len(), %error, "counting metric series' points failed");
                        continue;
                    }
                };
                for (run_id, key) in long {
                    if let Err(error) = self.series_with(&run_id, &key, false).await {
                        tracing::warn!(run = %run_id, key, %error, "summarising a metric series failed");
                    }
                }
            }
        }
    }

    /// Gives the store a summary kept current from written points, when it holds as many points
    /// as the series has. The summary's points were all committed before the count was taken
    /// (a write notes them after its commit), so equal counts mean the same points. Returns
    /// false when the series must be read back instead; a store that refuses the write costs
    /// only speed later, as in [`Service::keep`].
    async fn keep_written(&self, run_id: &RunId, key: &str, summary: &SeriesSummary) -> bool {
        match self.store.series_extent(run_id, key).await {
            Ok(Some((points, mark))) if points as u64 == summary.points() => {
                match self.store.put_series_summary(run_id, key, summary, mark).await {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::warn!(run = %run_id, key, %error, "keeping a metric series summary failed");
                        true
                    }
                }
            }
            Ok(_) => {
                tracing::debug!(run = %run_id, key, "this server did not write the whole metric series; reading it back");
                false
            }
            Err(error) => {
                tracing::warn!(run = %run_id, key, %error, "counting a metric series' points failed");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(key: &str, steps: std::ops::Range<i64>) -> Vec<(String, Vec<Sample>)> {
        let samples = steps.map(|step| Sample { step, timestamp: step, value: step as f64 }).collect();
        vec![(key.to_owned(), samples)]
    }

    #[test]
    fn a_written_series_is_due_when_quiet_or_written_long_and_stays_only_while_written() {
        let run = RunId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let mut live = LiveSeries::default();
        let start = Instant::now();
        live.extend(&run, points("loss", 0..100), start);
        live.extend(&run, points("acc", 0..10), start);
        live.extend(&run, points("loss", 100..150), start + Duration::from_secs(3));
        assert!(live.take_due(start + Duration::from_secs(4)).is_empty());

        // `acc` has been quiet for 5 s and leaves; `loss` was written 2 s before.
        let due = live.take_due(start + Duration::from_secs(5));
        assert_eq!(due.len(), 1);
        assert!(matches!(&due[0], ((_, key), Due::Quiet(Some(summary))) if key == "acc" && summary.points() == 10));

        // Written without a pause for a minute: due, and kept, with every point so far.
        let mut at = start + Duration::from_secs(3);
        while at < start + SUMMARISE_AT_LEAST {
            at += Duration::from_secs(2);
            live.extend(&run, points("loss", 0..1), at);
        }
        let due = live.take_due(at);
        assert_eq!(due.len(), 1);
        assert!(matches!(due[0].1, Due::Writing));
        let written = 150 + (SUMMARISE_AT_LEAST.as_secs() - 3).div_ceil(2);
        assert_eq!(live.current(&due[0].0).map(|summary| summary.points()), Some(written));
        assert!(live.take_due(at + Duration::from_secs(1)).is_empty(), "not due again at once");
        let due = live.take_due(at + SUMMARISE_QUIET);
        assert!(matches!(&due[0].1, Due::Quiet(Some(summary)) if summary.points() == written));
        assert_eq!((live.series.len(), live.blocks), (0, 0), "nothing stays once quiet");
    }

    #[test]
    fn series_past_the_budget_are_noted_without_a_summary() {
        let run = RunId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let mut live = LiveSeries { blocks: LIVE_MAX_BLOCKS, ..LiveSeries::default() };
        live.extend(&run, points("loss", 0..100), Instant::now());
        let due = live.take_due(Instant::now() + SUMMARISE_QUIET);
        assert_eq!(due.len(), 1);
        assert!(matches!(due[0].1, Due::Quiet(None)), "read back instead");

        // A series that grows past the budget gives its summary up; the others keep theirs.
        let mut live = LiveSeries::default();
        let now = Instant::now();
        live.extend(&run, points("small", 0..100), now);
        live.extend(&run, points("big", 0..8), now);
        live.blocks = LIVE_MAX_BLOCKS - 1;
        live.extend(&run, points("big", 8..100), now);
        assert!(live.series[&(run.clone(), "big".to_owned())].summary.is_none());
        assert!(live.series[&(run.clone(), "small".to_owned())].summary.is_some());
        assert!(live.blocks <= LIVE_MAX_BLOCKS);
    }

    #[test]
    fn a_batch_is_split_into_series_by_key() {
        let metric = |key: &str, step| Metric { key: key.to_owned(), value: 0.5, timestamp: 7, step };
        let written = series_points(&[metric("b", 1), metric("a", 2), metric("b", 3)]);
        let keys: Vec<_> = written.iter().map(|(key, samples)| (key.as_str(), samples.len())).collect();
        assert_eq!(keys, [("a", 1), ("b", 2)]);
        assert_eq!(written[1].1[1], Sample { step: 3, timestamp: 7, value: 0.5 });
    }
}
