//! `loadgen`: the compiled load generator of `bench/`. It drives the MLflow tracking REST API
//! (`/api/2.0/mlflow/...`) of any server, Atelier or `mlflow server`, so that one binary with the
//! same request bodies measures both.
//!
//! Load scenarios (`log-batch`, `log-metric`, `search`, `history`) run N workers, each with its own
//! keep-alive HTTP client (one connection), for a fixed duration bounded by a request count; they
//! record every request's latency, count failures (transport errors and non-2xx answers), and
//! print one JSON report on stdout that includes the load generator's own CPU time.
//!
//! Request bodies are encoded once, before the clock starts. Bodies that must differ from one
//! request to the next (metric steps, so that every logged point is a distinct row) carry
//! fixed-width number slots, padded with JSON whitespace, that each request overwrites in a copy
//! of the template: a memcpy and a few digit writes instead of JSON serialisation.
//!
//! Setup commands (`setup-search`, `setup-history`, `create-runs`) create the data the scenarios
//! read, and `count` reads metric histories back to check that every acknowledged point is stored.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const API: &str = "/api/2.0/mlflow";
/// Width of a patchable number slot: enough for any step this tool writes.
const SLOT: usize = 12;
/// Page size of MLflow's Python client for get-history (`GET_METRIC_HISTORY_MAX_RESULTS`).
const CLIENT_HISTORY_PAGE: u64 = 25_000;
const BASE_TIMESTAMP: i64 = 1_700_000_000_000;

#[derive(Parser)]
#[command(about = "Load generator for the MLflow tracking REST API (Atelier and mlflow server)")]
struct Cli {
    /// Server URL, e.g. http://127.0.0.1:7420
    #[arg(long)]
    url: String,
    /// Bearer token (Atelier); empty for a server without auth (mlflow server).
    #[arg(long, env = "LOADGEN_TOKEN", default_value = "", hide_env_values = true)]
    token: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Debug)]
struct Load {
    /// Concurrent clients (workers), each with its own keep-alive connection.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Measured seconds (after the warm-up). Requests in flight at the end still complete.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of warm-up whose latencies are not recorded (their writes still count as acked).
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Upper bound on requests (warm-up included): the run stops at whichever comes first.
    #[arg(long, default_value_t = 1_000_000)]
    max_requests: u64,
    /// Per-request timeout in seconds; a timeout counts as a failure.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
}

#[derive(Subcommand)]
enum Command {
    /// POSTs one body (a file) to PATH over and over: a scoring endpoint, say.
    Post {
        /// The path after the URL, e.g. /endpoints/iris-ep/score or /invocations.
        #[arg(long)]
        path: String,
        /// The request body.
        #[arg(long)]
        body_file: std::path::PathBuf,
        /// Extra headers, NAME:VALUE (repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
        #[command(flatten)]
        load: Load,
    },
    /// Serves a constant JSON answer to every request on --url's address until killed: the
    /// ceiling of any HTTP router on this machine.
    ConstantServer,
    /// Creates an experiment and COUNT empty runs in it; prints {"experiment_id", "run_ids"}.
    CreateRuns {
        #[arg(long)]
        experiment: String,
        #[arg(long, default_value_t = 1)]
        count: usize,
    },
    /// Creates an experiment with RUNS runs, each with params (lr, optimizer, batch_size), metrics
    /// (acc, loss) and a tag; half have lr = '0.01'. Prints {"experiment_id", "matching"}.
    SetupSearch {
        #[arg(long)]
        experiment: String,
        #[arg(long, default_value_t = 2000)]
        runs: usize,
        #[arg(long, default_value_t = 8)]
        clients: usize,
    },
    /// Creates one run whose metric KEY has POINTS points, loaded with log-batch (1,000 a batch).
    SetupHistory {
        #[arg(long)]
        experiment: String,
        #[arg(long, default_value_t = 100_000)]
        points: u64,
        #[arg(long, default_value = "hist")]
        key: String,
        #[arg(long, default_value_t = 4)]
        clients: usize,
    },
    /// Load: runs/log-batch, BATCH metrics a request (KEYS keys x BATCH/KEYS steps), spread over RUNS.
    LogBatch {
        /// Comma-separated run ids; request n goes to run n mod len.
        #[arg(long)]
        runs: String,
        #[arg(long, default_value_t = 1000)]
        batch: u64,
        #[arg(long, default_value_t = 10)]
        keys: u64,
        #[command(flatten)]
        load: Load,
    },
    /// Load: runs/log-metric, one metric (key `single`, step = request number) a request.
    LogMetric {
        #[arg(long)]
        runs: String,
        #[command(flatten)]
        load: Load,
    },
    /// Load: runs/search with a filter and an order_by, one page of up to MAX_RESULTS runs.
    Search {
        #[arg(long)]
        experiment_id: String,
        #[arg(long, default_value = "metrics.acc > 0.5 and params.lr = '0.01'")]
        filter: String,
        #[arg(long, default_value = "metrics.acc DESC")]
        order_by: String,
        #[arg(long, default_value_t = 1000)]
        max_results: u64,
        #[command(flatten)]
        load: Load,
    },
    /// Load: the whole history of one metric, paged as MLflow's client does (max_results=25000,
    /// following next_page_token). One "request" is the full fetch of every page.
    History {
        #[arg(long)]
        run_id: String,
        #[arg(long, default_value = "hist")]
        key: String,
        #[arg(long, default_value_t = CLIENT_HISTORY_PAGE)]
        page_size: u64,
        #[command(flatten)]
        load: Load,
    },
    /// Counts stored points of KEYS in RUNS through get-history; prints {"points", ...}.
    Count {
        #[arg(long)]
        runs: String,
        /// Comma-separated metric keys.
        #[arg(long)]
        keys: String,
    },
}

