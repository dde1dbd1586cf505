//! The fields a command job, a component and a pipeline's steps share, read the same way for
//! each: an input, an output, the environment, `resources` and `distribution`.

use crate::job::{
    ASSET_INPUT_TYPES, INPUT_MODES, JobInput, JobOutput, LITERAL_TYPES, OUTPUT_MODES, OUTPUT_TYPES, RawDistribution,
    RawEnvironment, RawInput, RawOutput, RawResources, positive,
};
use crate::{Scalar, SpecError, check_environment_reference};
use atelier_core::data::DEFAULT_DATASTORE;
use serde_saphyr::Spanned;

/// Reads one input of a job (or a pipeline): a literal, or a typed literal or data input.
pub(crate) fn check_input(field: &str, spanned: &Spanned<RawInput>) -> Result<JobInput, SpecError> {
    let line = spanned.referenced.line();
    Ok(match &spanned.value {
        RawInput::Literal(value) => JobInput::Literal { value: Some(value.text()), optional: false },
        RawInput::Typed(typed) => {
            let optional = typed.optional.unwrap_or(false);
            if LITERAL_TYPES.contains(&typed.kind.as_str()) {
                if typed.path.is_some() || typed.mode.is_some() {
                    return Err(SpecError::new(field, line, format!("a {} input takes no path or mode", typed.kind)));
                }
                JobInput::Literal { value: typed.default.as_ref().map(Scalar::text), optional }
            } else if ASSET_INPUT_TYPES.contains(&typed.kind.as_str()) {
                let mode = typed.mode.clone().unwrap_or_else(|| "ro_mount".to_owned());
                if !INPUT_MODES.contains(&mode.as_str()) {
                    return Err(SpecError::new(
                        field,
                        line,
                        format!("invalid mode '{mode}': expected one of {}", INPUT_MODES.join(", ")),
                    ));
                }
                JobInput::Asset { kind: typed.kind.clone(), path: typed.path.clone(), mode, optional }
            } else {
                let mut types = LITERAL_TYPES.to_vec();
                types.extend(ASSET_INPUT_TYPES);
                return Err(SpecError::new(
                    field,
                    line,
                    format!("invalid input type '{}': expected one of {}", typed.kind, types.join(", ")),
                ));
            }
        }
    })
}

/// Whether an output's `path` names the place the server puts that output anyway, the job's
/// folder on the default datastore, as Azure's files write it:
/// `azureml://datastores/${{default_datastore}}/paths/azureml/${{name}}/${{output_name}}`
/// (`workspaceblobstore` for the datastore also, a trailing `/` or spaces inside `${{ }}` too).
pub(crate) fn is_default_output_path(path: &str) -> bool {
    let compact: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(rest) = compact.strip_prefix("azureml://datastores/") else { return false };
    let Some((datastore, rest)) = rest.split_once("/paths/") else { return false };
    let datastore_is_default = datastore == "${{default_datastore}}" || datastore == DEFAULT_DATASTORE;
    datastore_is_default && rest.trim_end_matches('/') == "azureml/${{name}}/${{output_name}}"
}

