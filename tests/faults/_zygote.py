"""Import ``driftgate run``'s modules once, then fork one ``driftgate run`` process per request.

``tests/faults/test_training_killed.py`` kills a ``driftgate run`` process at six points. A fresh
interpreter spends most of such a run importing (Prefect, MLflow, scikit-learn, Great Expectations,
skops: 10-25 s of a shared 2-core machine, more than the run itself); this process pays that once.
Each request is answered by a fork of it that runs the command's entry point
(``driftgate.cli._app.main``, what the ``driftgate`` script calls) with the request's arguments,
environment, working directory and log file: a process of its own (its own pid, session and
dataset lease) that ends as the command does, here killed by itself with SIGKILL at a fault point.

What is read at import cannot differ between requests: Prefect reads its settings when imported,
OpenMP its thread count. This process is started with the environment the runs need, and refuses
a request whose ``PREFECT_*`` or thread-count variables differ from its own.

Protocol, one JSON value a line: stdout ``"ready"`` once imported; stdin ``{"argv", "env", "cwd",
"log"}``; stdout ``{"pid"}`` when forked (or ``{"refused"}``), then ``{"pid", "returncode"}`` when it
ended (negative: the signal that ended it, as ``subprocess`` reports it). Closing stdin ends it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import traceback
from typing import Any

THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def read_at_import(env: dict[str, str]) -> list[str]:
    """The variables of ``env`` this process already read differently at import (names only: values may be secret)."""
    return sorted(
        name
        for name, value in env.items()
        if (name.startswith("PREFECT_") or name in THREADS) and os.environ.get(name) != value
    )


def run(job: dict[str, Any]) -> None:
    """In the fork: the command, as its own process would run it; never returns."""
    code = 1
    try:
        os.setsid()  # its own session, as the test's Popen(start_new_session=True) gave it
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        sys.argv = list(job["argv"])
        sys.path[0] = os.path.dirname(sys.argv[0])  # as for the installed script
        from driftgate.settings import get_settings

        get_settings.cache_clear()  # read from this run's environment, as a fresh process would
        from driftgate.cli._app import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(modules: list[str]) -> None:
    for name in modules:
        importlib.import_module(name)
    if threading.active_count() != 1:  # a fork keeps only the forking thread
        sys.exit(f"importing {modules} started threads ({threading.enumerate()}): forking would lose them")
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        if differ := read_at_import(job["env"]):
            print(json.dumps({"refused": f"read at import, different in this run's environment: {differ}"}), flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            run(job)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"pid": pid, "returncode": os.waitstatus_to_exitcode(status)}), flush=True)
    os._exit(0)  # nothing to flush or close: no seconds spent finalizing every module imported


if __name__ == "__main__":
    serve(sys.argv[1:])
