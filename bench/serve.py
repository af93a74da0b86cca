"""Serving benchmark: driftgate's service vs `mlflow models serve`, same champion, same requests.

Both servers run as separate processes on 127.0.0.1 and are driven with single-record
requests by `wrk` (apt-get install wrk; 64 connections) for the same duration each.
Prints req/s, p50 and p99 for each and the throughput ratio.

    uv run python bench/serve.py [--seconds 30] [--connections 64] [--dataset diamonds]

Before/after in one run: ``--baseline REF`` also serves the same champion with the service as it
was at git ``REF`` (exported to a temp folder, laid out as the installed packages, same venv) and
alternates the two for ``--rounds`` rounds, so both see the same machine state:

    uv run python bench/serve.py --skip-mlflow --baseline e0068f0 --seconds 10 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_wrk(url: str, body: dict[str, object], seconds: int, connections: int, threads: int) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[{json.dumps(body)}]]\n'
    )
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(bad.group(1)) if bad else 0
    failed += sum(int(x) for x in errors.groups()) if errors else 0
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99"), "requests": total, "failed": failed}


def model_calls(base: str) -> dict[str, float]:
    """Rows per model call and ms per call, from the service's own /metrics (cumulative since start)."""
    text = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()

    def value(name: str) -> float:
        m = re.search(rf"^{name} ([\d.e+-]+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    calls = value("driftgate_model_batch_rows_count")
    shadow = sum(float(x) for x in re.findall(r"^driftgate_shadow_predictions_total\{[^}]*\} ([\d.e+-]+)$", text, re.M))
    return {
        "shadow_rows": shadow,
        "rows_per_call": value("driftgate_model_batch_rows_sum") / calls if calls else 0.0,
        "ms_per_call": 1000 * value("driftgate_model_call_seconds_sum") / calls if calls else 0.0,
    }


def wait_shadow(base: str, version: str, timeout: float = 120.0) -> None:
    """Until the service's shadow process scores with ``version`` (GET /model says so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shadow = json.loads(urllib.request.urlopen(f"{base}/model", timeout=10).read()).get("shadow") or {}
        if shadow.get("version") == version:
            return
        time.sleep(0.5)
    raise SystemExit(f"the shadow process did not load challenger version {version} in {timeout:.0f} s")


OFF = "false"
LOOP_COSTS = {  # driftgate serve (above) has all of them on
    "log+ids, no shadow": {"DRIFTGATE_SHADOW": OFF},
    "log only": {"DRIFTGATE_SHADOW": OFF, "DRIFTGATE_PREDICTION_IDS": OFF},
    "all off": {"DRIFTGATE_SHADOW": OFF, "DRIFTGATE_PREDICTION_IDS": OFF, "DRIFTGATE_PREDICTION_LOG": OFF},
}


def baseline_tree(ref: str) -> Path:
    """The package tree of git ``ref`` as installed (its pyproject's folder mapping applied), to import."""
    top = Path(tempfile.mkdtemp(prefix="driftgate-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    src, pkg = top / "src", top / "pkg"
    src.mkdir()
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    mapping = tomllib.loads((src / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for package, folder in sorted(mapping.items()):  # driftgate first, then the folders mapped into it
        shutil.copytree(src / folder, pkg.joinpath(*package.split(".")), dirs_exist_ok=True)
    return pkg


def serve_and_measure(
    cmd: list[str], env: dict[str, str], body: dict[str, object], args: argparse.Namespace
) -> dict[str, float]:
    """Start one service, warm it up, measure it with wrk, stop it."""
    from driftgate.local.servers import free_port
    from driftgate.local.stack import wait_http

    port = free_port()
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            try:
                wait_http(f"http://127.0.0.1:{port}/ready", proc, timeout=300)  # generous: a loaded machine
            except Exception:
                errors.seek(0)
                print(errors.read().decode(errors="replace")[-3000:], file=sys.stderr)
                raise
            url = f"http://127.0.0.1:{port}/predict"
            run_wrk(url, body, 3, args.connections, args.threads)  # warm-up
            return run_wrk(url, body, args.seconds, args.connections, args.threads)
        finally:
            proc.terminate()
            proc.wait(10)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (it shares the machine with the server)")
    ap.add_argument("--dataset", default="diamonds")
    ap.add_argument("--skip-mlflow", action="store_true", help="only measure driftgate's service")
    ap.add_argument("--loop-costs", action="store_true", help="also with prediction log, ids and shadow switched off")
    ap.add_argument("--baseline", help="git ref: also measure the service as it was there, alternating (before/after)")
    ap.add_argument("--baseline-tree", type=Path, help="instead of --baseline: a package tree laid out as installed")
    ap.add_argument("--rounds", type=int, default=2, help="with --baseline: alternations of baseline and current")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/serve.py needs wrk: apt-get install wrk")

    home = Path(tempfile.mkdtemp(prefix="driftgate-bench-"))
    env = {
        **os.environ,
        "DRIFTGATE_HOME": str(home),
        "DRIFTGATE_DATASET": args.dataset,
        "DRIFTGATE_DATASETS_DIR": str(ROOT / "datasets"),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "OMP_NUM_THREADS": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
    }
    os.environ.update(env)

    from driftgate.dataset.scenario import make_batch, plan_batches
    from driftgate.dataset.sources import load_source
    from driftgate.dataset.spec import load_spec
    from driftgate.local.servers import free_port
    from driftgate.local.stack import wait_http
    from driftgate.registry.client import set_champion
    from driftgate.settings import get_settings

    sys.path.insert(0, str(ROOT))  # the quick model lives with the tests
    from driftgate.local.quick_model import register_quick_model
    from driftgate.registry.tracking import configure_mlflow

    settings = get_settings()
    spec = load_spec(args.dataset, settings.datasets_dir)
    frame = load_source(spec)
    rows = make_batch(frame, spec, plan_batches(frame, spec), 1)
    client = configure_mlflow(settings)
    version, _ = register_quick_model(spec, spec.model_name, rows, max_iter=100)
    set_champion(client, spec.model_name, version)
    challenger, _ = register_quick_model(spec, spec.model_name, rows, max_iter=50)
    client.set_registered_model_alias(spec.model_name, "challenger", challenger)  # scored in the shadow
    record = {f: (v.item() if hasattr(v, "item") else v) for f, v in rows[spec.feature_names].iloc[0].items()}
    print(f"model {spec.model_name} v{version} (OneHot + HistGradientBoosting, {len(rows)} rows); record {record}")

    results: dict[str, dict[str, float]] = {}
    procs: list[subprocess.Popen[bytes]] = []
    if args.baseline or args.baseline_tree:
        compare_with_baseline(args, env, {"records": [record]})
        shutil.rmtree(home, ignore_errors=True)
        return
    try:
        port = free_port()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "driftgate.cli", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_http(f"http://127.0.0.1:{port}/ready")
        wait_shadow(f"http://127.0.0.1:{port}", challenger)
        url = f"http://127.0.0.1:{port}/predict"
        run_wrk(url, {"records": [record]}, 3, args.connections, args.threads)  # warm-up
        results["driftgate serve"] = run_wrk(url, {"records": [record]}, args.seconds, args.connections, args.threads)
        time.sleep(4)  # the shadow process catches up with the log, the service publishes its count
        results["driftgate serve"] |= model_calls(f"http://127.0.0.1:{port}")
        procs.pop().terminate()
        for name, extra in LOOP_COSTS.items() if args.loop_costs else ():  # the same service, parts switched off
            port = free_port()
            cmd = [sys.executable, "-m", "driftgate.cli", "serve", "--port", str(port)]
            procs.append(
                subprocess.Popen(cmd, env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
            wait_http(f"http://127.0.0.1:{port}/ready")
            url = f"http://127.0.0.1:{port}/predict"
            run_wrk(url, {"records": [record]}, 3, args.connections, args.threads)  # warm-up
            results[name] = run_wrk(url, {"records": [record]}, args.seconds, args.connections, args.threads)
            results[name] |= model_calls(f"http://127.0.0.1:{port}")
            server = procs.pop()
            server.terminate()
            server.wait(10)
        if not args.skip_mlflow:
            port = free_port()
            cmd = [
                "mlflow",
                "models",
                "serve",
                "-m",
                f"models:/{spec.model_name}/{version}",
                "--env-manager",
                "local",
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
            ]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_http(f"http://127.0.0.1:{port}/ping")
            url = f"http://127.0.0.1:{port}/invocations"
            body = {"dataframe_records": [record]}
            run_wrk(url, body, 3, args.connections, args.threads)
            results["mlflow models serve"] = run_wrk(url, body, args.seconds, args.connections, args.threads)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        shutil.rmtree(home, ignore_errors=True)

    print(f"\n{args.connections} connections, {args.seconds} s each, one record per request (wrk)")
    print("driftgate serve = prediction log + ids + shadow challenger all on")
    print("rows/call and ms/call: the champion's micro-batched model calls, from the service's /metrics;")
    print("shadow rows: rows the challenger scored in the shadow process (warm-up included)")
    print(
        f"{'server':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'failed':>8}"
        f"{'rows/call':>11}{'ms/call':>9}{'shadow rows':>13}"
    )
    for name, r in results.items():
        calls = ""
        if "rows_per_call" in r:
            calls = f"{r['rows_per_call']:>11.1f}{r['ms_per_call']:>9.2f}{r['shadow_rows']:>13.0f}"
        print(
            f"{name:<22}{r['rps']:>10.0f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['requests']:>10.0f}"
            f"{r['failed']:>8.0f}{calls}"
        )
    if len(results) == 2:
        ratio = results["driftgate serve"]["rps"] / results["mlflow models serve"]["rps"]
        print(f"throughput ratio driftgate / mlflow: {ratio:.1f}x")


def compare_with_baseline(args: argparse.Namespace, env: dict[str, str], body: dict[str, object]) -> None:
    """Single-record throughput of the service at ``args.baseline`` and now, alternated on one machine state."""
    tree = args.baseline_tree or baseline_tree(args.baseline)
    label = f"baseline {args.baseline or args.baseline_tree}"
    cmd = [sys.executable, "-c", "from driftgate.cli import main; main()", "serve"]  # the entry point, at any ref
    runs: dict[str, list[dict[str, float]]] = {label: [], "current": []}
    try:
        for i in range(args.rounds):
            for name, extra in ((label, {"PYTHONPATH": str(tree)}), ("current", {})):
                r = serve_and_measure(cmd, {**env, **extra}, body, args)
                runs[name].append(r)
                print(
                    f"round {i + 1} {name[:30]:<30} {r['rps']:>8.0f} req/s  p50 {r['p50_ms']:.1f} ms  "
                    f"p99 {r['p99_ms']:.1f} ms  failed {r['failed']:.0f}  load {load_average()}"
                )
    finally:
        if not args.baseline_tree:
            shutil.rmtree(tree.parent, ignore_errors=True)
    mean = {name: sum(r["rps"] for r in rs) / len(rs) for name, rs in runs.items()}
    before, after = mean[label], mean["current"]
    print(f"\n{args.connections} connections, {args.seconds} s x {args.rounds} rounds each, one record per request")
    print(f"mean req/s: baseline {before:.0f}, current {after:.0f}, change {100 * (after / before - 1):+.1f} %")


if __name__ == "__main__":
    main()
