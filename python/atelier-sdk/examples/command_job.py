"""Azure ML's "train a scikit-learn model with a command job" (SDK v2), ported to Atelier.

Changed from Azure's script: the imports (azure.ai.ml -> atelier), the client's construction,
and the iris CSV's path (Azure's reads it from a public URL; this machine reads a local copy,
which the SDK uploads with the code)."""

import os

from atelier import Input, MLClient, command

# The client: Atelier's URL and token (here from ATELIER_URL and ATELIER_TOKEN).
ml_client = MLClient(workspace_name=os.environ.get("ATELIER_WORKSPACE", "default"))

# -- from here on, Azure's script --
job = command(
    code="./src",  # local path where the code is stored
    command="python main.py --iris-csv ${{inputs.iris_csv}}",
    inputs={"iris_csv": Input(type="uri_file", path="./data/iris.csv")},
    environment="AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest",
    compute="cpu-cluster",
    display_name="sklearn-iris-example",
    experiment_name="sklearn-iris-example",
    description="Train a scikit-learn SVM on the Iris dataset.",
)

# submit the command
returned_job = ml_client.create_or_update(job)
print(f"submitted {returned_job.name}: {returned_job.studio_url}")
ml_client.jobs.stream(returned_job.name)
