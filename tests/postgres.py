"""A throwaway PostgreSQL cluster for tests: run as the 'postgres' user (the
server refuses root) in a temp dir, on a loopback port; stopped afterwards.

Where it cannot run the tests skip with the reason, except when
FASHIONCLF_REQUIRE_POSTGRES=1 (set by .ci/run), where they fail instead.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest


def _unavailable(reason: str):
    if os.environ.get("FASHIONCLF_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required but unavailable: {reason}")
    pytest.skip(f"PostgreSQL tests need a local server: {reason}")


def _tool(name: str) -> str | None:
    return shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )


@contextlib.contextmanager
def postgres_server():
    if os.name != "posix" or os.geteuid() != 0:
        _unavailable("starting it as the 'postgres' user needs root")
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    if not (initdb and pg_ctl and shutil.which("runuser")):
        _unavailable("initdb/pg_ctl/runuser not found")
    try:
        import psycopg
    except ImportError:
        _unavailable(
            "psycopg (SQLAlchemy's default PostgreSQL driver) is not installed"
        )
    root = tempfile.mkdtemp(prefix="fashionclf-pg-")
    os.chmod(root, 0o755)
    shutil.chown(root, "postgres")
    data = os.path.join(root, "data")
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    as_pg = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run(
            [*as_pg, initdb, "-D", data, "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *as_pg,
                pg_ctl,
                "-D",
                data,
                "-l",
                os.path.join(root, "log"),
                "-w",
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute("CREATE DATABASE optuna")
        yield f"postgresql://postgres@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run(
            [*as_pg, pg_ctl, "-D", data, "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
