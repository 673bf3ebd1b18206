"""Peak memory of the CSV exports against the number of rows: they stream, so it stays flat.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a set> \
        .venv/bin/python -u bench/exports/bench_exports.py
    ... --datasets entries --months 1 3 6 12        # the entries export over growing ranges
    ... --naive                                     # also the same rows held in memory, for contrast

Every export runs in a fresh process (so `ru_maxrss`, the process's peak resident set, belongs to
that export alone): Django set up, an owner logged in (Django's test Client: the whole middleware
stack and the real view, `/admin/reports/export/<name>.csv`), one small export to warm up imports
and the connection, the resident set read (baseline), then the export consumed chunk by chunk
(bytes counted, nothing kept). Reported: rows, bytes, seconds, the time to the first row, the
baseline and the peak resident set and their difference. `--naive` adds, per size, the same rows
fetched into a list (what a non-streaming export would hold) to show the difference.
The data set's moment is 22 Nov 2026 (bench/dataset/build.py): ranges end there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

END = date(2026, 11, 23)


def rss_kb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def child(name: str, months: int, naive: bool) -> dict:
    os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    os.environ.setdefault("LOYALTY_TESTING", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECURE_HTTPS", "0")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from accounts import services as account_services
    from accounts.models import Program
    from reports.exports import dataset_rows

    program = Program.objects.order_by("id").first()
    user = get_user_model().objects.filter(username="bench-export-analyst").first()
    if user is None:
        user = account_services.staff_user_create(
            merchant=program.merchant, username="bench-export-analyst", password="pw-12345!x", role="analyst"
        )
    client = Client()
    client.force_login(user)
    from reports.forms import MAX_RANGE_DAYS

    since = END - timedelta(days=min(round(months * 30.5), MAX_RANGE_DAYS - 1))  # the form's limit
    params = {"program": program.pk, "since": since.isoformat(), "until": END.isoformat()}
    # warm-up: imports, templates, the connection (a one-day range)
    warm = {**params, "since": (END - timedelta(days=1)).isoformat()}
    for _chunk in client.get(f"/admin/reports/export/{name}.csv", warm).streaming_content:
        pass
    baseline = rss_kb()
    started = time.perf_counter()
    if naive:
        from reports.exports import _cell

        start, end = _dates(program, since)
        rows = [
            [_cell(value) for value in row]
            for row in dataset_rows(name=name, program_ids=[program.pk], start=start, end=end)
        ]
        count, size, first = len(rows), sum(len(str(row)) for row in rows), None
    else:
        response = client.get(f"/admin/reports/export/{name}.csv", params)
        count = size = 0
        first = None
        for chunk in response.streaming_content:
            size += len(chunk)
            count += chunk.count(b"\n")
            if first is None and count > 1:
                first = time.perf_counter() - started
        count -= 1  # the header
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "dataset": name,
        "mode": "in memory (list)" if naive else "streamed (the view)",
        "months": months if name != "members" else None,
        "rows": count,
        "bytes": size,
        "seconds": round(seconds, 1),
        "first_row_seconds": round(first, 3) if first is not None else None,
        "baseline_rss_mb": round(baseline / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "growth_mb": round((peak - baseline) / 1024, 1),
    }


def _dates(program, since):
    from datetime import datetime
    from datetime import time as clock
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(program.time_zone or "UTC")
    return datetime.combine(since, clock.min, zone), datetime.combine(
        END + timedelta(days=1), clock.min, zone
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["members", "entries"])
    parser.add_argument("--months", nargs="+", type=int, default=[1, 3, 6, 12])
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("NAME", "MONTHS", "NAIVE"))
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench_million")
    if args.child:
        name, months, naive = args.child
        print(json.dumps(child(name, int(months), naive == "1")))
        return
    runs = []
    for name in args.datasets:
        sizes = [12] if name == "members" else args.months
        for months in sizes:
            for naive in [False, True] if args.naive else [False]:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", name, str(months), "1" if naive else "0"],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                result = json.loads(out.stdout.strip().splitlines()[-1])
                runs.append(result)
                print(json.dumps(result), flush=True)
    database = os.environ["BENCH_DATABASE_URL"].rsplit("/", 1)[1]
    target = Path(__file__).with_name(f"results-{database}.json")
    target.write_text(json.dumps({"load_average": os.getloadavg(), "runs": runs}, indent=2) + "\n")
    print(f"written {target}")


if __name__ == "__main__":
    main()
