"""Jobs: command jobs (and the ``Command`` nodes pipelines are made of), sweeps and pipelines,
written as Azure ML's job YAML, which the server reads with the same parser as a file."""

from __future__ import annotations

import copy
from typing import Any, Dict, Optional, Union

from ._assets import Environment
from ._base import Resource, drop_none
from ._io import Input, Output, input_from_yaml, input_to_yaml


class JobResourceConfiguration:
    """``resources``: how many nodes, and what each holds (``instance_type``, or Atelier's
    ``cpus``/``memory_gb``/``gpus`` in ``properties``)."""

    def __init__(self, *, instance_count: Optional[int] = None, instance_type: Optional[str] = None,
                 properties: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.properties = properties
        self.extra = kwargs

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"instance_count": self.instance_count, "instance_type": self.instance_type,
                          "properties": self.properties, **self.extra})


class CommandJobLimits:
    def __init__(self, *, timeout: Optional[int] = None) -> None:
        self.timeout = timeout

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"timeout": self.timeout})


class PyTorchDistribution:
    def __init__(self, *, process_count_per_instance: Optional[int] = None) -> None:
        self.process_count_per_instance = process_count_per_instance

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"type": "pytorch", "process_count_per_instance": self.process_count_per_instance})


class MpiDistribution:
    def __init__(self, *, process_count_per_instance: Optional[int] = None) -> None:
        self.process_count_per_instance = process_count_per_instance

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"type": "mpi", "process_count_per_instance": self.process_count_per_instance})


class TensorFlowDistribution:
    def __init__(self, *, worker_count: Optional[int] = None, parameter_server_count: Optional[int] = None) -> None:
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"type": "tensorflow", "worker_count": self.worker_count,
                          "parameter_server_count": self.parameter_server_count})


def _as_dict(value: Any) -> Any:
    return value._to_dict() if hasattr(value, "_to_dict") else value


def environment_to_yaml(environment: Any) -> Any:
    """A job's, component's or deployment's ``environment``: a reference, or inline."""
    if environment is None:
        return None
    if isinstance(environment, Environment):
        if environment.name and environment.version and environment._rest:
            return f"azureml:{environment.name}:{environment.version}"
        return environment._inline()
    if isinstance(environment, dict):
        return environment
    text = str(environment)
    return text if text.startswith("azureml:") else f"azureml:{text}"


