"""Create (or re-password) the MLflow users of the worker and the model service.

Run once per ``docker compose up`` by the ``mlflow-users`` service, as MLflow's admin, after the
basic-auth server is healthy. Stdlib only. Checked against a real ``mlflow server --app-name
basic-auth``: anonymous 401, both users created, a rerun re-passwords them, the service user reads
(200) but cannot delete the worker's experiment (403). The users get MLflow's ``default_permission`` (READ,
see mlflow-auth.ini); the worker owns (MANAGE) the experiments and models it creates.

    MLFLOW_TRACKING_URI=http://mlflow:5000 MLFLOW_AUTH_ADMIN_PASSWORD=... \\
    MLFLOW_USERS="driftgate-worker:$PW1 driftgate-service:$PW2" python deployments/mlflow_users.py
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.request


def call(base: str, auth: str, method: str, path: str, body: dict[str, str]) -> tuple[int, str]:
    req = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Basic {auth}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:  # refused, reset, timed out: one line, not a traceback
        return 0, str(exc)


def main() -> int:
    base = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
    admin = os.environ.get("MLFLOW_AUTH_ADMIN_USERNAME", "admin")
    auth = base64.b64encode(f"{admin}:{os.environ['MLFLOW_AUTH_ADMIN_PASSWORD']}".encode()).decode()
    for pair in os.environ["MLFLOW_USERS"].split():
        user, _, password = pair.partition(":")
        body = {"username": user, "password": password}
        status, text = call(base, auth, "POST", "/api/2.0/mlflow/users/create", body)
        if status != 200 and "RESOURCE_ALREADY_EXISTS" in text:
            status, text = call(base, auth, "PATCH", "/api/2.0/mlflow/users/update-password", body)
        if status != 200:
            print(f"mlflow user {user}: HTTP {status}: {text[:200]}", file=sys.stderr)
            return 1
        print(f"mlflow user {user}: ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
