"""``@dsl.pipeline``: a pipeline written as a Python function whose body calls commands (or
loaded components) as steps, as ``azure.ai.ml.dsl`` does::

    @dsl.pipeline(default_compute="local", description="prep then train")
    def prep_and_train(raw):
        prep = prep_command(raw=raw)
        train = train_command(data=prep.outputs.clean)
        return {"model": train.outputs.model}

    job = prep_and_train(raw=Input(type="uri_file", path="./data.csv"))
    ml_client.jobs.create_or_update(job)

Each step is named after the variable it is assigned to (else after its command)."""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any, Callable, Dict, List, Optional

from .entities._job import CommandJob, NodeOutput, PipelineJob
from .entities._io import Output

_building: List[List[CommandJob]] = []


def _register_node(node: CommandJob) -> None:
    """A command called inside a pipeline function becomes one of its steps."""
    if _building:
        _building[-1].append(node)


class PipelineInput:
    """A pipeline function's parameter, as its steps see it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _binding(self) -> str:
        return f"${{{{parent.inputs.{self._name}}}}}"


def _step_names(nodes: List[CommandJob], variables: Dict[str, Any]) -> None:
    taken: Dict[str, int] = {}
    by_variable = {id(value): name for name, value in variables.items() if isinstance(value, CommandJob)}
    for node in nodes:
        base = by_variable.get(id(node)) or node.name or node.display_name or "step"
        base = "".join(char if char.isalnum() or char == "_" else "_" for char in base)
        count = taken.get(base, 0)
        taken[base] = count + 1
        node._step_name = base if count == 0 else f"{base}_{count}"


def pipeline(func: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None,
             display_name: Optional[str] = None, description: Optional[str] = None,
             experiment_name: Optional[str] = None, compute: Optional[str] = None,
             default_compute: Optional[str] = None, continue_on_step_failure: Optional[bool] = None,
             tags: Optional[Dict[str, str]] = None, **settings: Any) -> Any:
    """Turns a function that calls commands into one that builds a :class:`PipelineJob`."""

    def decorate(function: Callable[..., Any]) -> Callable[..., PipelineJob]:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def build(*args: Any, **kwargs: Any) -> PipelineJob:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = dict(bound.arguments)
            placeholders = {parameter: PipelineInput(parameter) for parameter in values}
            nodes: List[CommandJob] = []
            variables: Dict[str, Any] = {}

            def keep_locals(frame: Any, event: str, arg: Any) -> None:
                if event == "return" and frame.f_code is function.__code__:
                    variables.update(frame.f_locals)

            _building.append(nodes)
            previous = sys.getprofile()
            sys.setprofile(keep_locals)
            try:
                returned = function(**placeholders)
            finally:
                sys.setprofile(previous)
                _building.pop()
            _step_names(nodes, variables)
            outputs: Dict[str, Any] = {}
            for output_name, node_output in (returned or {}).items():
                if not isinstance(node_output, NodeOutput):
                    raise TypeError(f"pipeline output '{output_name}' must be a step's output (step.outputs.<name>)")
                node, step_output = node_output._node, node_output._name
                spec = node.outputs.get(step_output)
                outputs[output_name] = spec if isinstance(spec, Output) else Output()
                node.outputs[step_output] = f"${{{{parent.outputs.{output_name}}}}}"
            pipeline_settings = {key: value for key, value in {
                "default_compute": default_compute or compute,
                "continue_on_step_failure": continue_on_step_failure, **settings}.items() if value is not None}
            pipeline_inputs = {key: value for key, value in values.items() if value is not None}
            return PipelineJob(
                name=name, display_name=display_name or function.__name__, description=description or
                inspect.getdoc(function), experiment_name=experiment_name, tags=tags, settings=pipeline_settings,
                inputs=pipeline_inputs, outputs=outputs, jobs={node._node_name(): node for node in nodes})

        return build

    return decorate(func) if func is not None else decorate