/// Reads one output of a job (or a pipeline). A `path` may only name the output's own place on
/// the default datastore ([`is_default_output_path`]), which it is read as.
pub(crate) fn check_output(field: &str, line: u64, output: &RawOutput) -> Result<JobOutput, SpecError> {
    let kind = output.kind.clone().unwrap_or_else(|| "uri_folder".to_owned());
    if !OUTPUT_TYPES.contains(&kind.as_str()) {
        return Err(SpecError::new(
            field,
            line,
            format!("invalid output type '{kind}': expected one of {}", OUTPUT_TYPES.join(", ")),
        ));
    }
    let mode = output.mode.clone().unwrap_or_else(|| "rw_mount".to_owned());
    if !OUTPUT_MODES.contains(&mode.as_str()) {
        return Err(SpecError::new(
            field,
            line,
            format!("invalid mode '{mode}': expected one of {}", OUTPUT_MODES.join(", ")),
        ));
    }
    if output.version.is_some() && output.name.is_none() {
        return Err(SpecError::new(field, line, "a version needs a name to register the output under"));
    }
    let _ = &output.description;
    if let Some(path) = output.path.as_deref().filter(|path| !is_default_output_path(path)) {
        return Err(SpecError::new(
            field,
            line,
            format!(
                "output path '{path}' is not supported: an output is written to its job's folder on the default \
                 datastore; leave the path out, or write it as \
                 azureml://datastores/${{{{default_datastore}}}}/paths/azureml/${{{{name}}}}/${{{{output_name}}}}"
            ),
        ));
    }
    Ok(JobOutput { kind, mode, name: output.name.clone(), version: output.version.as_ref().map(Scalar::text) })
}

/// The environment fields: a reference, or an inline environment's image and conda file.
pub(crate) type EnvironmentFields = (Option<String>, Option<(Option<String>, Option<serde_json::Value>)>);

/// Reads `environment`: a reference (`azureml:name:version`, `azureml:name@latest`) or an
/// inline environment; neither is the built-in environment.
pub(crate) fn environment_of(raw: Option<&Spanned<RawEnvironment>>) -> Result<EnvironmentFields, SpecError> {
    Ok(match raw {
        None => (None, None),
        Some(spanned) => match &spanned.value {
            RawEnvironment::Reference(reference) => {
                check_environment_reference(reference, spanned.referenced.line())?;
                (Some(reference.clone()), None)
            }
            RawEnvironment::Inline(inline) => {
                let _ = (&inline.name, &inline.description);
                (None, Some((inline.image.clone(), inline.conda_file.clone())))
            }
        },
    })
}

/// What `resources` asks for, checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Resources {
    pub instance_count: i64,
    pub instance_type: Option<String>,
    pub cpu: Option<f64>,
    pub memory_gb: Option<f64>,
    pub gpu_count: Option<i64>,
}

/// Reads `resources`; `field_of` names a field as the file writes it (`trial.resources.cpu`).
pub(crate) fn resources_of(
    raw: Option<RawResources>,
    field_of: &dyn Fn(&str) -> String,
) -> Result<Resources, SpecError> {
    let resources = raw.unwrap_or_default();
    let _ = (&resources.properties, &resources.shm_size);
    let instance_count =
        positive(&field_of("resources.instance_count"), resources.instance_count.as_ref())?.unwrap_or(1);
    if let Some(cpu) = &resources.cpu
        && !(cpu.value > 0.0 && cpu.value.is_finite())
    {
        return Err(SpecError::new(field_of("resources.cpu"), cpu.referenced.line(), "must be a number above 0"));
    }
    if let Some(memory) = &resources.memory_gb
        && !(memory.value >= 0.0 && memory.value.is_finite())
    {
        return Err(SpecError::new(
            field_of("resources.memory_gb"),
            memory.referenced.line(),
            "must be a number of at least 0",
        ));
    }
    if let Some(gpus) = &resources.gpu_count
        && gpus.value < 0
    {
        return Err(SpecError::new(
            field_of("resources.gpu_count"),
            gpus.referenced.line(),
            "must be a whole number of at least 0",
        ));
    }
    Ok(Resources {
        instance_count,
        instance_type: resources.instance_type,
        cpu: resources.cpu.map(|cpu| cpu.value),
        memory_gb: resources.memory_gb.map(|memory| memory.value),
        gpu_count: resources.gpu_count.map(|gpus| gpus.value),
    })
}

/// Azure's `tensorflow` distribution: `worker_count` workers (default: one per instance) and
/// `parameter_server_count` parameter servers, each process told the whole cluster and its own
/// task in `TF_CONFIG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TensorflowDistribution {
    #[serde(default)]
    pub worker_count: Option<i64>,
    #[serde(default)]
    pub parameter_server_count: i64,
}

