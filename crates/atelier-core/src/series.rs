//! Long metric series, summarised for drawing.
//!
//! A chart of a million-point series shows a few hundred pixels, yet reading the million points
//! costs hundreds of milliseconds every time the page is drawn. A [`SeriesSummary`] cuts a series,
//! in step order, into at most a few thousand consecutive blocks and keeps of each block its
//! first, last, lowest and highest sample (with their steps and times). Those samples are real
//! points, so a chart drawn from them has every extreme of the series in its true place: a spike
//! is the highest sample of its block and is never hidden. The summary grows with the series
//! ([`SeriesSummary::extend`]) without being rebuilt, and tells how many points lie in a step or
//! time range so that a zoomed view can read those points themselves when they are few.

/// One point of a metric series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub step: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub value: f64,
}

impl Sample {
    /// The order of a series: by step, then by time.
    fn position(&self) -> (i64, i64) {
        (self.step, self.timestamp)
    }
}

/// A summary aims at this many blocks; it holds at most twice as many before adjacent blocks are
/// merged.
pub const TARGET_BLOCKS: usize = 2048;

/// The fewest points a block is cut to.
const MIN_BLOCK_POINTS: u64 = 8;

#[derive(Debug, Clone, PartialEq)]
struct Block {
    points: u64,
    first: Sample,
    last: Sample,
    /// The lowest and the highest non-NaN sample; `None` when every sample is NaN.
    low: Option<Sample>,
    high: Option<Sample>,
    earliest: i64,
    latest: i64,
}

impl Block {
    fn of(sample: Sample) -> Block {
        let number = (!sample.value.is_nan()).then_some(sample);
        Block {
            points: 1,
            first: sample,
            last: sample,
            low: number,
            high: number,
            earliest: sample.timestamp,
            latest: sample.timestamp,
        }
    }

    fn add(&mut self, sample: Sample) {
        self.points += 1;
        if sample.position() < self.first.position() {
            self.first = sample;
        }
        if sample.position() >= self.last.position() {
            self.last = sample;
        }
        if !sample.value.is_nan() {
            if self.low.is_none_or(|low| sample.value < low.value) {
                self.low = Some(sample);
            }
            if self.high.is_none_or(|high| sample.value > high.value) {
                self.high = Some(sample);
            }
        }
        self.earliest = self.earliest.min(sample.timestamp);
        self.latest = self.latest.max(sample.timestamp);
    }

    fn merge(&mut self, other: &Block) {
        self.points += other.points;
        if other.first.position() < self.first.position() {
            self.first = other.first;
        }
        if other.last.position() >= self.last.position() {
            self.last = other.last;
        }
        if let Some(low) = other.low
            && self.low.is_none_or(|mine| low.value < mine.value)
        {
            self.low = Some(low);
        }
        if let Some(high) = other.high
            && self.high.is_none_or(|mine| high.value > mine.value)
        {
            self.high = Some(high);
        }
        self.earliest = self.earliest.min(other.earliest);
        self.latest = self.latest.max(other.latest);
    }

    /// The block's distinct kept samples, in step order.
    fn samples(&self, into: &mut Vec<Sample>) {
        let mut kept = [Some(self.first), self.low, self.high, Some(self.last)];
        kept.sort_by_key(|sample| sample.map(|sample| sample.position()));
        let mut previous: Option<Sample> = None;
        for sample in kept.into_iter().flatten() {
            if previous.is_some_and(|previous| previous == sample) {
                continue;
            }
            into.push(sample);
            previous = Some(sample);
        }
    }
}

/// Which axis a range is on: steps, or milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Step,
    Time,
}

/// A closed range on an axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub axis: Axis,
    pub low: f64,
    pub high: f64,
}

impl Range {
    /// Whether the sample lies in the range.
    pub fn contains(&self, sample: &Sample) -> bool {
        let x = match self.axis {
            Axis::Step => sample.step as f64,
            Axis::Time => sample.timestamp as f64,
        };
        self.low <= x && x <= self.high
    }
}

