"""``driftgate up``: the whole system as local processes, every UI on 127.0.0.1.

Prefect server (UI), MLflow server (UI), the data API, the model service, and a Prefect process
worker serving the deployments of ``prefect.yaml``. State stays under driftgate's home.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from driftgate.errors import DriftgateError

log = logging.getLogger(__name__)
BIN = Path(sys.executable).parent


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 120) -> None:
    """Wait for ``url`` to answer 200.

    Raises:
        DriftgateError: the process exited or the URL stayed down.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DriftgateError(f"the server behind {url} exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise DriftgateError(f"{url} did not become healthy within {timeout:.0f} s")


@dataclass
class Stack:
    home: Path
    project_dir: Path
    prefect_port: int = 4200
    mlflow_port: int = 5000
    data_api_port: int = 8900
    service_port: int = 8000
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        home = self.home.resolve()
        return {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_API_URL": f"http://127.0.0.1:{self.prefect_port}/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{self.mlflow_port}",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "DRIFTGATE_HOME": str(home),
            "DRIFTGATE_DATA_API_URL": f"http://127.0.0.1:{self.data_api_port}",
            "DRIFTGATE_PROJECT_DIR": str(self.project_dir.resolve()),
            "GX_ANALYTICS_ENABLED": "false",
        }

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - the child process owns it
        proc = subprocess.Popen(list(args), env=self.env(), cwd=self.project_dir, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        log.info("started %s (pid %s), log %s", name, proc.pid, logs / f"{name}.log")
        return proc

    def _run(self, *args: str) -> None:
        done = subprocess.run(list(args), env=self.env(), cwd=self.project_dir, capture_output=True, text=True)
        if done.returncode != 0:
            raise DriftgateError(f"{' '.join(args[:3])} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def up(self) -> dict[str, str]:
        """Start everything and deploy the flows; returns the URLs."""
        home = self.home.resolve()
        home.mkdir(parents=True, exist_ok=True)
        mlflow = self._start(
            "mlflow",
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.mlflow_port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{home / 'mlflow-server.db'}",
            "--artifacts-destination",
            str(home / "mlflow-artifacts"),
        )
        prefect = self._start(
            "prefect", str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.prefect_port)
        )
        data_api = self._start("data-api", str(BIN / "driftgate"), "data-api", "--port", str(self.data_api_port))
        wait_http(f"http://127.0.0.1:{self.mlflow_port}/health", mlflow)
        wait_http(f"http://127.0.0.1:{self.prefect_port}/api/health", prefect)
        wait_http(f"http://127.0.0.1:{self.data_api_port}/health", data_api)
        service = self._start("service", str(BIN / "driftgate"), "serve", "--port", str(self.service_port))
        wait_http(f"http://127.0.0.1:{self.service_port}/health", service)
        self._run(str(BIN / "prefect"), "work-pool", "create", "driftgate-process", "--type", "process", "--overwrite")
        self._run(str(BIN / "prefect"), "--no-prompt", "deploy", "--all")
        self._start("worker", str(BIN / "prefect"), "worker", "start", "--pool", "driftgate-process")
        return {
            "Prefect UI": f"http://127.0.0.1:{self.prefect_port}",
            "MLflow UI": f"http://127.0.0.1:{self.mlflow_port}",
            "model service": f"http://127.0.0.1:{self.service_port} (reports: /reports)",
            "data API": f"http://127.0.0.1:{self.data_api_port}/batches",
        }

    def down(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()  # a process worker may need a second signal
        self.procs.clear()