class Job(Resource):
    """What every job has; a job read from the server also has its ``status``, ``studio_url``
    and every field the server answered."""

    type = ""

    def __init__(self, *, name: Optional[str] = None, display_name: Optional[str] = None,
                 experiment_name: Optional[str] = None, compute: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.display_name = display_name
        self.experiment_name = experiment_name
        self.compute = compute

    @property
    def status(self) -> Optional[str]:
        return self._rest.get("status")

    @property
    def studio_url(self) -> Optional[str]:
        """The job's page in the studio (set on jobs the server answered with)."""
        return self._rest.get("studio_url")

    def _common(self) -> Dict[str, Any]:
        return {"type": self.type, "name": self.name, "display_name": self.display_name,
                "experiment_name": self.experiment_name, "description": self.description, "tags": self.tags,
                "compute": self.compute}


class NodeOutput:
    """``step.outputs.<name>`` inside a pipeline: what a later step's input binds to."""

    def __init__(self, node: "Command", name: str) -> None:
        self._node, self._name = node, name

    def _binding(self) -> str:
        return f"${{{{parent.jobs.{self._node._node_name()}.outputs.{self._name}}}}}"


class _Outputs(dict):
    """A command's outputs; in a pipeline, ``step.outputs.model`` names one for the next step."""

    def __init__(self, node: "Command", outputs: Dict[str, Any]) -> None:
        super().__init__(outputs)
        self._node = node

    def __getattr__(self, name: str) -> NodeOutput:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self:
            self[name] = Output()
        return NodeOutput(self._node, name)


class CommandJob(Job):
    """A command job: a command run in an environment with its code, inputs and outputs. Made by
    :func:`atelier.command`, or loaded with :func:`atelier.load_job`. Called with inputs
    (``job(lr=0.1)``) it gives a copy with those inputs bound: in a pipeline, a step."""

    type = "command"

    def __init__(self, *, command: Optional[str] = None, code: Optional[str] = None, environment: Any = None,
                 inputs: Optional[Dict[str, Any]] = None, outputs: Optional[Dict[str, Any]] = None,
                 environment_variables: Optional[Dict[str, str]] = None, distribution: Any = None,
                 resources: Any = None, limits: Any = None, queue_settings: Optional[Dict[str, Any]] = None,
                 is_deterministic: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.command = command
        self.code = None if code is None else str(code)
        self.environment = environment
        self.inputs: Dict[str, Any] = dict(inputs or {})
        self.outputs: Dict[str, Any] = _Outputs(self, outputs or {})
        self.environment_variables = dict(environment_variables or {})
        self.distribution = distribution
        self.resources = resources
        self.limits = limits
        self.queue_settings = queue_settings
        self.is_deterministic = is_deterministic
        self._step_name: Optional[str] = None

    def _node_name(self) -> str:
        if self._step_name is None:
            raise ValueError("this command's outputs are bound only inside a @dsl.pipeline function")
        return self._step_name

    def _body(self) -> Dict[str, Any]:
        """What a command job and a pipeline's inline step share."""
        return drop_none({
            "code": self.code, "command": self.command, "environment": environment_to_yaml(self.environment),
            "inputs": {name: input_to_yaml(value) for name, value in self.inputs.items()},
            "outputs": {name: None if value is None else _as_dict(value) for name, value in self.outputs.items()},
            "environment_variables": self.environment_variables, "distribution": _as_dict(self.distribution),
            "resources": _as_dict(self.resources), "limits": _as_dict(self.limits),
            "queue_settings": self.queue_settings,
        })

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({**self._common(), **self._body(), **self._extra})

    def __call__(self, **inputs: Any) -> "CommandJob":
        node = copy.copy(self)
        node.inputs = {**self.inputs, **inputs}
        node.outputs = _Outputs(node, {name: copy.copy(value) for name, value in self.outputs.items()})
        node.environment_variables = dict(self.environment_variables)
        node._step_name = None
        from ..dsl import _register_node
        _register_node(node)
        return node

    def set_resources(self, *, instance_count: Optional[int] = None, instance_type: Optional[str] = None,
                      **kwargs: Any) -> None:
        self.resources = JobResourceConfiguration(instance_count=instance_count, instance_type=instance_type,
                                                  **kwargs)

    def set_limits(self, *, timeout: Optional[int] = None) -> None:
        self.limits = CommandJobLimits(timeout=timeout)

    def sweep(self, *, primary_metric: str, goal: str, sampling_algorithm: Any = "random",
              compute: Optional[str] = None, early_termination_policy: Any = None,
              max_total_trials: Optional[int] = None, max_concurrent_trials: Optional[int] = None,
              timeout: Optional[int] = None, trial_timeout: Optional[int] = None,
              search_space: Optional[Dict[str, Any]] = None) -> "SweepJob":
        """A sweep over the inputs bound to search-space expressions (``atelier.sweep``)."""
        from ..sweep import SweepDistribution
        space = {name: value for name, value in self.inputs.items() if isinstance(value, SweepDistribution)}
        space.update(search_space or {})
        if not space:
            raise ValueError("bind at least one input to a search-space expression (atelier.sweep) before .sweep()")
        command = self.command or ""
        for name in space:
            command = command.replace(f"${{{{inputs.{name}}}}}", f"${{{{search_space.{name}}}}}")
        fixed = copy.copy(self)
        fixed.inputs = {name: value for name, value in self.inputs.items() if name not in space}
        trial = {key: value for key, value in fixed._body().items() if key in
                 ("code", "command", "environment", "environment_variables", "distribution", "resources")}
        trial["command"] = command
        sweep = SweepJob(
            name=self.name, display_name=self.display_name, experiment_name=self.experiment_name,
            description=self.description, tags=self.tags, compute=compute or self.compute, trial=trial,
            inputs={name: value for name, value in self.inputs.items() if name not in space},
            outputs=dict(self.outputs), search_space=space, sampling_algorithm=sampling_algorithm,
            objective={"goal": goal.lower(), "primary_metric": primary_metric},
            early_termination=early_termination_policy, base_path=self.base_path)
        sweep.set_limits(max_total_trials=max_total_trials, max_concurrent_trials=max_concurrent_trials,
                         timeout=timeout, trial_timeout=trial_timeout)
        return sweep

    @classmethod
    def _from_yaml(cls, document: Dict[str, Any], base_path: Any = ".") -> "CommandJob":
        document = dict(document)
        document.pop("$schema", None)
        document.pop("type", None)
        known = {key: document.pop(key, None) for key in (
            "name", "display_name", "experiment_name", "compute", "description", "tags", "command", "code",
            "environment", "environment_variables", "distribution", "resources", "limits", "queue_settings")}
        inputs = {name: input_from_yaml(value) for name, value in (document.pop("inputs", None) or {}).items()}
        outputs = {name: Output._from_dict(value) for name, value in (document.pop("outputs", None) or {}).items()}
        return cls(inputs=inputs, outputs=outputs, base_path=base_path, **known, **document)


Command = CommandJob


class SweepJob(Job):
    """A hyperparameter sweep: trials of one command, with values drawn from ``search_space``."""

    type = "sweep"

    def __init__(self, *, trial: Optional[Dict[str, Any]] = None, inputs: Optional[Dict[str, Any]] = None,
                 outputs: Optional[Dict[str, Any]] = None, search_space: Optional[Dict[str, Any]] = None,
                 sampling_algorithm: Any = "random", objective: Optional[Dict[str, Any]] = None,
                 limits: Optional[Dict[str, Any]] = None, early_termination: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trial = dict(trial or {})
        self.inputs = dict(inputs or {})
        self.outputs = dict(outputs or {})
        self.search_space = dict(search_space or {})
        self.sampling_algorithm = sampling_algorithm
        self.objective = objective
        self.limits = dict(limits or {})
        self.early_termination = early_termination

    def set_limits(self, *, max_total_trials: Optional[int] = None, max_concurrent_trials: Optional[int] = None,
                   timeout: Optional[int] = None, trial_timeout: Optional[int] = None) -> None:
        self.limits.update(drop_none({"max_total_trials": max_total_trials,
                                      "max_concurrent_trials": max_concurrent_trials,
                                      "timeout": timeout, "trial_timeout": trial_timeout}))

    def set_objective(self, *, goal: str, primary_metric: str) -> None:
        self.objective = {"goal": goal.lower(), "primary_metric": primary_metric}

    def _to_dict(self) -> Dict[str, Any]:
        space = {name: value._search_space() if hasattr(value, "_search_space") else value
                 for name, value in self.search_space.items()}
        return drop_none({
            **self._common(), "trial": self.trial,
            "inputs": {name: input_to_yaml(value) for name, value in self.inputs.items()},
            "outputs": {name: None if value is None else _as_dict(value) for name, value in self.outputs.items()},
            "search_space": space, "sampling_algorithm": _as_dict(self.sampling_algorithm),
            "objective": self.objective, "limits": self.limits,
            "early_termination": _as_dict(self.early_termination), **self._extra,
        })

    @classmethod
    def _from_yaml(cls, document: Dict[str, Any], base_path: Any = ".") -> "SweepJob":
        document = dict(document)
        document.pop("$schema", None)
        document.pop("type", None)
        return cls(base_path=base_path, **document)


class PipelineJob(Job):
    """A pipeline: steps (``jobs``) whose inputs bind to the pipeline's inputs and to earlier
    steps' outputs. Made by a :func:`atelier.dsl.pipeline` function, or loaded from a file."""

    type = "pipeline"

    def __init__(self, *, jobs: Optional[Dict[str, Any]] = None, inputs: Optional[Dict[str, Any]] = None,
                 outputs: Optional[Dict[str, Any]] = None, settings: Optional[Dict[str, Any]] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs: Dict[str, Any] = dict(jobs or {})
        self.inputs = dict(inputs or {})
        self.outputs = dict(outputs or {})
        self.settings = dict(settings or {})

    def _step(self, step: Any) -> Any:
        if isinstance(step, CommandJob):
            body = step._body()
            body["type"] = "command"
            if step.compute:
                body["compute"] = step.compute
            component_file = getattr(step, "_component_file", None)
            if step._rest and getattr(step, "version", None):
                # A registered component version.
                component_file = f"azureml:{step.name}:{step.version}"
            if component_file is not None:
                # A step from a component file: the server reads that file, as a CLI user's.
                body = drop_none({"type": "command", "component": component_file,
                                  "inputs": body.get("inputs"), "outputs": body.get("outputs"),
                                  "compute": step.compute})
            return body
        return step

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({
            **self._common(), "settings": self.settings,
            "inputs": {name: input_to_yaml(value) for name, value in self.inputs.items()},
            "outputs": {name: None if value is None else _as_dict(value) for name, value in self.outputs.items()},
            "jobs": {name: self._step(step) for name, step in self.jobs.items()}, **self._extra,
        })

    @classmethod
    def _from_yaml(cls, document: Dict[str, Any], base_path: Any = ".") -> "PipelineJob":
        document = dict(document)
        document.pop("$schema", None)
        document.pop("type", None)
        inputs = {name: input_from_yaml(value) for name, value in (document.pop("inputs", None) or {}).items()}
        return cls(base_path=base_path, inputs=inputs, **document)


def job_from_rest(rest: Dict[str, Any]) -> Job:
    """A job the server answered with: its file read back, and every answered field."""
    import yaml

    try:
        document = yaml.safe_load(rest.get("yaml") or "") or {}
    except yaml.YAMLError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    kind = rest.get("type") or document.get("type") or "command"
    entity: Job
    if kind == "sweep":
        entity = SweepJob._from_yaml(document)
    elif kind == "pipeline":
        entity = PipelineJob._from_yaml(document)
    else:
        entity = CommandJob._from_yaml(document)
    for field in ("name", "display_name", "experiment_name", "compute", "description"):
        if rest.get(field) is not None:
            setattr(entity, field, rest[field])
    entity.tags = dict(rest.get("tags") or entity.tags)
    entity._set_rest(rest)
    return entity


JobInputs = Dict[str, Union[Input, str, int, float, bool]]
