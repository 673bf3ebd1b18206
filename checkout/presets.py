"""The checkout's part of the demo preset: the demo members' purchases, through `purchase_create`
(the campaigns, coupons and segments the purchases feed come from the campaigns app)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from accounts.models import Member
from campaigns.coupons import coupon_batch_generate
from campaigns.models import ActivityEvent, CouponBatch
from campaigns.segments import segments_refresh
from campaigns.services import event_record
from ledger.models import CurrencyRate, Purchase
from loyalty_site.core.errors import LoyaltyError
from loyalty_site.core.presets import preset_step

from .purchases import purchase_create

DEMO_BATCH = "Demo flyers"


@preset_step("demo", order=40)
def demo_history(*, program, at) -> None:
    """Give the demo members (accounts' demo step) a little history: purchases over the last month
    (so the second-purchase bonus, the frequent-buyer coupon and the segments show data), logins on
    the last two days, a review, fresh segment sizes and a batch of 20 promo codes. Idempotent:
    purchases by external id, events once per member, the batch by name."""

    # purchases need an earn rate in force: a fresh program's seed rates start at `at`, so history
    # before them is moved up to the first rate (the demo then shows same-day purchases)
    first_rate = (
        CurrencyRate.objects.filter(program=program, currency=program.base_currency)
        .order_by("valid_from")
        .values_list("valid_from", flat=True)
        .first()
    )
    members = Member.objects.filter(program=program, external_id__startswith="demo-").order_by("pk")
    for index, member in enumerate(members, start=1):
        for number in range(index % 4 + 1):
            moment = at - timedelta(days=28 - 6 * number, hours=index)
            if first_rate is not None:
                moment = min(max(moment, first_rate + timedelta(minutes=index * 10 + number)), at)
            external_id = f"{member.external_id}-p{number + 1}"
            if (
                moment < member.created_at
                or Purchase.objects.filter(program=program, external_id=external_id).exists()
            ):
                continue
            try:
                purchase_create(
                    member=member,
                    external_id=external_id,
                    amount=Decimal(10 + 5 * index),
                    currency=program.base_currency,
                    at=at,
                    occurred_at=moment,
                )
            except LoyaltyError:
                break  # e.g. no earn rate for the base currency in this program: no purchase history
        events = [
            ("login", at - timedelta(days=2, hours=index)),
            ("login", at - timedelta(days=1, hours=index)),
        ]
        if index == 1:
            events.append(("review", at - timedelta(hours=3)))
        if ActivityEvent.objects.filter(member=member).exists():
            continue  # history given on an earlier run
        for kind, moment in events:
            if moment >= member.created_at:
                event_record(member=member, type=kind, occurred_at=moment, data={})
    segments_refresh(at=at, program=program)
    batch, _ = CouponBatch.objects.get_or_create(
        program=program,
        name=DEMO_BATCH,
        defaults={"prefix": "DEMO", "size": 20, "kind": "percent", "value": Decimal("10"), "created_at": at},
    )
    coupon_batch_generate(batch=batch)