/// A metric series summarised into blocks; see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSummary {
    blocks: Vec<Block>,
    block_points: u64,
    points: u64,
    /// The most blocks it holds: adjacent blocks are merged before one more would go past.
    room: usize,
}

impl SeriesSummary {
    /// Summarises samples given in step order (then time).
    pub fn build(samples: &[Sample]) -> SeriesSummary {
        let block_points = (samples.len() as u64).div_ceil(TARGET_BLOCKS as u64).max(MIN_BLOCK_POINTS);
        let mut summary = SeriesSummary { blocks: Vec::new(), block_points, points: 0, room: 2 * TARGET_BLOCKS };
        summary.extend(samples);
        summary
    }

    /// The same summary in at most `blocks` blocks (at least 2), which it keeps to as it grows:
    /// coarser, for summaries held in memory while their series are written.
    pub fn with_room(mut self, blocks: usize) -> SeriesSummary {
        self.room = blocks.max(2);
        while self.blocks.len() > self.room {
            self.halve();
        }
        self.blocks.shrink_to(self.room);
        self
    }

    /// Adds samples, in any order. A sample after the summary's last one goes to the last block
    /// (or a new one); an earlier one joins the block whose step range holds it.
    pub fn extend(&mut self, samples: &[Sample]) {
        for sample in samples {
            self.add(*sample);
        }
    }

    fn add(&mut self, sample: Sample) {
        self.points += 1;
        let Some(last) = self.blocks.last_mut() else {
            self.blocks.push(Block::of(sample));
            return;
        };
        if sample.position() >= last.last.position() {
            if last.points < self.block_points {
                last.add(sample);
                return;
            }
            // Halved before the push, never after: the blocks never outgrow their room (a push
            // past a full vector would double it).
            if self.blocks.len() >= self.room {
                self.halve();
                self.add_to_last(sample);
            } else {
                self.blocks.push(Block::of(sample));
            }
            return;
        }
        // The first block that ends at or after the sample holds it (or is the nearest after).
        let at = self.blocks.partition_point(|block| block.last.position() < sample.position());
        self.blocks[at].add(sample);
    }

    /// Adds a sample at or after the last one, just after halving: the last block has room
    /// unless it was the odd one out, kept alone.
    fn add_to_last(&mut self, sample: Sample) {
        match self.blocks.last_mut() {
            Some(last) if last.points < self.block_points => last.add(sample),
            _ => self.blocks.push(Block::of(sample)),
        }
    }

    /// Merges adjacent blocks in pairs, in place: the vector keeps its room, so a summary that
    /// grows for hours does not allocate again.
    fn halve(&mut self) {
        let count = self.blocks.len();
        let mut kept = 0;
        for at in (0..count).step_by(2) {
            let mut block = self.blocks[at].clone();
            if let Some(second) = self.blocks.get(at + 1) {
                block.merge(second);
            }
            self.blocks[kept] = block;
            kept += 1;
        }
        self.blocks.truncate(kept);
        self.block_points *= 2;
    }

    /// How many points the summary covers.
    pub fn points(&self) -> u64 {
        self.points
    }

