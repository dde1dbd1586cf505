"""The entities of a workspace, as ``azure.ai.ml.entities`` names them."""

from ._assets import BuildContext, Data, Environment, Model
from ._base import Resource
from ._endpoint import (CodeConfiguration, EndpointAuthKeys, EndpointAuthToken, ManagedOnlineDeployment,
                        ManagedOnlineEndpoint, OnlineRequestSettings, ProbeSettings)
from ._io import Input, Output
from ._job import (Command, CommandJob, CommandJobLimits, Job, JobResourceConfiguration, MpiDistribution,
                   PipelineJob, PyTorchDistribution, SweepJob, TensorFlowDistribution)
from ._workspace import (AmlCompute, CommandComponent, Compute, ComputeInstance, CronTrigger, JobSchedule, RecurrencePattern,
                         RecurrenceTrigger, Workspace)

# Azure's names for the same things.
OnlineEndpoint = ManagedOnlineEndpoint
OnlineDeployment = ManagedOnlineDeployment
ResourceConfiguration = JobResourceConfiguration

__all__ = [
    "AmlCompute", "BuildContext", "CodeConfiguration", "Command", "CommandComponent", "CommandJob",
    "CommandJobLimits", "Compute", "ComputeInstance", "CronTrigger", "Data", "EndpointAuthKeys", "EndpointAuthToken", "Environment",
    "Input", "Job", "JobResourceConfiguration", "JobSchedule", "ManagedOnlineDeployment", "ManagedOnlineEndpoint",
    "Model", "MpiDistribution", "OnlineDeployment", "OnlineEndpoint", "OnlineRequestSettings", "Output",
    "PipelineJob", "ProbeSettings", "PyTorchDistribution", "RecurrencePattern", "RecurrenceTrigger", "Resource",
    "ResourceConfiguration", "SweepJob", "TensorFlowDistribution", "Workspace",
]