// HTTP plumbing.

#[derive(Clone)]
struct Api {
    url: String,
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Api {
    fn new(url: &str, token: &str, timeout: Duration) -> Result<Api> {
        // One client per worker, with at most one idle connection: each worker holds one
        // keep-alive connection, as one training process with one MLflow client does.
        let client = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(Duration::from_secs(300))
            .timeout(timeout)
            .build()
            .context("cannot build the HTTP client")?;
        let url = url.trim_end_matches('/').to_owned();
        Ok(Api { base: format!("{url}{API}"), url, token: token.to_owned(), client })
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.token.is_empty() { request } else { request.bearer_auth(&self.token) }
    }

    /// POSTs a body; Ok(body bytes) on 2xx, Err(description) otherwise.
    async fn post(&self, path: &str, body: Vec<u8>) -> Result<bytes::Bytes, String> {
        let request = self
            .auth(self.client.post(format!("{}{path}", self.base)))
            .header("content-type", "application/json")
            .body(body);
        finish(request.send().await).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<bytes::Bytes, String> {
        let request = self.auth(self.client.get(format!("{}{path}", self.base))).query(query);
        finish(request.send().await).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        let bytes = self.post(path, serde_json::to_vec(body)?).await.map_err(|error| anyhow!("{path}: {error}"))?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}

async fn finish(response: reqwest::Result<reqwest::Response>) -> Result<bytes::Bytes, String> {
    let response = response.map_err(|error| format!("transport: {error:#}"))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|error| format!("transport (body): {error:#}"))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(format!("HTTP {}: {}", status.as_u16(), text.chars().take(300).collect::<String>()));
    }
    Ok(body)
}

// Pre-encoded bodies with patchable number slots.

/// A JSON body encoded once, with fixed-width slots for numbers that change per request.
struct Template {
    bytes: Vec<u8>,
    slots: Vec<usize>,
}

impl Template {
    /// Builds a template from pieces: literal JSON text and slots.
    fn build(pieces: &[Piece]) -> Template {
        let mut bytes = Vec::new();
        let mut slots = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => bytes.extend_from_slice(text.as_bytes()),
                Piece::Slot => {
                    slots.push(bytes.len());
                    bytes.extend_from_slice(&[b' '; SLOT - 1]);
                    bytes.push(b'0');
                }
            }
        }
        Template { bytes, slots }
    }

    /// A copy of the body with slot i set to `value(i)`.
    fn render(&self, value: impl Fn(usize) -> u64) -> Vec<u8> {
        let mut body = self.bytes.clone();
        for (index, &offset) in self.slots.iter().enumerate() {
            write_slot(&mut body[offset..offset + SLOT], value(index));
        }
        body
    }
}

enum Piece {
    Text(String),
    Slot,
}