    /// How many blocks it keeps (each costs about 130 bytes).
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    fn in_range<'a>(&'a self, range: Option<&'a Range>) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |block| match range {
            None => true,
            Some(range) => match range.axis {
                Axis::Step => block.first.step as f64 <= range.high && block.last.step as f64 >= range.low,
                Axis::Time => block.earliest as f64 <= range.high && block.latest as f64 >= range.low,
            },
        })
    }

    /// The kept samples of the blocks that meet `range` (all blocks for `None`), in step order.
    /// Samples of a block that only partly meets the range are left out when they fall outside.
    pub fn samples(&self, range: Option<&Range>) -> Vec<Sample> {
        let mut samples = Vec::with_capacity(self.blocks.len() * 4);
        for block in self.in_range(range) {
            block.samples(&mut samples);
        }
        if let Some(range) = range {
            samples.retain(|sample| range.contains(sample));
        }
        samples
    }

    /// At most how many points lie in `range`, and the steps that a read of them must cover:
    /// the points of every block that meets the range, and the first and last step of those
    /// blocks. `None` when no block meets it.
    pub fn span(&self, range: &Range) -> Option<(u64, i64, i64)> {
        let mut found: Option<(u64, i64, i64)> = None;
        for block in self.in_range(Some(range)) {
            found = Some(match found {
                None => (block.points, block.first.step, block.last.step),
                Some((points, first, last)) => {
                    (points + block.points, first.min(block.first.step), last.max(block.last.step))
                }
            });
        }
        found
    }
}

/// The first byte of an encoded summary; a stored summary of another version is not read.
const ENCODING_VERSION: u8 = 1;

