"""Benchmark of `manage.py import_members`: generate an N-row CSV, import it into a fresh seeded
program, import it again (idempotent re-run), then check the ledger invariant.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench_import
    .venv/bin/python manage.py migrate
    .venv/bin/python bench/import/bench_import.py --rows 100000 [--batch-size 2000] [--bad-every 1000]

The file: every row has external_id, phone (unique Azerbaijani mobile), first/last name and a
balance (0-5000); every 3rd row an email, every 5th a birth date, every 7th an expiry date, every
11th a tier code; every `--bad-every`th row is bad (an invalid phone). Prints one JSON line with the
timings (seconds), rows per second and the extrapolation to 1 000 000 rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")  # DEBUG stays off: no query log


def csv_write(path: Path, rows: int, *, bad_every: int, seed: int = 7) -> int:
    """Write the file; returns the number of bad rows."""
    rng = random.Random(seed)
    tiers = ["silver", "gold", "platinum"]
    bad = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "external_id",
                "phone",
                "email",
                "first_name",
                "last_name",
                "birth_date",
                "balance",
                "expires_at",
                "tier",
            ]
        )
        for n in range(1, rows + 1):
            phone = f"+99450{n:07d}"
            if bad_every and n % bad_every == 0:
                phone = "12"
                bad += 1
            writer.writerow(
                [
                    f"old-{n}",
                    phone,
                    f"m{n}@example.com" if n % 3 == 0 else "",
                    f"Name{n}",
                    "Imported",
                    f"19{50 + n % 50}-0{1 + n % 9}-1{n % 9}" if n % 5 == 0 else "",
                    rng.randint(0, 5000),
                    "2027-12-31" if n % 7 == 0 else "",
                    tiers[n % 3] if n % 11 == 0 else "",
                ]
            )
    return bad


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--bad-every", type=int, default=1000)
    parser.add_argument("--no-rerun", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from datetime import UTC, datetime

    from accounts.models import Member
    from accounts.services import merchant_create, program_create
    from ledger.jobs import ledger_reconcile
    from ledger.models import Posting
    from loyalty_site.core.presets import preset_apply

    at = datetime.now(UTC)
    merchant = merchant_create(name=f"Import bench {at:%Y%m%d%H%M%S%f}")
    program = program_create(merchant=merchant, name="Import bench", time_zone="Asia/Baku")
    preset_apply(program=program, preset="seed", at=at)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "members.csv"
        bad = csv_write(path, args.rows, bad_every=args.bad_every)
        size = path.stat().st_size
        command = [
            sys.executable,
            str(ROOT / "manage.py"),
            "import_members",
            str(path),
            "--program",
            str(program.pk),
            "--batch-size",
            str(args.batch_size),
            "--errors",
            str(Path(tmp) / "errors.txt"),
        ]
        started = time.perf_counter()
        first = subprocess.run(command, check=True, capture_output=True, text=True)
        first_seconds = time.perf_counter() - started
        summary = json.loads(first.stdout.strip().splitlines()[-1])
        errors = (Path(tmp) / "errors.txt").read_text().splitlines()
        rerun_seconds, rerun = None, None
        if not args.no_rerun:
            started = time.perf_counter()
            second = subprocess.run(command, check=True, capture_output=True, text=True)
            rerun_seconds = time.perf_counter() - started
            rerun = json.loads(second.stdout.strip().splitlines()[-1])

    started = time.perf_counter()
    reconcile = ledger_reconcile()
    reconcile_seconds = time.perf_counter() - started
    result = {
        "rows": args.rows,
        "file_mb": round(size / 1e6, 1),
        "batch_size": args.batch_size,
        "import_seconds": round(first_seconds, 1),
        "rows_per_second": round(args.rows / first_seconds),
        "extrapolated_1m_minutes": round(first_seconds * 1_000_000 / args.rows / 60, 1),
        "summary": summary,
        "bad_rows_expected": bad,
        "bad_rows_reported": len(errors),
        "rerun_seconds": round(rerun_seconds, 1) if rerun_seconds is not None else None,
        "rerun": rerun,
        "members": Member.objects.filter(program=program).count(),
        "postings": Posting.objects.filter(program=program).count(),
        "reconcile_mismatches": reconcile["mismatches"],
        "reconcile_unbalanced_postings": reconcile["unbalanced_postings"],
        "reconcile_seconds": round(reconcile_seconds, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
