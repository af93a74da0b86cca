-- Run once by the postgres image on an empty volume (psql 16: \getenv reads the container's env).
-- One database per server that needs one, each owned by a login role of its own that may use
-- that database alone; nobody but the superuser (the postgres container's own) can reach the others.
\set ON_ERROR_STOP on
\getenv mlflow_password MLFLOW_DB_PASSWORD
\getenv prefect_password PREFECT_DB_PASSWORD
\getenv predictions_password PREDICTIONS_DB_PASSWORD

REVOKE ALL ON DATABASE postgres FROM PUBLIC;
REVOKE ALL ON DATABASE template1 FROM PUBLIC;

CREATE ROLE mlflow LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'mlflow_password';
CREATE DATABASE mlflow OWNER mlflow;
REVOKE ALL ON DATABASE mlflow FROM PUBLIC;

CREATE ROLE prefect LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'prefect_password';
CREATE DATABASE prefect OWNER prefect;
REVOKE ALL ON DATABASE prefect FROM PUBLIC;

CREATE ROLE predictions LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'predictions_password';
CREATE DATABASE predictions OWNER predictions;
REVOKE ALL ON DATABASE predictions FROM PUBLIC;

-- Prefect's migrations create pg_trgm; create it here so its role needs no extra rights
\connect prefect
CREATE EXTENSION IF NOT EXISTS pg_trgm;
