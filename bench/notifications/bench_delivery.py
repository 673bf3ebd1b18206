# ruff: noqa: E501 - SQL reads better unwrapped
"""Delivering a backlog of notifications: N pending e-mail notifications and M pending webhook
deliveries, drained by the `deliver_notifications` job, timed.

    .venv/bin/python -u bench/notifications/bench_delivery.py --template loyalty_jobs_100k \\
        --notifications 100000 --webhooks 100000

The data set's database (`--template`, a name or URL; default loyalty_bench_million, built by
bench/dataset/build.py) is copied to `--database` (default loyalty_bench_delivery, DROPPED first).
There the backlog is queued with set-based SQL: one `member.inactive` event per row (members in
id order, round the program's members when there are more rows than members), an e-mail
notification each (pending, due at AT) and, for `--webhooks`, a delivery each to one subscription
whose URL is a local receiver started by this script (`FakeReceiver`: a threaded HTTP server on
127.0.0.1 answering 204 and counting the requests, allowed by WEBHOOK_PRIVATE_ALLOWLIST). The
e-mails go to Django's `dummy` backend (EMAIL_URL=dummymail://: built and handed over, sent
nowhere), so what is timed is the job: claiming each row (`SELECT ... FOR UPDATE SKIP LOCKED`),
rendering and handing it over, signing and POSTing each webhook, recording each outcome.

`--workers N` runs N job processes at once (the Procfile's delivery queue scales out that way; rows
are claimed one at a time, so workers never send a row twice). Prints a Markdown table for
bench/README.md and writes bench/notifications/results-<rows>.json. `queue_backlog` and
`FakeReceiver` are also what the CI smoke test (tests/bench/test_delivery_bench.py) runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER = "postgres://postgres@127.0.0.1:5432"

QUEUE_SQL = """
WITH m AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total
    FROM accounts_member WHERE program_id = %(program)s
), rows AS (
    SELECT g AS n, m.id AS member_id FROM generate_series(0, %(rows)s - 1) g JOIN m ON m.n = g %% m.total
), e AS (
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, member_id, 'member.inactive',
        jsonb_build_object('member_id', member_id, 'message', 'We have not seen you for a month.'),
        %(at)s, 'bench-backlog:' || %(tag)s || ':' || n, %(at)s
    FROM rows
    RETURNING id, member_id, key
), n AS (
    INSERT INTO notifications_notification (program_id, member_id, event_id, channel, recipient, subject, body,
        status, attempts, next_attempt_at, last_error, created_at)
    SELECT %(program)s, member_id, id, 'email', 'member' || member_id || '@example.com', 'We miss you',
        'We have not seen you for a month: your points are waiting.', 'pending', 0, %(at)s, '', %(at)s
    FROM e WHERE split_part(key, ':', 3)::bigint < %(notifications)s
    RETURNING 1
), d AS (
    INSERT INTO notifications_webhookdelivery (event_id, subscription_id, status, attempts, next_attempt_at,
        last_error, last_response, created_at)
    SELECT id, %(subscription)s::bigint, 'pending', 0, %(at)s, '', '', %(at)s
    FROM e WHERE %(subscription)s::bigint IS NOT NULL AND split_part(key, ':', 3)::bigint < %(webhooks)s
    RETURNING 1
)
SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM n), (SELECT count(*) FROM d)
"""


class FakeReceiver:
    """A local webhook endpoint: answers every POST with 204 and counts them (thread-safe)."""

    def __init__(self) -> None:
        receiver = self
        self.count = 0
        self.ids: set[str] = set()
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.count += 1
                    receiver.ids.add(self.headers.get("webhook-id", ""))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> FakeReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def queue_backlog(*, program, at, notifications: int, webhooks: int, url: str | None, tag: str = "b") -> dict:
    """Queue the backlog (see the module): returns the rows written per table."""
    from django.db import connection

    from notifications.services import webhook_subscription_create

    subscription = None
    if webhooks:
        subscription, _secret = webhook_subscription_create(
            program=program, url=url, events=["member.inactive"], at=at, description="bench receiver"
        )
    rows = max(notifications, webhooks)
    with connection.cursor() as cursor:
        cursor.execute(
            QUEUE_SQL,
            {
                "program": program.pk,
                "rows": rows,
                "at": at,
                "tag": tag,
                "notifications": notifications,
                "webhooks": webhooks,
                "subscription": subscription.pk if subscription else None,
            },
        )
        events, queued, deliveries = cursor.fetchone()
        cursor.execute("ANALYZE notifications_notification")
        cursor.execute("ANALYZE notifications_webhookdelivery")
    return {"events": events, "notifications": queued, "webhook_deliveries": deliveries}


def statuses() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'notifications', status, count(*) FROM notifications_notification GROUP BY status "
            "UNION ALL SELECT 'webhook_deliveries', status, count(*) FROM notifications_webhookdelivery GROUP BY status"
        )
        out: dict = {}
        for table, status, count in cursor.fetchall():
            out.setdefault(table, {})[status] = count
    return out


def _worker(at_iso: str, out) -> None:  # a separate process: its own connection
    import django

    django.setup()
    from datetime import datetime

    from loyalty_site.core.jobs import run_job

    out.put(run_job("deliver_notifications", at=datetime.fromisoformat(at_iso)))


def drain(*, at, workers: int = 1) -> dict:
    """Run `deliver_notifications` at `at` in `workers` processes at once; the summed counts."""
    if workers == 1:
        from loyalty_site.core.jobs import run_job

        return run_job("deliver_notifications", at=at)
    import multiprocessing

    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes = [context.Process(target=_worker, args=(at.isoformat(), out)) for _ in range(workers)]
    for process in processes:
        process.start()
    totals: dict = {}
    for _process in processes:
        for key, value in out.get().items():
            totals[key] = totals.get(key, 0) + value
    for process in processes:
        process.join()
    return totals


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--template", default="loyalty_bench_million", help="The data set (a name or URL).")
    parser.add_argument("--database", default="loyalty_bench_delivery", help="Where to run (DROPPED first).")
    parser.add_argument("--notifications", type=int, default=100_000)
    parser.add_argument("--webhooks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="Do not copy the template again.")
    args = parser.parse_args()

    def url(value: str) -> str:
        return value if "://" in value else f"{SERVER}/{value}"

    database, template = url(args.database), url(args.template)
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database
    os.environ.setdefault("LOYALTY_TESTING", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["EMAIL_URL"] = "dummymail://"
    receiver = FakeReceiver()
    os.environ["WEBHOOK_PRIVATE_ALLOWLIST"] = receiver.address
    print(f"data set {template} -> {database}; load average {load_average()}", flush=True)
    if not args.keep:
        import psycopg

        base, name = database.rsplit("/", 1)
        started = time.monotonic()
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.rsplit("/", 1)[1]}"')
        print(f"copied the data set in {time.monotonic() - started:.1f} s", flush=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import Program
    from bench.dataset.build import AT

    program = Program.objects.get(name="Bench")
    with receiver:
        started = time.monotonic()
        queued = queue_backlog(
            program=program,
            at=AT,
            notifications=args.notifications,
            webhooks=args.webhooks,
            url=f"http://{receiver.address}/hook",
            tag=str(int(time.time())),
        )
        queue_seconds = time.monotonic() - started
        print("queued", queued, f"in {queue_seconds:.1f} s", flush=True)
        load_before = load_average()
        started = time.monotonic()
        summary = drain(at=AT, workers=args.workers)
        seconds = time.monotonic() - started
        received = receiver.count
    rows = queued["notifications"] + queued["webhook_deliveries"]
    result = {
        "notifications": queued["notifications"],
        "webhook_deliveries": queued["webhook_deliveries"],
        "workers": args.workers,
        "queue_seconds": round(queue_seconds, 2),
        "deliver_seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds) if seconds else None,
        "summary": summary,
        "statuses": statuses(),
        "receiver_requests": received,
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
    print(json.dumps(result, indent=2, default=str))
    out = Path(__file__).with_name(f"results-{rows}.json")
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(
        "| backlog | workers | delivered | seconds | rows/s | load |\n|---|---|---|---|---|---|\n"
        f"| {queued['notifications']} e-mails + {queued['webhook_deliveries']} webhooks | {args.workers} | "
        f"{summary.get('notifications_sent', 0)} + {summary.get('webhooks_sent', 0)} (receiver: {received}) | "
        f"{seconds:.1f} | {result['rows_per_second']} | {load_before} → {result['load_average_after']} |"
    )


if __name__ == "__main__":
    main()
