//! Slurm through `slurmrestd`, for a server that is not a submit host: the same batch jobs as
//! with the command-line tools, submitted, surveyed and canceled over Slurm's REST API
//! (OpenAPI `v0.0.38`, Slurm 22.05's) as the compute's `user_name`, with the JWT read from its
//! `token_file` at each call. The token is sent in a header and never written anywhere else.

use crate::slurm::{ClusterJob, ClusterRequest};
use atelier_core::{Error, Result};
use atelier_spec::compute::SlurmRest;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const API: &str = "slurm/v0.0.38";
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// One compute's slurmrestd.
pub struct RestSlurm<'a> {
    pub http: &'a reqwest::Client,
    pub rest: &'a SlurmRest,
}

/// What slurmrestd's `errors` list says, one message.
fn errors_of(answer: &Value) -> Option<String> {
    let errors: Vec<String> = answer
        .get("errors")
        .and_then(Value::as_array)?
        .iter()
        .map(|error| {
            let text = error.get("error").and_then(Value::as_str).unwrap_or_default();
            let description = error.get("description").and_then(Value::as_str).unwrap_or_default();
            [text, description].into_iter().filter(|part| !part.is_empty()).collect::<Vec<_>>().join(": ")
        })
        .filter(|message| !message.is_empty())
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

impl RestSlurm<'_> {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let token = std::fs::read_to_string(&self.rest.token_file).map_err(|error| {
            Error::invalid(format!("cannot read slurmrestd.token_file {}: {error}", self.rest.token_file))
        })?;
        // `scontrol token` prints `SLURM_JWT=<token>`; either form will do.
        let token = token.trim();
        let token = token.strip_prefix("SLURM_JWT=").unwrap_or(token);
        let mut request = self
            .http
            .request(method, format!("{}/{API}/{path}", self.rest.url))
            .header("X-SLURM-USER-NAME", &self.rest.user_name)
            .header("X-SLURM-USER-TOKEN", token)
            .timeout(CALL_TIMEOUT);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| Error::invalid(format!("slurmrestd at {} does not answer: {error}", self.rest.url)))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if matches!(status.as_u16(), 401 | 403) {
            return Err(Error::invalid(format!(
                "slurmrestd at {} refused user '{}' with the token in {} (HTTP {}): is it current \
                 (scontrol token username={})?",
                self.rest.url,
                self.rest.user_name,
                self.rest.token_file,
                status.as_u16(),
                self.rest.user_name
            )));
        }
        if !status.is_success() {
            let said = errors_of(&answer).unwrap_or_else(|| text.chars().take(300).collect());
            return Err(Error::invalid(format!(
                "slurmrestd at {} answered HTTP {}: {said} (a token it cannot read also ends so)",
                self.rest.url,
                status.as_u16()
            )));
        }
        match errors_of(&answer) {
            Some(said) => Err(Error::invalid(format!("slurmrestd: {said}"))),
            None => Ok(answer),
        }
    }

    /// The cluster's partitions.
    pub async fn partitions(&self) -> Result<Vec<String>> {
        let answer = self.call(reqwest::Method::GET, "partitions", None).await?;
        Ok(answer
            .get("partitions")
            .and_then(Value::as_array)
            .map(|partitions| {
                partitions
                    .iter()
                    .filter_map(|partition| partition.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Submits `script` for `request`, working in `dir`; the job's id.
    pub async fn submit(&self, request: &ClusterRequest, dir: &Path, script: &str) -> Result<i64> {
        let answer = self.call(reqwest::Method::POST, "job/submit", Some(submission(request, dir, script))).await?;
        answer
            .get("job_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| Error::internal(format!("slurmrestd answered {answer}, not a job id")))
    }

    /// What Slurm says of these jobs: one call for all of its jobs, kept to these.
    pub async fn survey(&self, ids: &[i64]) -> Result<HashMap<i64, ClusterJob>> {
        let answer = self.call(reqwest::Method::GET, "jobs", None).await?;
        Ok(answer
            .get("jobs")
            .and_then(Value::as_array)
            .map(|jobs| jobs.iter().filter_map(read_job).filter(|(id, _)| ids.contains(id)).collect())
            .unwrap_or_default())
    }

    pub async fn cancel(&self, id: i64) -> Result<()> {
        self.call(reqwest::Method::DELETE, &format!("job/{id}"), None).await.map(drop)
    }
}

/// The body of `job/submit`: the batch script and the request, as `sbatch`'s options map.
fn submission(request: &ClusterRequest, dir: &Path, script: &str) -> Value {
    let mut job = Map::new();
    let mut set = |key: &str, value: Value| {
        job.insert(key.to_owned(), value);
    };
    set("name", json!(request.job));
    set("comment", json!(format!("atelier:{}/{}", request.workspace, request.job)));
    set("partition", json!(request.partition));
    set("nodes", json!([request.nodes, request.nodes]));
    set("tasks_per_node", json!(request.tasks_per_node));
    set("tasks", json!(request.nodes * request.tasks_per_node));
    set("cpus_per_task", json!(request.cpus_per_task));
    set("nice", json!(request.nice));
    set("current_working_directory", json!(dir.display().to_string()));
    set("standard_output", json!(dir.join("slurm.out").display().to_string()));
    // As `sbatch --no-requeue`: a node failure ends the job rather than running it twice.
    set("requeue", json!(false));
    // As sbatch exports its own: the inheritable variables only (required by v0.0.38).
    let environment: Map<String, Value> = std::env::vars()
        .filter(|(key, _)| atelier_service::inheritable_variable(key))
        .map(|(key, value)| (key, Value::String(value)))
        .collect();
    set("environment", Value::Object(environment));
    if let Some(account) = &request.account {
        set("account", json!(account));
    }
    if let Some(qos) = &request.qos {
        set("qos", json!(qos));
    }
    if let Some(memory) = request.memory_mb {
        set("memory_per_node", json!(memory));
    }
    if request.gpus > 0 {
        set("gres", json!(format!("gpu:{}", request.gpus)));
    }
    if let Some(minutes) = request.time_minutes {
        set("time_limit", json!(minutes));
    }
    json!({"script": script, "job": job})
}

/// A job of `GET jobs`: its id and state, reason and nodes as `squeue` shows them.
fn read_job(job: &Value) -> Option<(i64, ClusterJob)> {
    let id = job.get("job_id")?.as_i64()?;
    let text = |key: &str| job.get(key).and_then(Value::as_str).map(str::to_owned).filter(|text| !text.is_empty());
    let state = text("job_state")?;
    Some((id, ClusterJob { state, reason: text("state_reason"), nodes: text("nodes") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_maps_to_the_submission_body() {
        let request = ClusterRequest {
            job: "train_1".to_owned(),
            workspace: "vision".to_owned(),
            partition: "gpu".to_owned(),
            account: None,
            qos: Some("high".to_owned()),
            nodes: 2,
            tasks_per_node: 3,
            cpus_per_task: 4,
            memory_mb: Some(2048),
            gpus: 1,
            time_minutes: Some(90),
            nice: 100,
        };
        let body = submission(&request, Path::new("/jobs/train_1"), "#!/bin/sh\n");
        let job = &body["job"];
        assert_eq!(body["script"], "#!/bin/sh\n");
        assert_eq!((job["nodes"].clone(), job["tasks"].clone()), (json!([2, 2]), json!(6)));
        assert_eq!((job["gres"].as_str(), job["time_limit"].as_i64()), (Some("gpu:1"), Some(90)));
        assert_eq!(job["comment"], "atelier:vision/train_1");
        assert_eq!(job["requeue"], false);
        assert_eq!(job["standard_output"], "/jobs/train_1/slurm.out");
        assert!(job.get("account").is_none() && job["qos"] == "high" && job["environment"].is_object());
    }

    #[test]
    fn jobs_and_errors_read_as_squeue_would_show_them() {
        let jobs = json!({"jobs": [
            {"job_id": 7, "job_state": "PENDING", "state_reason": "Resources", "nodes": ""},
            {"job_id": 8, "job_state": "RUNNING", "state_reason": "None", "nodes": "n1"},
        ]});
        let read: HashMap<i64, ClusterJob> = jobs["jobs"].as_array().unwrap().iter().filter_map(read_job).collect();
        assert_eq!(read[&7].describe(), "PENDING (Resources)");
        assert_eq!(read[&8].describe(), "RUNNING on n1");
        let refused = json!({"errors": [{"error": "Invalid partition name specified", "error_number": 2000}]});
        assert_eq!(errors_of(&refused).as_deref(), Some("Invalid partition name specified"));
        assert_eq!(errors_of(&json!({"errors": []})), None);
    }
}
