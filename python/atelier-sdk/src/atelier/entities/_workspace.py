"""Workspaces, computes, schedules and components."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ._base import Resource, drop_none
from ._io import Input, Output, input_from_yaml
from ._job import CommandJob, Job, environment_to_yaml


class Workspace(Resource):
    """A workspace: what a team shares, with its own experiments, jobs, assets and roles."""

    def __init__(self, *, name: Optional[str] = None, display_name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.display_name = display_name

    @property
    def mlflow_tracking_uri(self) -> Optional[str]:
        return self._rest.get("mlflow_tracking_uri")

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"name": self.name, "description": self.description, "tags": self.tags})

    @classmethod
    def _from_rest(cls, rest: Dict[str, Any]) -> "Workspace":
        workspace = cls(name=rest.get("name"), description=rest.get("description"), tags=rest.get("tags"))
        return workspace._set_rest(rest)  # type: ignore[return-value]


class Compute(Resource):
    """A compute as its YAML writes it (``type``: ``amlcompute``, ``slurm``, ...); other fields as
    keywords (``partition=...``, ``max_nodes_per_job=...``)."""

    type = ""

    def __init__(self, *, name: Optional[str] = None, type: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if type is not None:
            self.type = type

    @property
    def state(self) -> Optional[str]:
        return self._rest.get("state")

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"name": self.name, "type": self.type, "description": self.description,
                          "tags": self.tags, **self._extra})

    @classmethod
    def _from_rest(cls, rest: Dict[str, Any]) -> "Compute":
        known = {"name", "type", "description", "tags"}
        compute = cls(name=rest.get("name"), type=rest.get("type"), description=rest.get("description"),
                      tags=rest.get("tags"))
        compute._extra = {key: value for key, value in rest.items() if key not in known}
        return compute._set_rest(rest)  # type: ignore[return-value]


class AmlCompute(Compute):
    """Azure's compute cluster: here a share of the server's machine (``size`` names the VM size
    whose CPUs, memory and GPUs each node gets)."""

    type = "amlcompute"

    def __init__(self, *, name: Optional[str] = None, size: Optional[str] = None,
                 min_instances: Optional[int] = None, max_instances: Optional[int] = None,
                 idle_time_before_scale_down: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self._extra.update(drop_none({"size": size, "min_instances": min_instances, "max_instances": max_instances,
                                      "idle_time_before_scale_down": idle_time_before_scale_down}))


class ComputeInstance(Compute):
    """A compute instance: a JupyterLab for one person (``assigned_to``, default its creator),
    reached through the server at ``/ci/<workspace>/<name>/lab``. ``state`` is ``Creating``,
    ``Starting``, ``Running``, ``Stopping``, ``Stopped`` or ``Failed``."""

    type = "computeinstance"

    def __init__(self, *, name: Optional[str] = None, size: Optional[str] = None,
                 idle_time_before_shutdown_minutes: Optional[int] = None, schedules: Any = None,
                 setup_scripts: Optional[Dict[str, Any]] = None, environment: Optional[str] = None,
                 assigned_to: Optional[str] = None, compute: Optional[str] = None, **kwargs: Any) -> None:
        """``compute`` (Atelier's): a Slurm compute whose node runs it; default this server's machine."""
        super().__init__(name=name, **kwargs)
        self._extra.update(drop_none({
            "size": size, "idle_time_before_shutdown_minutes": idle_time_before_shutdown_minutes,
            "schedules": schedules, "setup_scripts": setup_scripts, "environment": environment,
            "assigned_to": assigned_to, "compute": compute}))

    @property
    def state(self) -> Optional[str]:
        return self._rest.get("state")

    @property
    def jupyterlab_url(self) -> Optional[str]:
        return self._rest.get("jupyterlab_url")


class CronTrigger:
    def __init__(self, *, expression: str, start_time: Optional[str] = None, end_time: Optional[str] = None,
                 time_zone: Optional[str] = None) -> None:
        self.expression, self.start_time, self.end_time, self.time_zone = expression, start_time, end_time, time_zone

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"type": "cron", "expression": self.expression, "start_time": self.start_time,
                          "end_time": self.end_time, "time_zone": self.time_zone})


class RecurrencePattern:
    def __init__(self, *, hours: Any = None, minutes: Any = None, week_days: Any = None,
                 month_days: Any = None) -> None:
        self.hours, self.minutes, self.week_days, self.month_days = hours, minutes, week_days, month_days

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"hours": self.hours, "minutes": self.minutes, "week_days": self.week_days,
                          "month_days": self.month_days})


class RecurrenceTrigger:
    def __init__(self, *, frequency: str, interval: int, schedule: Optional[RecurrencePattern] = None,
                 start_time: Optional[str] = None, end_time: Optional[str] = None,
                 time_zone: Optional[str] = None) -> None:
        self.frequency, self.interval, self.schedule = frequency, interval, schedule
        self.start_time, self.end_time, self.time_zone = start_time, end_time, time_zone

    def _to_dict(self) -> Dict[str, Any]:
        return drop_none({"type": "recurrence", "frequency": self.frequency, "interval": self.interval,
                          "schedule": self.schedule._to_dict() if self.schedule else None,
                          "start_time": self.start_time, "end_time": self.end_time, "time_zone": self.time_zone})


class JobSchedule(Resource):
    """A schedule that submits ``create_job`` (a job, or ``azureml:<job name>``) at each fire of
    its ``trigger``."""

    def __init__(self, *, name: Optional[str] = None, trigger: Any = None, create_job: Any = None,
                 display_name: Optional[str] = None, is_enabled: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.trigger = trigger
        self.create_job = create_job
        self.display_name = display_name
        self.is_enabled = is_enabled

    @property
    def next_fire_time(self) -> Any:
        return self._rest.get("next_fire_time")

    def _to_dict(self) -> Dict[str, Any]:
        trigger = self.trigger._to_dict() if hasattr(self.trigger, "_to_dict") else self.trigger
        job = self.create_job
        if isinstance(job, Job):
            job = f"azureml:{job.name}" if job._rest else job._to_dict()
        return drop_none({"name": self.name, "display_name": self.display_name, "description": self.description,
                          "tags": self.tags, "trigger": trigger, "create_job": job, **self._extra})

    @classmethod
    def _from_rest(cls, rest: Dict[str, Any]) -> "JobSchedule":
        schedule = cls(name=rest.get("name"), trigger=rest.get("trigger"), display_name=rest.get("display_name"),
                       description=rest.get("description"), tags=rest.get("tags"),
                       is_enabled=rest.get("status") != "Disabled")
        return schedule._set_rest(rest)  # type: ignore[return-value]


class CommandComponent(CommandJob):
    """A registered, versioned command with a typed interface (inputs with types, defaults and
    bounds). Called with inputs inside a pipeline function, it is a step."""

    def __init__(self, *, version: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.version = None if version is None else str(version)

    def _to_dict(self) -> Dict[str, Any]:
        def interface(value: Any) -> Any:
            if isinstance(value, (Input, Output)):
                return value._to_dict()
            if isinstance(value, bool):
                return {"type": "boolean", "default": value}
            if isinstance(value, int):
                return {"type": "integer", "default": value}
            if isinstance(value, float):
                return {"type": "number", "default": value}
            if isinstance(value, str):
                return {"type": "string", "default": value}
            return value

        return drop_none({
            "$schema": "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json",
            "type": "command", "name": self.name, "version": self.version, "display_name": self.display_name,
            "description": self.description, "tags": self.tags, "is_deterministic": self.is_deterministic,
            "code": self.code, "command": self.command, "environment": environment_to_yaml(self.environment),
            "inputs": {name: interface(value) for name, value in self.inputs.items()},
            "outputs": {name: interface(value) if value is not None else {"type": "uri_folder"}
                        for name, value in self.outputs.items()},
            "resources": self.resources._to_dict() if hasattr(self.resources, "_to_dict") else self.resources,
            "distribution": self.distribution._to_dict() if hasattr(self.distribution, "_to_dict")
            else self.distribution,
            **self._extra,
        })

    @classmethod
    def _from_yaml(cls, document: Dict[str, Any], base_path: Any = ".") -> "CommandComponent":
        document = dict(document)
        document.pop("$schema", None)
        document.pop("type", None)
        inputs = {name: input_from_yaml(value) for name, value in (document.pop("inputs", None) or {}).items()}
        outputs = {name: Output._from_dict(value) for name, value in (document.pop("outputs", None) or {}).items()}
        return cls(inputs=inputs, outputs=outputs, base_path=base_path, **document)

    @classmethod
    def _from_rest(cls, rest: Dict[str, Any]) -> "CommandComponent":
        component = cls(name=rest.get("name"), version=rest.get("version"), display_name=rest.get("display_name"),
                        description=rest.get("description"), tags=rest.get("tags"), command=rest.get("command"),
                        environment=rest.get("environment"),
                        is_deterministic=bool(rest.get("is_deterministic", True)))
        component.inputs = {name: input_from_yaml(value) for name, value in (rest.get("inputs") or {}).items()}
        return component._set_rest(rest)  # type: ignore[return-value]
