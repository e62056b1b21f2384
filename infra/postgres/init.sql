-- Runs once, when the data volume is empty (the postgres image's /docker-entrypoint-initdb.d).
-- One database per server, all owned by the POSTGRES_USER that runs this script:
--   prefect      Prefect's server (flow runs, deployments, work pools, artifacts)
--   mlflow       MLflow's tracking store and model registry
--   mlflow_auth  MLflow's basic-auth users and permissions (kept apart from the tracking tables)
CREATE DATABASE prefect;
CREATE DATABASE mlflow;
CREATE DATABASE mlflow_auth;