/// Writes `value` right-aligned in `slot`, padded with spaces (JSON whitespace).
fn write_slot(slot: &mut [u8], mut value: u64) {
    let mut position = slot.len();
    loop {
        position -= 1;
        slot[position] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    slot[..position].fill(b' ');
}

// Load scenarios.

enum Scenario {
    /// One template per run; slot i is the step of metric i.
    LogBatch {
        templates: Vec<Template>,
        steps_per_key: u64,
    },
    /// One template per run; the one slot is the step.
    LogMetric {
        templates: Vec<Template>,
    },
    Search {
        body: Vec<u8>,
    },
    History {
        run_id: String,
        key: String,
        page_size: String,
    },
    /// The same body POSTed to one path of the server (a scoring URL), answers not read.
    Post {
        path: String,
        body: bytes::Bytes,
        headers: Vec<(String, String)>,
    },
}

impl Scenario {
    fn name(&self) -> &'static str {
        match self {
            Scenario::LogBatch { .. } => "log-batch",
            Scenario::LogMetric { .. } => "log-metric",
            Scenario::Search { .. } => "search",
            Scenario::History { .. } => "history",
            Scenario::Post { .. } => "post",
        }
    }

    /// Sends request number `seq`; Ok(items) is what it carried: metrics written, runs or points read.
    async fn request(&self, api: &Api, seq: u64) -> Result<u64, String> {
        match self {
            Scenario::LogBatch { templates, steps_per_key } => {
                let template = &templates[(seq % templates.len() as u64) as usize];
                // Request `seq` writes steps seq*S .. seq*S+S-1 of every key: no two points collide.
                let body = template.render(|index| seq * steps_per_key + index as u64 % steps_per_key);
                api.post("/runs/log-batch", body).await?;
                Ok(template.slots.len() as u64)
            }
            Scenario::LogMetric { templates } => {
                let template = &templates[(seq % templates.len() as u64) as usize];
                api.post("/runs/log-metric", template.render(|_| seq)).await?;
                Ok(1)
            }
            Scenario::Search { body } => {
                let bytes = api.post("/runs/search", body.clone()).await?;
                let page: RunsPage = serde_json::from_slice(&bytes).map_err(|error| format!("bad JSON: {error}"))?;
                Ok(page.runs.len() as u64)
            }
            Scenario::History { run_id, key, page_size } => {
                fetch_history(api, run_id, key, page_size).await.map(|(points, _pages)| points)
            }
            Scenario::Post { path, body, headers } => {
                let mut request = api
                    .auth(api.client.post(format!("{}{path}", api.url)))
                    .header("content-type", "application/json")
                    .body(body.clone());
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                finish(request.send().await).await.map(|_| 1)
            }
        }
    }
}

