"""A program with a year of history, built through the real services, on which every registered
job has something to do: lots about to expire and expired, idle members, a birthday, a fraud
breach, notifications and webhooks to send."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from django.apps import apps

from accounts.models import Member
from accounts.services import merchant_create, program_create
from fraud.models import FraudRule
from ledger.models import Lot, Posting
from ledger.services import points_earn
from loyalty_site.core.presets import preset_apply
from notifications.models import Event, Notification, WebhookDelivery
from notifications.services import webhook_subscription_create
from tests.factories import MemberFactory
from tests.notifications.conftest import local_server  # noqa: F401 - fixture

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
START = AT - timedelta(days=400)
PROJECT_APPS = {"accounts", "tiers", "ledger", "campaigns", "notifications", "fraud", "rewards"}


def world_build(*, webhook_url: str) -> dict[str, Member]:
    program = program_create(merchant=merchant_create(name="Jobs shop"), name="Jobs", time_zone="UTC")
    preset_apply(program=program, preset="seed", at=START)
    FraudRule.objects.create(
        program=program, name="3 in 10 minutes", window_minutes=10, max_count=2, enforce_in_real_time=False
    )
    webhook_subscription_create(program=program, url=webhook_url, events=[], at=START)

    def member(name, **extra):
        return MemberFactory(program=program, at=START, first_name=name, email=f"{name}@example.com", **extra)

    members = {name: member(name) for name in ("warn", "expire", "idle31", "idle61", "active", "fraud")}
    members["birthday"] = member("birthday", birth_date=date(1990, AT.month, AT.day))
    lifetime = timedelta(days=program.points_lifetime_days)
    points_earn(member=members["warn"], points=300, at=AT - lifetime + timedelta(hours=47), reference="w")
    points_earn(member=members["expire"], points=200, at=AT - lifetime - timedelta(hours=2), reference="e")
    points_earn(member=members["idle31"], points=1000, at=AT - timedelta(days=31), reference="i31")
    points_earn(member=members["idle61"], points=400, at=AT - timedelta(days=61), reference="i61")
    points_earn(member=members["active"], points=500, at=AT - timedelta(hours=1), reference="a")
    points_earn(member=members["birthday"], points=10, at=AT - timedelta(days=2), reference="b")
    for i in range(3):
        points_earn(member=members["fraud"], points=10, at=AT - timedelta(minutes=5 - i), reference=f"f{i}")
    return members


def effects() -> dict:
    """What the jobs change, independent of primary keys: row counts of every project model,
    each member's balance, status and tier, lot states, event and posting kinds, outbox states."""
    counts = {
        f"{m._meta.app_label}.{m.__name__}": m._default_manager.count()
        for m in apps.get_models()
        if m._meta.app_label in PROJECT_APPS
    }
    return {
        "counts": counts,
        "members": {
            m.first_name: (m.balance, m.pending_points, m.status, m.tier.code if m.tier else None)
            for m in Member.objects.select_related("tier")
        },
        "lots": dict(
            Counter(
                (lot.member.first_name, lot.state, lot.remaining)
                for lot in Lot.objects.select_related("member")
            )
        ),
        "events": dict(Counter(Event.objects.values_list("type", flat=True))),
        "postings": dict(Counter(Posting.objects.values_list("kind", flat=True))),
        "webhooks": dict(Counter(WebhookDelivery.objects.values_list("status", "attempts"))),
        "notifications": dict(Counter(Notification.objects.values_list("channel", "status", "attempts"))),
        "warned": Lot.objects.filter(warned_at__isnull=False).count(),
    }


@pytest.fixture
def world(db, local_server):  # noqa: F811
    return world_build(webhook_url=local_server.url)
