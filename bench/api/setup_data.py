"""Build the benchmark's data set: the seed program, N members with history, the floor's tables.

    DJANGO_SETTINGS_MODULE=bench.api.settings DATABASE_URL=postgres://.../loyalty_bench \
        .venv/bin/python -m bench.api.setup_data --members 10000

Members are inserted in bulk (their enrolment hooks would only add a registration bonus); their
history goes through the real `purchase_create` (pricing, campaigns, ledger, tiers), one or two
purchases each over the last 30 days, so tiers, lots, entries and campaign grants are realistic.
Writes the API key and the member id range to bench/api/state.json (not committed).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import services as account_services  # noqa: E402
from accounts.models import Member, Merchant, Program  # noqa: E402
from bench.api.urls import CREATE_TABLES  # noqa: E402
from checkout.purchases import purchase_create  # noqa: E402
from loyalty_site.core.errors import LoyaltyError  # noqa: E402
from loyalty_site.core.presets import preset_apply  # noqa: E402
from tiers.models import Tier  # noqa: E402

STATE = Path(__file__).with_name("state.json")
CURRENCIES = ["USD", "USD", "AZN", "AZN", "EUR", "GBP"]


def bench_card_number(index: int) -> str:
    """Deterministic, Luhn-valid and outside the real generator's 700 prefix: no collisions."""
    body = f"709{index:09d}"
    return body + account_services.luhn_check_digit(body)


def floor_tables(accounts: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLES)
        cursor.execute("TRUNCATE bench_history")
        cursor.execute(
            "INSERT INTO bench_account (id, balance) SELECT g, 0 FROM generate_series(1, %s) g "
            "ON CONFLICT (id) DO NOTHING",
            [accounts],
        )


def try_purchase(**kwargs) -> None:
    try:
        purchase_create(**kwargs)
    except LoyaltyError as error:  # e.g. a fraud rule: that member simply has less history
        print(f"skipped {kwargs['external_id']}: {error.code}", flush=True)


def history(*, program, shard: int, shards: int) -> None:
    now = timezone.now()
    members = [
        member
        for member in Member.objects.filter(program=program, purchases__isnull=True)
        .select_related("program", "tier")
        .order_by("id")
        if member.pk % shards == shard
    ]
    started = time.monotonic()
    for done, member in enumerate(members, start=1):
        # One transaction per purchase (as in production): a campaign's budget counter is a hot row.
        for number in range(random.randint(1, 2)):
            try_purchase(
                member=member,
                external_id=f"hist-{member.pk}-{number}",
                amount=Decimal(random.randint(500, 30000)) / 100,
                currency=random.choice(CURRENCIES),
                at=now,
                occurred_at=now - timedelta(days=30 - number * 7, minutes=random.randint(0, 1000)),
            )
        if done % 500 == 0 or done == len(members):
            print(
                f"history {shard}/{shards}: {done}/{len(members)}, {time.monotonic() - started:.0f}s",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--history-shard", default=None, help="i/n: only the history of members with id %% n == i"
    )
    args = parser.parse_args()
    with connection.cursor() as cursor:  # bulk load: no need to wait for each commit's fsync
        cursor.execute("SET synchronous_commit = off")
    if args.history_shard:
        shard, shards = (int(part) for part in args.history_shard.split("/"))
        random.seed(args.seed + shard)
        history(
            program=Program.objects.get(merchant__name="Bench shop", name="Bench"), shard=shard, shards=shards
        )
        return
    random.seed(args.seed)
    now = timezone.now()
    floor_tables(args.members)

    merchant, _ = Merchant.objects.get_or_create(name="Bench shop")
    program = Program.objects.filter(merchant=merchant, name="Bench").first()
    if program is None:
        program = account_services.program_create(merchant=merchant, name="Bench", base_currency="AZN")
        preset_apply(program=program, preset="seed", at=now - timedelta(days=60))
    _key, raw_key = account_services.api_key_create(program=program, name="bench")

    existing = Member.objects.filter(program=program).count()
    bronze = Tier.objects.get(program=program, rank=0)
    started = time.monotonic()
    batch = []
    for index in range(existing, args.members):
        batch.append(
            Member(
                program=program,
                external_id=f"bench-{index}",
                phone=f"+99450{2000000 + index:07d}",
                first_name="Bench",
                last_name=f"Member {index}",
                card_number=bench_card_number(index),
                card_token=account_services.card_token_generate(),
                referral_code=account_services.code_generate(10),
                tier=bronze,
                created_at=now - timedelta(days=60),
                last_activity_at=now - timedelta(days=60),
            )
        )
    Member.objects.bulk_create(batch, batch_size=1000)
    print(f"members: {args.members} ({len(batch)} new) in {time.monotonic() - started:.1f}s", flush=True)

    ids = list(Member.objects.filter(program=program).order_by("id").values_list("id", flat=True))
    STATE.write_text(
        json.dumps(
            {"api_key": raw_key, "program_id": program.pk, "member_first": ids[0], "member_count": len(ids)}
        )
    )
    print(f"state written to {STATE}: members {ids[0]}..{ids[-1]}")


if __name__ == "__main__":
    main()