#[derive(Deserialize)]
struct RunsPage {
    #[serde(default)]
    runs: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct HistoryPage {
    #[serde(default)]
    metrics: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// Fetches every page of one metric's history the way MLflow's client does; (points, pages).
async fn fetch_history(api: &Api, run_id: &str, key: &str, page_size: &str) -> Result<(u64, u64), String> {
    let mut token: Option<String> = None;
    let mut points = 0;
    let mut pages = 0;
    loop {
        let mut query = vec![("run_uuid", run_id), ("run_id", run_id), ("metric_key", key), ("max_results", page_size)];
        if let Some(token) = &token {
            query.push(("page_token", token.as_str()));
        }
        let bytes = api.get("/metrics/get-history", &query).await?;
        let page: HistoryPage = serde_json::from_slice(&bytes).map_err(|error| format!("bad JSON: {error}"))?;
        points += page.metrics.len() as u64;
        pages += 1;
        match page.next_page_token.filter(|token| !token.is_empty()) {
            Some(next) => token = Some(next),
            None => return Ok((points, pages)),
        }
        if pages > 100_000 {
            return Err("get-history: more than 100,000 pages".into());
        }
    }
}

#[derive(Default)]
struct WorkerResult {
    latencies_us: Vec<u64>,
    measured_ok: u64,
    measured_items: u64,
    acked_requests: u64,
    acked_items: u64,
    failures: u64,
    errors: Vec<String>,
    last_end: Option<Instant>,
}

async fn run_load(url: &str, token: &str, load: &Load, scenario: Scenario) -> Result<Value> {
    if load.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let scenario = Arc::new(scenario);
    let timeout = Duration::from_secs_f64(load.timeout);
    let apis = (0..load.clients).map(|_| Api::new(url, token, timeout)).collect::<Result<Vec<_>>>()?;
    let counter = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let measure_start = start + Duration::from_secs_f64(load.warmup);
    let deadline = measure_start + Duration::from_secs_f64(load.duration);
    let max_requests = load.max_requests;
    let mut handles = Vec::new();
    for api in apis {
        let scenario = scenario.clone();
        let counter = counter.clone();
        handles.push(tokio::spawn(async move {
            let mut result = WorkerResult::default();
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let seq = counter.fetch_add(1, Ordering::Relaxed);
                if seq >= max_requests {
                    break;
                }
                let begun = Instant::now();
                let outcome = scenario.request(&api, seq).await;
                let ended = Instant::now();
                let measured = begun >= measure_start;
                match outcome {
                    Ok(items) => {
                        result.acked_requests += 1;
                        result.acked_items += items;
                        if measured {
                            result.measured_ok += 1;
                            result.measured_items += items;
                            result.latencies_us.push((ended - begun).as_micros() as u64);
                            result.last_end = Some(result.last_end.map_or(ended, |last| last.max(ended)));
                        }
                    }
                    Err(error) => {
                        result.failures += 1;
                        if result.errors.len() < 5 {
                            result.errors.push(error);
                        }
                    }
                }
            }
            result
        }));
    }
    let mut total = WorkerResult::default();
    for handle in handles {
        let result = handle.await?;
        total.latencies_us.extend(result.latencies_us);
        total.measured_ok += result.measured_ok;
        total.measured_items += result.measured_items;
        total.acked_requests += result.acked_requests;
        total.acked_items += result.acked_items;
        total.failures += result.failures;
        for error in result.errors {
            if total.errors.len() < 10 {
                total.errors.push(error);
            }
        }
        total.last_end = match (total.last_end, result.last_end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let window = total.last_end.map_or(0.0, |end| end.saturating_duration_since(measure_start).as_secs_f64());
    let mut latencies = total.latencies_us;
    latencies.sort_unstable();
    let per_s = |count: u64| if window > 0.0 { count as f64 / window } else { 0.0 };
    let mean_ms =
        if latencies.is_empty() { 0.0 } else { latencies.iter().sum::<u64>() as f64 / latencies.len() as f64 / 1000.0 };
    Ok(json!({
        "scenario": scenario.name(),
        "clients": load.clients,
        "measured_s": round(window, 3),
        "wall_s": round(wall, 3),
        "requests": total.measured_ok,
        "items": total.measured_items,
        "requests_per_s": round(per_s(total.measured_ok), 2),
        "items_per_s": round(per_s(total.measured_items), 1),
        "p50_ms": round(percentile(&latencies, 50.0), 3),
        "p90_ms": round(percentile(&latencies, 90.0), 3),
        "p99_ms": round(percentile(&latencies, 99.0), 3),
        "max_ms": round(latencies.last().copied().unwrap_or(0) as f64 / 1000.0, 3),
        "mean_ms": round(mean_ms, 3),
        "failures": total.failures,
        "errors": total.errors,
        "acked_requests_total": total.acked_requests,
        "acked_items_total": total.acked_items,
        "loadgen_cpu_s": round(cpu, 3),
        "loadgen_cpu_pct": round(if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 }, 1),
        "loadgen_cpu_us_per_request": round(
            if total.acked_requests + total.failures > 0 { 1e6 * cpu / (total.acked_requests + total.failures) as f64 } else { 0.0 }, 1),
        "loadgen_max_rss_kb": max_rss_kb(),
    }))
}

/// Nearest-rank percentile of sorted microsecond latencies, in milliseconds.
fn percentile(sorted_us: &[u64], pct: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// User + system CPU seconds of this whole process (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let ticks_per_s: f64 = std::env::var("LOADGEN_CLK_TCK").ok().and_then(|text| text.parse().ok()).unwrap_or(100.0);
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
    let Some(rest) = stat.rfind(')').map(|index| &stat[index + 1..]) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|text| text.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / ticks_per_s
}

fn max_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1).and_then(|text| text.parse().ok()))
        })
        .unwrap_or(0)
}

// Scenario construction.

fn split_list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

fn log_batch_templates(runs: &[String], batch: u64, keys: u64) -> Result<Vec<Template>> {
    if keys == 0 || !batch.is_multiple_of(keys) {
        bail!("--batch must be a multiple of --keys");
    }
    let steps_per_key = batch / keys;
    Ok(runs
        .iter()
        .map(|run_id| {
            let mut pieces = vec![Piece::Text(format!("{{\"run_id\":{},\"metrics\":[", json!(run_id)))];
            for index in 0..batch {
                let key = index / steps_per_key;
                let within = index % steps_per_key;
                if index > 0 {
                    pieces.push(Piece::Text(",".into()));
                }
                // Values and timestamps are fixed per slot; the step makes each point unique.
                pieces.push(Piece::Text(format!(
                    "{{\"key\":\"m{key}\",\"value\":{},\"timestamp\":{},\"step\":",
                    0.5 + within as f64 / 1000.0,
                    BASE_TIMESTAMP + within as i64
                )));
                pieces.push(Piece::Slot);
                pieces.push(Piece::Text("}".into()));
            }
            pieces.push(Piece::Text("],\"params\":[],\"tags\":[]}".into()));
            Template::build(&pieces)
        })
        .collect())
}

