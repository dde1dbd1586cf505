"""Atelier's Python SDK: a workspace from any Python program, shaped like azure-ai-ml.

Port an Azure ML script by changing its imports (``azure.ai.ml`` → ``atelier``) and how the
client is made (``MLClient(url=..., token=..., workspace_name=...)``)."""

from . import constants, dsl, entities, sweep
from ._builders import command
from ._client import MLClient
from ._load import (load_component, load_compute, load_data, load_environment, load_job, load_model,
                    load_online_deployment, load_online_endpoint, load_schedule, load_workspace)
from .entities import Input, Output
from .operations._base import ListViewType, LROPoller

__version__ = "0.1.0"

__all__ = [
    "MLClient", "command", "Input", "Output", "dsl", "sweep", "entities", "constants", "ListViewType", "LROPoller",
    "load_component", "load_compute", "load_data", "load_environment", "load_job", "load_model",
    "load_online_deployment", "load_online_endpoint", "load_schedule", "load_workspace",
]
