-- One database per server that needs one (the default "driftgate" database is created by the image).
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
CREATE DATABASE predictions;
