//! Rollouts: a deployment's supervisor, and a new generation's files, environment and workers
//! started beside the old ones, swapped in only when all are ready.

use crate::pool::{ServingSet, drain};
use crate::*;
use atelier_core::endpoint::{Deployment, ProvisioningState};
use atelier_service::Service;
use atelier_spec::endpoint::{DataCollection, DeploymentPlan, RequestSettings, Serving as ServingKind};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};
use tokio::sync::{Notify, oneshot, watch};
use worker::{Instance, Launch, Supervision};

impl Serving {
    pub(crate) fn start_pool(self: &Arc<Self>, deployment: &Deployment) -> atelier_core::Result<Arc<Pool>> {
        let dir = self.root.join(&deployment.endpoint).join(&deployment.name);
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)
            .map_err(|error| atelier_core::Error::internal(format!("cannot create {}: {error}", logs.display())))?;
        let (desired, receiver) = watch::channel(None);
        let pool = Arc::new(Pool {
            endpoint: deployment.endpoint.clone(),
            name: deployment.name.clone(),
            dir,
            serving: RwLock::new(ServingSet::new(Vec::new())),
            settings: RwLock::new(RequestSettings::default()),
            collection: RwLock::new(DataCollection::default()),
            cursor: AtomicUsize::new(0),
            wake: Arc::new(Notify::new()),
            metrics: Arc::new(Metrics::default()),
            worker_log: LogFile::open(logs.join("inference-server.log")),
            setup_log: LogFile::open(logs.join("storage-initializer.log")),
            request_log: LogFile::open(logs.join("requests.log")),
            desired,
        });
        tokio::spawn(self.clone().supervise(pool.clone(), receiver));
        Ok(pool)
    }

    /// Rolls out each new generation of a deployment, and stops it when it is deleted.
    pub(crate) async fn supervise(self: Arc<Self>, pool: Arc<Pool>, mut desired: watch::Receiver<Option<Deployment>>) {
        let mut current_generation = 0;
        loop {
            let wanted = desired.borrow_and_update().clone();
            let Some(deployment) = wanted else { break };
            if deployment.generation != current_generation {
                current_generation = deployment.generation;
                self.roll_out(&pool, &deployment).await;
            }
            if desired.changed().await.is_err() {
                break;
            }
        }
        // Deleted: drain and stop what serves, then remove the files.
        let old = pool.replace_set(Vec::new());
        drain(old, pool.request_settings()).await;
        // The files go unless a deployment of the same name was created meanwhile.
        let pools = self.pools.lock().await;
        if !pools.contains_key(&(pool.endpoint.clone(), pool.name.clone())) {
            let _ = std::fs::remove_dir_all(&pool.dir);
        }
    }

    pub(crate) async fn roll_out(&self, pool: &Arc<Pool>, deployment: &Deployment) {
        let generation = deployment.generation;
        let state = match self.start_generation(pool, deployment).await {
            Ok((instances, settings)) => {
                if let Ok(mut current) = pool.settings.write() {
                    *current = settings;
                }
                if let Ok(plan) = Service::deployment_plan(deployment)
                    && let Ok(mut current) = pool.collection.write()
                {
                    *current = plan.data_collection;
                }
                let old = pool.replace_set(instances);
                pool.worker_log.line(&format!("generation {generation} serves"));
                let old_settings = settings;
                let dir = pool.dir.clone();
                tokio::spawn(async move {
                    let generations: HashSet<i64> = old.iter().map(|instance| instance.generation).collect();
                    drain(old, old_settings).await;
                    for old_generation in generations.into_iter().filter(|old| *old != generation) {
                        let _ = std::fs::remove_dir_all(dir.join(format!("g{old_generation}")));
                    }
                });
                Ok(())
            }
            Err(message) => {
                pool.worker_log.line(&format!("generation {generation} failed: {message}"));
                Err(message)
            }
        };
        let (state, error) = match &state {
            Ok(()) => (ProvisioningState::Succeeded, None),
            Err(message) => (ProvisioningState::Failed, Some(message.as_str())),
        };
        if let Err(error) = self.service.record_rollout(&pool.endpoint, &pool.name, generation, state, error).await {
            tracing::warn!(%error, endpoint = %pool.endpoint, deployment = %pool.name, "recording a rollout failed");
        }
    }

    /// Prepares a generation's files and environment and starts its instances; returns them
    /// once every one is ready.
    pub(crate) async fn start_generation(
        &self,
        pool: &Arc<Pool>,
        deployment: &Deployment,
    ) -> Result<(Vec<Arc<Instance>>, RequestSettings), String> {
        let generation = deployment.generation;
        let log = &pool.setup_log;
        let plan = Service::deployment_plan(deployment).map_err(|error| error.message)?;
        let gen_dir = pool.dir.join(format!("g{generation}"));
        let model_dir = gen_dir.join("model");
        let code_dir = gen_dir.join("code");
        let _ = std::fs::remove_dir_all(&gen_dir);
        for dir in [&model_dir, &code_dir] {
            std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        }
        log.line(&format!("generation {generation}: fetching the model and the code"));
        self.service
            .fetch_deployment_files(deployment, &plan, &model_dir, &code_dir)
            .await
            .map_err(|error| format!("fetching the model and code failed: {}", error.message))?;
        if plan.serving == ServingKind::Onnx {
            return self.start_onnx(pool, &plan, generation, &model_dir).await;
        }
        let python = self.python_for(&plan, log).await?;
        let launch = self.launch_for(&plan, python, &model_dir, &code_dir)?;
        log.line(&format!("generation {generation}: starting {} instance(s)", plan.instance_count));
        let mut instances = Vec::new();
        let mut firsts = Vec::new();
        for index in 0..plan.instance_count.max(1) as usize {
            let socket = self.sockets.path().join(format!("{}.sock", uuid::Uuid::new_v4().simple()));
            let instance = Instance::new(index, generation, socket, &plan.request_settings);
            let mut launch = launch.clone();
            launch.args.extend(["--socket".to_owned(), instance.socket_path().display().to_string()]);
            if let Some(confinement) = self.service.confinement() {
                // The worker sees its own generation's files, its socket's folder, the scoring
                // host and the built environments; not the server's home nor other processes.
                let mut read_only = vec![self.host_dir()];
                if let Some(builder) = self.service.environment_builder() {
                    read_only.push(builder.root().to_path_buf());
                }
                read_only.extend(atelier_service::Confinement::interpreter_folders(&launch.program));
                let exposure = atelier_service::Exposure {
                    read_write: vec![gen_dir.clone(), self.sockets.path().to_path_buf()],
                    read_only,
                    read_write_on_node: Vec::new(),
                    home: None,
                };
                let (program, args) = confinement.wrap(&launch.program, &launch.args, &exposure);
                launch.program = program;
                launch.args = args;
            }
            let (first, ready) = oneshot::channel();
            let supervision = Supervision {
                launch,
                readiness: plan.readiness_probe,
                liveness: plan.liveness_probe,
                log: pool.worker_log.clone(),
                metrics: pool.metrics.clone(),
                wake: pool.wake.clone(),
            };
            tokio::spawn(worker::supervise(instance.clone(), supervision, first));
            instances.push(instance);
            firsts.push(ready);
        }
        let mut failure = None;
        for ready in firsts {
            match ready.await {
                Ok(Ok(())) => {}
                Ok(Err(message)) => {
                    failure.get_or_insert(message);
                }
                Err(_) => {
                    failure.get_or_insert_with(|| "the worker's supervisor ended".to_owned());
                }
            }
        }
        if let Some(message) = failure {
            for instance in &instances {
                instance.stop();
            }
            return Err(message);
        }
        Ok((instances, plan.request_settings))
    }

    /// Loads an ONNX model once and serves it from `instance_count` in-process instances.
    #[cfg(feature = "onnx")]
    pub(crate) async fn start_onnx(
        &self,
        pool: &Arc<Pool>,
        plan: &DeploymentPlan,
        generation: i64,
        model_dir: &Path,
    ) -> Result<(Vec<Arc<Instance>>, RequestSettings), String> {
        let path = onnx::find_onnx(model_dir)?;
        pool.setup_log.line(&format!("generation {generation}: loading {}", path.display()));
        let model = tokio::task::spawn_blocking(move || onnx::OnnxModel::load(&path))
            .await
            .map_err(|error| format!("loading the ONNX model failed: {error}"))??;
        let model = Arc::new(model);
        pool.worker_log.line(&format!("generation {generation}: ONNX model loaded; serving in process"));
        let instances = (0..plan.instance_count.max(1) as usize)
            .map(|index| {
                let model = model.clone();
                let score: worker::InProcess = Arc::new(move |body: &[u8]| model.score(body));
                Instance::in_process(index, generation, &plan.request_settings, score, &pool.metrics)
            })
            .collect();
        Ok((instances, plan.request_settings))
    }

    #[cfg(not(feature = "onnx"))]
    pub(crate) async fn start_onnx(
        &self,
        _pool: &Arc<Pool>,
        _plan: &DeploymentPlan,
        _generation: i64,
        _model_dir: &Path,
    ) -> Result<(Vec<Arc<Instance>>, RequestSettings), String> {
        Err("this server was built without ONNX support (the cargo feature 'onnx')".to_owned())
    }

    /// The Python an instance runs: the machine's for the built-in environment, else the built
    /// environment's.
    pub(crate) async fn python_for(&self, plan: &DeploymentPlan, log: &LogFile) -> Result<PathBuf, String> {
        if plan.environment.builtin {
            // Resolved past any shim, which may lie in a folder a confined worker cannot see.
            let python = self.service.confinement().and_then(|confinement| confinement.python.clone());
            return Ok(python.unwrap_or_else(|| PathBuf::from("python3")));
        }
        let builder = self.service.environment_builder().ok_or("this server does not build environments")?;
        let spec = atelier_core::environment::EnvironmentSpec {
            python: plan.environment.python.clone(),
            requirements: plan.environment.requirements.clone(),
            image: plan.environment.image.clone(),
            ..Default::default()
        };
        log.line(&format!("building environment {}", plan.environment.name));
        let build = builder.build(&spec).await.map_err(|error| {
            log.line(&format!("environment {} failed: {}", plan.environment.name, error.message));
            format!("environment {} failed to build: {}", plan.environment.name, error.message)
        })?;
        if let Some(text) = &build.log {
            log.raw(text);
        }
        let python = build.python.ok_or("the environment has no Python")?;
        log.line(&format!("environment {} ready at {}", plan.environment.name, python.display()));
        Ok(python)
    }

    pub(crate) fn launch_for(
        &self,
        plan: &DeploymentPlan,
        python: PathBuf,
        model_dir: &Path,
        code_dir: &Path,
    ) -> Result<Launch, String> {
        let mut env: Vec<(String, String)> =
            std::env::vars().filter(|(key, _)| atelier_service::inheritable_variable(key)).collect();
        env.extend(plan.environment_variables.iter().map(|(key, value)| (key.clone(), value.clone())));
        env.push(("AZUREML_MODEL_DIR".to_owned(), model_dir.display().to_string()));
        env.push(("PYTHONUNBUFFERED".to_owned(), "1".to_owned()));
        let mut args = vec![self.host.display().to_string()];
        match plan.serving {
            ServingKind::Script => {
                let script = plan.scoring_script.as_deref().ok_or("the deployment has no scoring script")?;
                let script = atelier_core::limits::normalize_artifact_path(script).map_err(|error| error.message)?;
                let path = code_dir.join(&script);
                env.push(("AZUREML_ENTRY_SCRIPT".to_owned(), path.display().to_string()));
                env.push(("AML_APP_ROOT".to_owned(), code_dir.display().to_string()));
                args.extend([
                    "--script".to_owned(),
                    path.display().to_string(),
                    "--app-root".to_owned(),
                    code_dir.display().to_string(),
                ]);
            }
            ServingKind::Mlflow => {
                let mlmodel = find_mlmodel(model_dir).ok_or("the model has no MLmodel file")?;
                args.extend(["--mlflow-model".to_owned(), mlmodel.display().to_string()]);
            }
            ServingKind::Onnx => return Err("ONNX deployments are not served by the scoring host".to_owned()),
        }
        Ok(Launch { program: python, args, env, cwd: code_dir.to_path_buf() })
    }
}

/// The folder holding `MLmodel` under a model folder (the model itself, or one level down).
pub(crate) fn find_mlmodel(model_dir: &Path) -> Option<PathBuf> {
    if model_dir.join("MLmodel").is_file() {
        return Some(model_dir.to_path_buf());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(model_dir).ok()?.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    entries.into_iter().find(|path| path.join("MLmodel").is_file())
}