impl TensorflowDistribution {
    /// The workers of a job of `instance_count` instances.
    pub fn workers(&self, instance_count: i64) -> i64 {
        self.worker_count.unwrap_or(instance_count)
    }

    /// Every process: workers, then parameter servers; as many on each instance, so the total
    /// must divide by the instances.
    pub fn processes(&self, instance_count: i64) -> Result<i64, String> {
        let total = self.workers(instance_count) + self.parameter_server_count;
        if total % instance_count.max(1) != 0 {
            return Err(format!(
                "{} workers and {} parameter servers do not spread evenly over {} instances",
                self.workers(instance_count),
                self.parameter_server_count,
                instance_count
            ));
        }
        Ok(total)
    }
}

/// A job's `distribution`, as the spec keeps it: processes per instance (`pytorch` or `mpi`), or
/// a `tensorflow` cluster; all empty when not distributed.
#[derive(Debug, Default)]
pub(crate) struct Distribution {
    pub(crate) process_count_per_instance: Option<i64>,
    pub(crate) tensorflow: Option<TensorflowDistribution>,
    /// `mpi`: the processes are started by the MPI's own launcher (`mpirun`).
    pub(crate) mpi: bool,
}

/// Reads `distribution`.
pub(crate) fn distribution_of(
    raw: Option<&Spanned<RawDistribution>>,
    field_of: &dyn Fn(&str) -> String,
) -> Result<Distribution, SpecError> {
    let Some(spanned) = raw else { return Ok(Distribution::default()) };
    let line = spanned.referenced.line();
    let raw = &spanned.value;
    let not_of = |field: &str, kind: &str| {
        SpecError::new(field_of(&format!("distribution.{field}")), line, format!("{field} is not a field of {kind}"))
    };
    match raw.kind.as_str() {
        kind @ ("pytorch" | "mpi") => {
            if raw.worker_count.is_some() {
                return Err(not_of("worker_count", kind));
            }
            if raw.parameter_server_count.is_some() {
                return Err(not_of("parameter_server_count", kind));
            }
            let count = match (kind, raw.process_count_per_instance) {
                // As in Azure: an MPI job says how many processes each instance runs.
                ("mpi", None) => {
                    return Err(SpecError::new(
                        field_of("distribution.process_count_per_instance"),
                        line,
                        "an mpi distribution needs process_count_per_instance (processes on each instance)",
                    ));
                }
                (_, count) => count.unwrap_or(1),
            };
            if count < 1 {
                return Err(SpecError::new(
                    field_of("distribution.process_count_per_instance"),
                    line,
                    "must be at least 1",
                ));
            }
            Ok(Distribution { process_count_per_instance: Some(count), tensorflow: None, mpi: kind == "mpi" })
        }
        "tensorflow" => {
            if raw.process_count_per_instance.is_some() {
                return Err(not_of("process_count_per_instance", "tensorflow (it takes worker_count)"));
            }
            if raw.worker_count.is_some_and(|count| count < 1) {
                return Err(SpecError::new(field_of("distribution.worker_count"), line, "must be at least 1"));
            }
            if raw.parameter_server_count.is_some_and(|count| count < 0) {
                return Err(SpecError::new(
                    field_of("distribution.parameter_server_count"),
                    line,
                    "must be at least 0",
                ));
            }
            let tensorflow = TensorflowDistribution {
                worker_count: raw.worker_count,
                parameter_server_count: raw.parameter_server_count.unwrap_or(0),
            };
            Ok(Distribution { process_count_per_instance: None, tensorflow: Some(tensorflow), mpi: false })
        }
        other => Err(SpecError::new(
            field_of("distribution.type"),
            line,
            format!("distribution '{other}' is not supported: expected pytorch, mpi or tensorflow"),
        )),
    }
}