impl SeriesSummary {
    /// The summary as bytes, to be kept by a store: a version byte, then little-endian numbers.
    /// Values travel as their IEEE 754 bits, so NaN and every last bit survive.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(21 + self.blocks.len() * 130);
        bytes.push(ENCODING_VERSION);
        bytes.extend_from_slice(&self.block_points.to_le_bytes());
        bytes.extend_from_slice(&self.points.to_le_bytes());
        bytes.extend_from_slice(&(self.blocks.len() as u32).to_le_bytes());
        let sample = |bytes: &mut Vec<u8>, sample: &Sample| {
            bytes.extend_from_slice(&sample.step.to_le_bytes());
            bytes.extend_from_slice(&sample.timestamp.to_le_bytes());
            bytes.extend_from_slice(&sample.value.to_bits().to_le_bytes());
        };
        for block in &self.blocks {
            bytes.extend_from_slice(&block.points.to_le_bytes());
            sample(&mut bytes, &block.first);
            sample(&mut bytes, &block.last);
            bytes.push(u8::from(block.low.is_some()) | (u8::from(block.high.is_some()) << 1));
            for kept in [&block.low, &block.high].into_iter().flatten() {
                sample(&mut bytes, kept);
            }
            bytes.extend_from_slice(&block.earliest.to_le_bytes());
            bytes.extend_from_slice(&block.latest.to_le_bytes());
        }
        bytes
    }

    /// Reads what [`SeriesSummary::to_bytes`] wrote; `None` for anything else (another version,
    /// a cut or padded text, blocks whose points do not add up).
    pub fn from_bytes(bytes: &[u8]) -> Option<SeriesSummary> {
        let mut reader = Reader(bytes);
        if reader.take::<1>()?[0] != ENCODING_VERSION {
            return None;
        }
        let block_points = u64::from_le_bytes(reader.take()?);
        let points = u64::from_le_bytes(reader.take()?);
        let count = u32::from_le_bytes(reader.take()?) as usize;
        let mut blocks = Vec::with_capacity(count.min(4 * TARGET_BLOCKS));
        for _ in 0..count {
            let block_points = u64::from_le_bytes(reader.take()?);
            let first = reader.sample()?;
            let last = reader.sample()?;
            let kept = reader.take::<1>()?[0];
            let low = if kept & 1 != 0 { Some(reader.sample()?) } else { None };
            let high = if kept & 2 != 0 { Some(reader.sample()?) } else { None };
            let earliest = i64::from_le_bytes(reader.take()?);
            let latest = i64::from_le_bytes(reader.take()?);
            blocks.push(Block { points: block_points, first, last, low, high, earliest, latest });
        }
        let summed = blocks.iter().try_fold(0u64, |sum, block| sum.checked_add(block.points))?;
        (reader.0.is_empty() && summed == points && block_points >= MIN_BLOCK_POINTS).then_some(SeriesSummary {
            blocks,
            block_points,
            points,
            room: 2 * TARGET_BLOCKS,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn sample(&mut self) -> Option<Sample> {
        let step = i64::from_le_bytes(self.take()?);
        let timestamp = i64::from_le_bytes(self.take()?);
        let value = f64::from_bits(u64::from_le_bytes(self.take()?));
        Some(Sample { step, timestamp, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_survives_its_bytes_to_the_last_bit() {
        let mut samples = series(100_000, |step| if step % 997 == 0 { f64::NAN } else { (step as f64).sin() });
        samples[5].value = -0.0;
        let mut summary = SeriesSummary::build(&samples);
        summary.extend(&[Sample { step: 3, timestamp: 1, value: f64::INFINITY }]);
        let bytes = summary.to_bytes();
        let read = SeriesSummary::from_bytes(&bytes).expect("its own bytes read back");
        assert_eq!(read.to_bytes(), bytes, "bit for bit, NaN and -0.0 included");
        assert_eq!(read.points(), summary.points());
        assert_eq!(read.blocks(), summary.blocks());
        let everything = read.samples(None);
        assert!(everything.iter().any(|sample| sample.value == f64::INFINITY), "the late spike is kept");
        assert!(SeriesSummary::from_bytes(&bytes[..bytes.len() - 1]).is_none(), "a cut text is refused");
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(SeriesSummary::from_bytes(&padded).is_none(), "a padded text is refused");
        let mut other_version = bytes;
        other_version[0] = 2;
        assert!(SeriesSummary::from_bytes(&other_version).is_none());
        assert!(SeriesSummary::from_bytes(&[]).is_none());
    }

    fn series(count: i64, value: impl Fn(i64) -> f64) -> Vec<Sample> {
        (0..count).map(|step| Sample { step, timestamp: 1_000 + step * 10, value: value(step) }).collect()
    }

    #[test]
    fn a_million_points_keep_every_spike_in_a_bounded_summary() {
        let spikes = [3_i64, 123_457, 500_000, 999_998];
        let samples = series(1_000_000, |step| if spikes.contains(&step) { 100.0 + step as f64 } else { 0.5 });
        let summary = SeriesSummary::build(&samples);
        assert_eq!(summary.points(), 1_000_000);
        assert!(summary.blocks() <= 2 * TARGET_BLOCKS, "{} blocks", summary.blocks());
        let kept = summary.samples(None);
        assert!(kept.len() <= 4 * summary.blocks());
        for spike in spikes {
            let found = kept.iter().find(|sample| sample.step == spike).expect("spike kept");
            assert_eq!(found.value, 100.0 + spike as f64);
            assert_eq!(found.timestamp, 1_000 + spike * 10);
        }
        assert_eq!(kept.first().map(|sample| sample.step), Some(0));
        assert_eq!(kept.last().map(|sample| sample.step), Some(999_999));
        assert!(kept.windows(2).all(|pair| pair[0].position() < pair[1].position()), "kept samples are in step order");

        // Grown a point at a time, as a series being written is, it never holds more blocks
        // than its bound either, nor more room for them.
        let mut grown = SeriesSummary::build(&[]);
        for sample in &samples {
            grown.extend(std::slice::from_ref(sample));
            assert!(grown.blocks.capacity() <= 2 * TARGET_BLOCKS, "{} blocks of room", grown.blocks.capacity());
        }
        assert_eq!(grown.points(), 1_000_000);
        let kept = grown.samples(None);
        assert!(spikes.iter().all(|spike| kept.iter().any(|sample| sample.step == *spike)));

        // With less room, fewer blocks, every spike still kept.
        let mut coarse = SeriesSummary::build(&samples[..100]).with_room(TARGET_BLOCKS);
        for chunk in samples[100..].chunks(1_000) {
            coarse.extend(chunk);
            assert!(coarse.blocks.capacity() <= TARGET_BLOCKS, "{} blocks of room", coarse.blocks.capacity());
        }
        assert_eq!(coarse.points(), 1_000_000);
        assert!(coarse.blocks() > TARGET_BLOCKS / 2, "{} blocks", coarse.blocks());
        let kept = coarse.samples(None);
        assert!(spikes.iter().all(|spike| kept.iter().any(|sample| sample.step == *spike)));
        assert!(SeriesSummary::build(&samples).with_room(TARGET_BLOCKS).blocks() <= TARGET_BLOCKS);
    }

    #[test]
    fn extending_equals_building_at_once_for_appends() {
        let samples = series(50_000, |step| (step as f64 * 0.37).sin());
        let mut grown = SeriesSummary::build(&samples[..1_000]);
        for chunk in samples[1_000..].chunks(777) {
            grown.extend(chunk);
        }
        assert_eq!(grown.points(), 50_000);
        assert!(grown.blocks() <= 2 * TARGET_BLOCKS);
        let kept = grown.samples(None);
        let low = samples.iter().map(|sample| sample.value).fold(f64::INFINITY, f64::min);
        let high = samples.iter().map(|sample| sample.value).fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(kept.iter().map(|sample| sample.value).fold(f64::INFINITY, f64::min), low);
        assert_eq!(kept.iter().map(|sample| sample.value).fold(f64::NEG_INFINITY, f64::max), high);
        assert_eq!(kept.last().map(|sample| sample.step), Some(49_999));
    }

    #[test]
    fn a_late_sample_joins_the_block_that_holds_its_step() {
        let mut summary = SeriesSummary::build(&series(10_000, |_| 1.0));
        summary.extend(&[Sample { step: 5_000, timestamp: 99, value: -7.0 }]);
        assert_eq!(summary.points(), 10_001);
        let kept = summary.samples(None);
        let low = kept.iter().find(|sample| sample.value == -7.0).expect("late low kept");
        assert_eq!(low.step, 5_000);
        assert!(kept.windows(2).all(|pair| pair[0].position() <= pair[1].position()));
        // A sample before everything joins the first block.
        summary.extend(&[Sample { step: -5, timestamp: 1, value: 9.0 }]);
        assert_eq!(summary.samples(None).first().map(|sample| sample.step), Some(-5));
    }

    #[test]
    fn nan_never_becomes_an_extreme() {
        let summary = SeriesSummary::build(&series(1_000, |step| if step % 3 == 0 { f64::NAN } else { step as f64 }));
        let kept = summary.samples(None);
        let numbers: Vec<f64> = kept.iter().map(|sample| sample.value).filter(|value| !value.is_nan()).collect();
        assert_eq!(numbers.iter().copied().fold(f64::INFINITY, f64::min), 1.0);
        assert_eq!(numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max), 998.0);
    }

    #[test]
    fn ranges_select_blocks_and_bound_the_points_to_read() {
        let summary = SeriesSummary::build(&series(100_000, |step| step as f64));
        let steps = Range { axis: Axis::Step, low: 10_000.0, high: 19_999.0 };
        let (points, first, last) = summary.span(&steps).expect("blocks in range");
        assert!((10_000..=10_000 + 2 * 2 * 49).contains(&points), "{points}");
        assert!(first <= 10_000 && last >= 19_999);
        let kept = summary.samples(Some(&steps));
        assert!(kept.iter().all(|sample| (10_000..=19_999).contains(&sample.step)));
        // The block that straddles the range's start keeps only samples outside it or inside it.
        assert!(kept.first().is_some_and(|sample| sample.step < 10_000 + 2 * 49));
        let times = Range { axis: Axis::Time, low: 1_000.0 + 500_000.0, high: 1_000.0 + 500_100.0 };
        let (_, first, last) = summary.span(&times).expect("blocks in time range");
        assert!(first <= 50_000 && last >= 50_010);
        assert!(summary.span(&Range { axis: Axis::Step, low: 200_000.0, high: 300_000.0 }).is_none());
    }
}
