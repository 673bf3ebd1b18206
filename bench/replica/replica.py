"""A real streaming replica of the local PostgreSQL, the dashboard served from it, the lag measured.

    bash bench/replica/run.sh                      # a fresh 1 000-member set (bench/dataset/build.py)
    bash bench/replica/run.sh --members 10000      # a bigger fresh set
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a built set> bash bench/replica/run.sh --keep-data

1. The primary (PRIMARY_URL, default postgres://postgres@127.0.0.1:5432) must accept physical
   replication: `wal_level` replica or logical (PostgreSQL's default) and `max_wal_senders` > 0
   (both need a restart, so the script only checks them), and a pg_hba.conf line for replication
   connections from 127.0.0.1 (`all` does not match them). When that line is missing the script
   appends `host replication all 127.0.0.1/32 trust` to the server's hba_file (idempotently: it
   checks `pg_hba_file_rules` first) and reloads the configuration: **the one change to the main
   server**, left in place afterwards and printed when made.
2. The data set: `bench/dataset/build.py --members N` into BENCH_DATABASE_URL (default
   loyalty_bench_replica, dropped at the end unless --keep-data), migrated and built before the
   copy, so the replica starts with it.
3. `pg_basebackup -X stream -R -C -S <slot>` copies the whole cluster into a temporary directory
   (a physical replica is always the whole cluster) with a replication slot, and the copy is started
   as a hot standby (`hot_standby_feedback = on`, so the primary's vacuum never cancels a long report
   or export on it) on a free port, as the `postgres` user when run as root.
4. Django with DATABASE_URL = the primary and DATABASE_REPLICA_URL = the standby serves the dashboard
   (the test Client, the whole middleware stack, an analyst's login): the report's queries are counted
   per connection and the standby is shown to be in recovery and read-only.
5. Writes on the primary: `purchase_create` for a member (a real purchase: posting, entries, lot,
   event), then the standby is read until the purchase is there; the time from the primary's commit to
   the row on the standby is the lag, measured --writes times. The dashboard read again from the
   replica shows the new purchases.
6. Clean-up (also after an error or Ctrl-C): the standby stopped, its directory removed, the slot
   dropped, the scratch database dropped. Results in bench/replica/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SLOT_PREFIX = "bench_replica_"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its binaries as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def primary_prepare(admin_url: str) -> dict:
    """Check (and where it is safe, make) the primary ready for a physical replica."""
    import psycopg

    changed = []
    with psycopg.connect(admin_url, autocommit=True) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_wal_senders', "
                "'max_replication_slots', 'hba_file', 'server_version')"
            ).fetchall()
        )
        if settings["wal_level"] not in ("replica", "logical"):
            raise SystemExit("wal_level is minimal: set wal_level = replica and restart PostgreSQL")
        if int(settings["max_wal_senders"]) < 1 or int(settings["max_replication_slots"]) < 1:
            raise SystemExit(
                "max_wal_senders / max_replication_slots are 0: raise them and restart PostgreSQL"
            )
        rules = conn.execute(
            "SELECT type, database, address, auth_method FROM pg_hba_file_rules WHERE error IS NULL"
        ).fetchall()
        allowed = any(
            "replication" in (database or [])
            and (kind == "local" or address in ("127.0.0.1", "0.0.0.0", "::1", "samehost", "all"))
            for kind, database, address, _method in rules
        )
        if not allowed:
            line = "host replication all 127.0.0.1/32 trust  # bench/replica: replicas on this machine\n"
            hba = Path(settings["hba_file"])
            try:
                with hba.open("a") as handle:
                    handle.write(line)
            except PermissionError as error:
                raise SystemExit(f"add to {hba} and reload: {line}") from error
            conn.execute("SELECT pg_reload_conf()")
            changed.append(f"appended to {hba}: {line.strip()} (and reloaded)")
            log(f"primary config changed: {changed[-1]}")
        # slots of an earlier run killed before its clean-up keep WAL forever: drop them
        for (slot,) in conn.execute(
            "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s AND NOT active",
            [SLOT_PREFIX + "%"],
        ).fetchall():
            conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])
            log(f"dropped the leftover slot {slot}")
    return {"server_version": settings["server_version"], "changed": changed}


class Standby:
    def __init__(self, *, primary_host: str, primary_port: int, workdir: Path):
        self.primary_host = primary_host
        self.primary_port = primary_port
        self.workdir = workdir
        self.datadir = workdir / "data"
        self.port = free_port()
        self.slot = f"{SLOT_PREFIX}{os.getpid()}"
        self.started = False

    def create(self) -> float:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        os.chmod(self.workdir, 0o700)
        started = time.monotonic()
        subprocess.run(
            as_postgres(
                [
                    str(PG_BIN / "pg_basebackup"),
                    "-h",
                    self.primary_host,
                    "-p",
                    str(self.primary_port),
                    "-U",
                    "postgres",
                    "-D",
                    str(self.datadir),
                    "-X",
                    "stream",
                    "-R",  # standby.signal and primary_conninfo
                    "-C",
                    "-S",
                    self.slot,
                    "-c",
                    "fast",
                ]
            ),
            check=True,
        )
        seconds = time.monotonic() - started
        # Debian keeps postgresql.conf and pg_hba.conf in /etc/postgresql/, outside the copied directory
        for name, text in (
            ("postgresql.conf", "# bench/replica: the settings are in postgresql.auto.conf\n"),
            ("pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\n"),
            ("pg_ident.conf", ""),
        ):
            if not (self.datadir / name).exists():
                (self.datadir / name).write_text(text)
                if os.geteuid() == 0:
                    shutil.chown(self.datadir / name, "postgres", "postgres")
        with (self.datadir / "postgresql.auto.conf").open("a") as handle:
            handle.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.workdir}'\n"
                "hot_standby = on\n"
                "hot_standby_feedback = on\n"
                "logging_collector = off\n"
                "autovacuum = off\n"
            )
        return seconds

    def start(self) -> None:
        started = subprocess.run(
            as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.workdir / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )
        if started.returncode:
            log_file = self.workdir / "log"
            print(log_file.read_text()[-3000:] if log_file.exists() else "(no log)", file=sys.stderr)
            raise SystemExit("the standby did not start")
        self.started = True

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]),
                check=False,
                stdout=subprocess.DEVNULL,
            )
            self.started = False

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


def drop_slot(admin_url: str, slot: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [slot]).fetchone():
            conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])


def build_dataset(url: str, members: int) -> None:
    env = {**os.environ, "BENCH_DATABASE_URL": url}
    subprocess.run(
        [
            sys.executable,
            "-u",
            str(ROOT / "bench/dataset/build.py"),
            "--members",
            str(members),
            "--fresh",
            "--no-reconcile",
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def django_bench(*, primary_url: str, replica_url: str, writes: int) -> dict:
    os.environ["DATABASE_URL"] = primary_url
    os.environ["DATABASE_REPLICA_URL"] = replica_url
    os.environ.setdefault("LOYALTY_TESTING", "1")  # development secret key; no broker publishing
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.db import DatabaseError, connections, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from accounts import services as account_services
    from accounts.models import Member, Program
    from checkout.purchases import purchase_create
    from ledger.models import Purchase

    primary, replica = connections["default"], connections["replica"]
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_setting('port')")
        in_recovery, port = cursor.fetchone()
    read_only = False
    try:
        with transaction.atomic(using="replica"), replica.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE bench_replica_probe (id int)")
    except DatabaseError as error:
        read_only = "read-only" in str(error)
    log(f"replica: port {port}, pg_is_in_recovery() = {in_recovery}, writes refused: {read_only}")

    program = Program.objects.order_by("id").first()
    user = account_services.staff_user_create(
        merchant=program.merchant,
        username=f"replica-analyst-{os.getpid()}",
        password="pw-12345!x",
        role="analyst",
    )
    client = Client()
    client.force_login(user)

    def dashboard() -> dict:
        started = time.monotonic()
        with CaptureQueriesContext(primary) as on_primary, CaptureQueriesContext(replica) as on_replica:
            response = client.get("/admin/reports/", {"program": program.pk}, secure=True)
        seconds = time.monotonic() - started
        assert response.status_code == 200, response.status_code
        return {
            "status": response.status_code,
            "seconds": round(seconds, 3),
            "queries_on_replica": len(on_replica.captured_queries),
            "queries_on_primary": len(on_primary.captured_queries),
            "tables_read_on_primary": sorted(
                {
                    table
                    for q in on_primary.captured_queries
                    for table in re.findall(r'FROM "(\w+)"', q["sql"])
                }
            ),
            "page_bytes": len(response.content),
        }

    first = dashboard()
    log(f"dashboard served: {json.dumps(first)}")

    members = list(
        Member.objects.filter(program=program, status="active")
        .order_by("id")
        .values_list("id", flat=True)[: writes * 7 : 7]
    )
    lags = []
    for number, member_id in enumerate(members, 1):
        member = Member.objects.get(pk=member_id)
        external_id = f"replica-{os.getpid()}-{number}"
        purchase_create(
            member=member, external_id=external_id, amount=Decimal("25.00"), currency="USD", at=timezone.now()
        )
        committed = time.monotonic()
        polls = 0
        with replica.cursor() as cursor:
            while True:
                polls += 1
                cursor.execute(
                    "SELECT 1 FROM ledger_purchase WHERE program_id = %s AND external_id = %s",
                    [program.pk, external_id],
                )
                if cursor.fetchone():
                    break
                if time.monotonic() - committed > 10:
                    raise SystemExit(f"purchase {external_id} not on the replica after 10 s")
        lags.append(time.monotonic() - committed)
        if number <= 3 or number == len(members):
            log(
                f"write {number}: purchase {external_id} on the replica after "
                f"{lags[-1] * 1000:.1f} ms ({polls} reads)"
            )
    seen = (
        Purchase.objects.using("replica")
        .filter(program=program, external_id__startswith=f"replica-{os.getpid()}-")
        .count()
    )
    second = dashboard()
    log(f"dashboard again: {json.dumps(second)}")
    with primary.cursor() as cursor:
        cursor.execute(
            "SELECT application_name, state, sync_state, write_lag, flush_lag, replay_lag "
            "FROM pg_stat_replication"
        )
        replication = [[str(value) for value in row] for row in cursor.fetchall()]
    user.delete()
    lags_ms = sorted(lag * 1000 for lag in lags)
    return {
        "replica_in_recovery": in_recovery,
        "replica_refuses_writes": read_only,
        "dashboard_first": first,
        "dashboard_after_writes": second,
        "writes": len(lags),
        "writes_seen_on_replica": seen,
        "lag_ms": {
            "min": round(lags_ms[0], 2),
            "median": round(statistics.median(lags_ms), 2),
            "p95": round(lags_ms[int(0.95 * (len(lags_ms) - 1))], 2),
            "max": round(lags_ms[-1], 2),
        },
        "within_a_second": lags_ms[-1] < 1000,
        "pg_stat_replication": replication,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1000, help="size of the fresh data set")
    parser.add_argument("--writes", type=int, default=20, help="purchases written on the primary")
    parser.add_argument(
        "--keep-data", action="store_true", help="use BENCH_DATABASE_URL as it is and keep it"
    )
    args = parser.parse_args()
    server = os.environ.get("PRIMARY_URL", "postgres://postgres@127.0.0.1:5432")
    admin_url = f"{server}/postgres"
    database_url = os.environ.get("BENCH_DATABASE_URL", f"{server}/loyalty_bench_replica")
    database = database_url.rsplit("/", 1)[1]
    host_port = server.rsplit("@", 1)[1]
    host, port = host_port.split(":") if ":" in host_port else (host_port, "5432")

    results: dict = {"primary": primary_prepare(admin_url)}
    if not args.keep_data:
        started = time.monotonic()
        build_dataset(database_url, args.members)
        results["dataset"] = {"members": args.members, "build_seconds": round(time.monotonic() - started, 1)}
        log(f"data set: {args.members} members in {results['dataset']['build_seconds']} s ({database})")
    workdir = Path(tempfile.mkdtemp(prefix="loyalty-replica-"))
    standby = Standby(primary_host=host, primary_port=int(port), workdir=workdir)
    try:
        with __import__("psycopg").connect(admin_url) as conn:
            size = conn.execute(
                "SELECT pg_size_pretty(sum(pg_database_size(datname))) FROM pg_database"
            ).fetchone()[0]
        basebackup = standby.create()
        results["basebackup"] = {"seconds": round(basebackup, 1), "cluster_size": size}
        log(f"pg_basebackup: {size} in {basebackup:.1f} s into {standby.datadir}")
        standby.start()
        log(f"standby started on 127.0.0.1:{standby.port} (slot {standby.slot})")
        results.update(
            django_bench(primary_url=database_url, replica_url=standby.url(database), writes=args.writes)
        )
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up yet
            pass
        standby.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        drop_slot(admin_url, standby.slot)
        if not args.keep_data:
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        log("cleaned up: standby stopped, its directory removed, slot dropped")
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"lag (primary commit -> row on the replica), {results['writes']} writes: {results['lag_ms']} ms")
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
