"""A throwaway PostgreSQL cluster on a free port of 127.0.0.1, for the tests that need a real server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftgate.local.servers import free_port


def pg_bin() -> Path:
    """The folder of PostgreSQL's server programs (``initdb``, ``pg_ctl``)."""
    found = shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))), None)
    if found is None:
        pytest.fail("PostgreSQL's server is not installed: `make postgres` installs it (Debian package postgresql)")
    return Path(found).resolve().parent


@dataclass
class Postgres:
    url: str
    ctl: list[str]  # pg_ctl, as the postgres user when run as root, with its data folder and options

    def stop(self) -> None:
        subprocess.run([*self.ctl, "-m", "immediate", "stop"], check=True, capture_output=True)

    def start(self) -> None:
        subprocess.run([*self.ctl, "-w", "start"], check=True, capture_output=True)


@contextmanager
def throwaway_postgres() -> Iterator[Postgres]:
    """A new cluster (as the postgres user when run as root), started; stopped and removed afterwards."""
    bindir = pg_bin()
    data = Path(tempfile.mkdtemp(prefix="driftgate-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-o", options, "-l", str(data / "server.log")]
    pg = Postgres(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", ctl)
    pg.start()
    try:
        yield pg
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
