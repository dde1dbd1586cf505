"""Azure ML's "deploy and score a model with an online endpoint" (SDK v2), ported to Atelier.

Changed from Azure's script: the imports, the client's construction, and the model (Azure's is
a pickled scikit-learn regression; this one is a linear model in JSON that its scoring script
reads with numpy)."""

import datetime
import os

from atelier import MLClient
from atelier.entities import CodeConfiguration, Environment, ManagedOnlineDeployment, ManagedOnlineEndpoint, Model

ml_client = MLClient(workspace_name=os.environ.get("ATELIER_WORKSPACE", "default"))

# -- from here on, Azure's script --
# Define an endpoint name
endpoint_name = "endpt-" + datetime.datetime.now().strftime("%m%d%H%M%f")

# create an online endpoint
endpoint = ManagedOnlineEndpoint(
    name=endpoint_name,
    description="this is a sample endpoint",
    auth_mode="key",
)
ml_client.online_endpoints.begin_create_or_update(endpoint).result()

model = Model(path="model-1/model/linear_model.json")
env = Environment(
    conda_file="model-1/environment/conda.yaml",
    image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest",
)

blue_deployment = ManagedOnlineDeployment(
    name="blue",
    endpoint_name=endpoint_name,
    model=model,
    environment=env,
    code_configuration=CodeConfiguration(code="model-1/onlinescoring", scoring_script="score.py"),
    instance_type="Standard_DS3_v2",
    instance_count=1,
)
ml_client.online_deployments.begin_create_or_update(blue_deployment).result()

# blue deployment takes 100 traffic
endpoint.traffic = {"blue": 100}
ml_client.online_endpoints.begin_create_or_update(endpoint).result()

# test the blue deployment with some sample data
response = ml_client.online_endpoints.invoke(
    endpoint_name=endpoint_name,
    deployment_name="blue",
    request_file="model-1/sample-request.json",
)
print(f"response: {response}")

logs = ml_client.online_deployments.get_logs(name="blue", endpoint_name=endpoint_name, lines=50)
print(logs)

ml_client.online_endpoints.begin_delete(name=endpoint_name).result()
print(f"deleted {endpoint_name}")