fn log_metric_templates(runs: &[String]) -> Vec<Template> {
    runs.iter()
        .map(|run_id| {
            Template::build(&[
                Piece::Text(format!(
                    "{{\"run_id\":{},\"run_uuid\":{},\"key\":\"single\",\"value\":0.25,\"timestamp\":{BASE_TIMESTAMP},\"step\":",
                    json!(run_id),
                    json!(run_id)
                )),
                Piece::Slot,
                Piece::Text("}".into()),
            ])
        })
        .collect()
}

// Setup.

async fn create_experiment(api: &Api, name: &str) -> Result<String> {
    let response = api.post_json("/experiments/create", &json!({ "name": name })).await?;
    response["experiment_id"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no experiment_id in {response}"))
}

async fn create_run(api: &Api, experiment_id: &str, name: &str, start_time: i64) -> Result<String> {
    let response = api
        .post_json(
            "/runs/create",
            &json!({ "experiment_id": experiment_id, "run_name": name, "start_time": start_time, "tags": [] }),
        )
        .await?;
    response["run"]["info"]["run_id"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no run_id in {response}"))
}

/// A deterministic pseudo-random fraction in [0, 1) for run `index`.
fn fraction(index: u64) -> f64 {
    let mut x = index.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x2545_F491_4F6C_DD1D);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Runs `total` jobs over `clients` workers, each with its own connection.
async fn parallel<F, Fut>(api: &Api, total: u64, clients: usize, job: F) -> Result<()>
where
    F: Fn(Api, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let job = Arc::new(job);
    let counter = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..clients.max(1) {
        let api = Api::new(&api.url, &api.token, Duration::from_secs(600))?;
        let job = job.clone();
        let counter = counter.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let index = counter.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                job(api.clone(), index).await?;
            }
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok(())
}

async fn setup_search(api: &Api, experiment: &str, runs: usize, clients: usize) -> Result<Value> {
    let started = Instant::now();
    let experiment_id = create_experiment(api, experiment).await?;
    let matching = (0..runs as u64).filter(|&index| index % 2 == 0 && fraction(index) > 0.5).count();
    let id = experiment_id.clone();
    parallel(api, runs as u64, clients, move |api, index| {
        let experiment_id = id.clone();
        async move {
            // Runs started a second apart, as a team's runs are: no two share a start time.
            let started = BASE_TIMESTAMP + index as i64 * 1000;
            let run_id = create_run(&api, &experiment_id, &format!("run-{index}"), started).await?;
            let acc = fraction(index);
            let lr = if index % 2 == 0 { "0.01" } else { "0.001" };
            let body = json!({
                "run_id": run_id,
                "metrics": [
                    { "key": "acc", "value": acc, "timestamp": BASE_TIMESTAMP, "step": 0 },
                    { "key": "loss", "value": 1.0 - acc, "timestamp": BASE_TIMESTAMP, "step": 0 },
                ],
                "params": [
                    { "key": "lr", "value": lr },
                    { "key": "optimizer", "value": if index % 3 == 0 { "adam" } else { "sgd" } },
                    { "key": "batch_size", "value": (32 << (index % 4)).to_string() },
                ],
                "tags": [ { "key": "team", "value": format!("team-{}", index % 5) } ],
            });
            api.post_json("/runs/log-batch", &body).await?;
            Ok(())
        }
    })
    .await?;
    Ok(
        json!({ "experiment_id": experiment_id, "runs": runs, "matching": matching, "setup_s": round(started.elapsed().as_secs_f64(), 2) }),
    )
}

async fn setup_history(api: &Api, experiment: &str, points: u64, key: &str, clients: usize) -> Result<Value> {
    let started = Instant::now();
    let experiment_id = create_experiment(api, experiment).await?;
    let run_id = create_run(api, &experiment_id, "history", BASE_TIMESTAMP).await?;
    let batches = points.div_ceil(1000);
    let (run, key_owned) = (run_id.clone(), key.to_owned());
    parallel(api, batches, clients, move |api, batch| {
        let (run_id, key) = (run.clone(), key_owned.clone());
        async move {
            let metrics: Vec<Value> = (batch * 1000..((batch + 1) * 1000).min(points))
                .map(|step| {
                    json!({ "key": key, "value": (step as f64 * 0.37).sin(), "timestamp": BASE_TIMESTAMP + step as i64, "step": step })
                })
                .collect();
            api.post_json("/runs/log-batch", &json!({ "run_id": run_id, "metrics": metrics })).await?;
            Ok(())
        }
    })
    .await?;
    Ok(
        json!({ "experiment_id": experiment_id, "run_id": run_id, "points": points, "setup_s": round(started.elapsed().as_secs_f64(), 2) }),
    )
}

async fn count(api: &Api, runs: &[String], keys: &[String]) -> Result<Value> {
    let mut total = 0;
    let mut per_run = serde_json::Map::new();
    let page_size = CLIENT_HISTORY_PAGE.to_string();
    for run_id in runs {
        let mut run_total = 0;
        for key in keys {
            let (points, _) = fetch_history(api, run_id, key, &page_size)
                .await
                .map_err(|error| anyhow!("{run_id}/{key}: {error}"))?;
            run_total += points;
        }
        per_run.insert(run_id.clone(), json!(run_total));
        total += run_total;
    }
    Ok(json!({ "points": total, "per_run": per_run }))
}

/// A bare axum server answering `{"ok":true}` to every request.
async fn constant_server(url: &str) -> Result<()> {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let listener =
        tokio::net::TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address}"))?;
    let app = axum::Router::new()
        .fallback(|| async { ([(axum::http::header::CONTENT_TYPE, "application/json")], "{\"ok\":true}") });
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.context("the constant server failed")
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let api = Api::new(&cli.url, &cli.token, Duration::from_secs(600))?;
    let report = match cli.command {
        Command::ConstantServer => return constant_server(&cli.url).await,
        Command::Post { path, body_file, headers, load } => {
            let body = std::fs::read(&body_file).with_context(|| format!("cannot read {}", body_file.display()))?;
            let headers = headers
                .iter()
                .map(|header| {
                    header
                        .split_once(':')
                        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                        .with_context(|| format!("--header '{header}': expected NAME:VALUE"))
                })
                .collect::<Result<Vec<_>>>()?;
            run_load(&cli.url, &cli.token, &load, Scenario::Post { path, body: body.into(), headers }).await?
        }
        Command::CreateRuns { experiment, count } => {
            let experiment_id = create_experiment(&api, &experiment).await?;
            let mut run_ids = Vec::new();
            for index in 0..count {
                run_ids.push(create_run(&api, &experiment_id, &format!("{experiment}-{index}"), BASE_TIMESTAMP).await?);
            }
            json!({ "experiment_id": experiment_id, "run_ids": run_ids })
        }
        Command::SetupSearch { experiment, runs, clients } => setup_search(&api, &experiment, runs, clients).await?,
        Command::SetupHistory { experiment, points, key, clients } => {
            setup_history(&api, &experiment, points, &key, clients).await?
        }
        Command::LogBatch { runs, batch, keys, load } => {
            let templates = log_batch_templates(&split_list(&runs), batch, keys)?;
            if templates.is_empty() {
                bail!("--runs is empty");
            }
            run_load(&cli.url, &cli.token, &load, Scenario::LogBatch { templates, steps_per_key: batch / keys }).await?
        }
        Command::LogMetric { runs, load } => {
            let templates = log_metric_templates(&split_list(&runs));
            if templates.is_empty() {
                bail!("--runs is empty");
            }
            run_load(&cli.url, &cli.token, &load, Scenario::LogMetric { templates }).await?
        }
        Command::Search { experiment_id, filter, order_by, max_results, load } => {
            // The body MLflow's client sends (message_to_json of SearchRuns).
            let body = serde_json::to_vec(&json!({
                "experiment_ids": [experiment_id],
                "filter": filter,
                "run_view_type": "ACTIVE_ONLY",
                "max_results": max_results,
                "order_by": [order_by],
            }))?;
            run_load(&cli.url, &cli.token, &load, Scenario::Search { body }).await?
        }
        Command::History { run_id, key, page_size, load } => {
            run_load(&cli.url, &cli.token, &load, Scenario::History { run_id, key, page_size: page_size.to_string() })
                .await?
        }
        Command::Count { runs, keys } => count(&api, &split_list(&runs), &split_list(&keys)).await?,
    };
    println!("{report}");
    Ok(())
}
