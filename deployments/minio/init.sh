#!/bin/sh
# MinIO's buckets, policies and users: run by the minio-init service as the root user, which
# nothing else holds. Each role gets a user of its own with a policy on its bucket alone.
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing local/driftgate local/mlflow
for policy in lake-readwrite lake-readonly mlflow-artifacts; do
  mc admin policy create local "$policy" "/policies/$policy.json"
done
# user add also resets the secret of an existing user, so rotating one in .env takes effect here
mc admin user add local driftgate-worker "$MINIO_WORKER_SECRET"
mc admin user add local driftgate-service "$MINIO_SERVICE_SECRET"
mc admin user add local mlflow "$MINIO_MLFLOW_SECRET"
mc admin policy attach local lake-readwrite --user driftgate-worker || true   # already attached: fine
mc admin policy attach local lake-readonly --user driftgate-service || true
mc admin policy attach local mlflow-artifacts --user mlflow || true
echo "minio: buckets driftgate, mlflow; users driftgate-worker (lake rw), driftgate-service (lake ro), mlflow (artifacts)"
