# Runs once, in the instance's home folder, when the instance is created.
mkdir -p notebooks
cat > notebooks/README.md <<'TEXT'
Notebooks here track into the workspace: `import mlflow` and `from atelier import MLClient` need no setup.
TEXT
