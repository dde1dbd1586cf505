"""``command(...)``: a command job (or a pipeline step) built in Python, as azure-ai-ml's."""

from __future__ import annotations

from typing import Any, Dict, Optional

from .entities._job import CommandJob, CommandJobLimits, JobResourceConfiguration


def command(*, command: Optional[str] = None, code: Optional[Any] = None, environment: Any = None,
            inputs: Optional[Dict[str, Any]] = None, outputs: Optional[Dict[str, Any]] = None,
            compute: Optional[str] = None, name: Optional[str] = None, display_name: Optional[str] = None,
            description: Optional[str] = None, tags: Optional[Dict[str, str]] = None,
            experiment_name: Optional[str] = None, environment_variables: Optional[Dict[str, str]] = None,
            distribution: Any = None, instance_count: Optional[int] = None, instance_type: Optional[str] = None,
            resources: Any = None, timeout: Optional[int] = None, is_deterministic: bool = True,
            queue_settings: Optional[Dict[str, Any]] = None, **kwargs: Any) -> CommandJob:
    """A command job. Paths (``code``, local inputs) are relative to the current folder."""
    if resources is None and (instance_count is not None or instance_type is not None):
        resources = JobResourceConfiguration(instance_count=instance_count, instance_type=instance_type)
    return CommandJob(
        command=command, code=code, environment=environment, inputs=inputs, outputs=outputs, compute=compute,
        name=name, display_name=display_name, description=description, tags=tags,
        experiment_name=experiment_name, environment_variables=environment_variables, distribution=distribution,
        resources=resources, limits=CommandJobLimits(timeout=timeout) if timeout is not None else None,
        is_deterministic=is_deterministic, queue_settings=queue_settings, **kwargs)
