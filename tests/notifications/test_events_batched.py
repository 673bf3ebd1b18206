"""Events emitted inside `events_batched()` are stored with one statement at the end of the block,
with the same events and outbox rows as emitting them one by one."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty_site.core.events import event_emit, event_emit_many, events_batched
from notifications import services
from notifications.models import (
    Channel,
    ChannelSettings,
    Event,
    MemberContact,
    Notification,
    OutboxStatus,
    WebhookDelivery,
)
from notifications.presets import seed_notification_templates
from notifications.services import events_store_mixed, webhook_subscription_create
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db

EVENTS_INSERT = "INSERT INTO notifications_event"


@pytest.fixture
def configured(program, now):
    """A program with the seed templates (none for points.earned), email and chat on, a member
    reachable on both, a subscription to every type and one to tier.changed only."""
    seed_notification_templates(program=program, at=now)
    ChannelSettings.objects.filter(program=program).update(chat_enabled=True, chat_bot_token="t")
    member = MemberFactory(program=program, at=now, email="ada@example.com", first_name="Ada")
    MemberContact.objects.create(member=member, channel=Channel.CHAT, address="chat-ada")
    everything, _ = webhook_subscription_create(
        program=program, url="https://a.example.com/h", events=[], at=now
    )
    tiers_only, _ = webhook_subscription_create(
        program=program, url="https://b.example.com/h", events=["tier.changed"], at=now
    )
    return member, everything, tiers_only


def _emit_three(program, member, at, suffix):
    event_emit(
        program=program,
        type="reward.granted",
        at=at,
        member=member,
        data={"points": 50, "campaign": "Welcome"},
        key=f"reward:{suffix}",
    )
    event_emit(
        program=program,
        type="tier.changed",
        at=at + timedelta(seconds=1),
        member=member,
        data={"from_name": "Bronze", "to_name": "Silver"},
        key=f"tier:{suffix}",
    )
    event_emit(
        program=program,
        type="points.earned",
        at=at + timedelta(seconds=2),
        member=member,
        data={"points": 120, "amount": Decimal("12.50"), "on": at.date()},
        key=f"earned:{suffix}",
    )


def _snapshot(suffix):
    """The events of `_emit_three(..., suffix)` (by id) with their outbox rows, without ids."""
    rows = []
    for event in Event.objects.filter(key__endswith=f":{suffix}").order_by("id"):
        deliveries = WebhookDelivery.objects.filter(event=event).order_by("subscription_id")
        notifications = Notification.objects.filter(event=event).order_by("channel")
        rows.append(
            (
                (
                    event.program_id,
                    event.member_id,
                    event.type,
                    event.data,
                    event.at,
                    event.key.split(":")[0],
                ),
                [
                    (d.subscription_id, d.status, d.attempts, d.next_attempt_at, d.created_at)
                    for d in deliveries
                ],
                [
                    (n.program_id, n.member_id, n.channel, n.recipient, n.subject, n.body, n.status)
                    + (n.next_attempt_at, n.created_at)
                    for n in notifications
                ],
            )
        )
    return rows


def _event_inserts(queries):
    return [q["sql"] for q in queries if EVENTS_INSERT in q["sql"]]


def test_three_events_of_a_block_are_stored_like_separate_emits_with_one_statement(program, now, configured):
    member, everything, tiers_only = configured
    with CaptureQueriesContext(connection) as one_by_one:
        _emit_three(program, member, now, "a")
    with transaction.atomic(), CaptureQueriesContext(connection) as batched, events_batched():
        _emit_three(program, member, now, "b")
        assert batched.captured_queries == []  # buffered until the block ends
    assert _snapshot("b") == _snapshot("a")
    [reward, tier, earned] = _snapshot("b")
    assert [row[0][2] for row in (reward, tier, earned)] == [
        "reward.granted",
        "tier.changed",
        "points.earned",
    ]
    assert earned[0][3] == {"points": 120, "amount": "12.50", "on": "2026-11-22"}
    # the tier-only subscription gets tier.changed alone
    assert [[d[0] for d in row[1]] for row in (reward, tier, earned)] == [
        [everything.pk],
        [everything.pk, tiers_only.pk],
        [everything.pk],
    ]
    assert [[n[2] for n in row[2]] for row in (reward, tier, earned)] == [
        [Channel.CHAT, Channel.EMAIL],
        [Channel.CHAT, Channel.EMAIL],
        [],  # no template for points.earned
    ]
    assert tier[2][1][4:6] == (
        "You are now Silver",
        f"Hello Ada, your {program.name} level changed from Bronze to Silver.",
    )
    assert len(_event_inserts(one_by_one.captured_queries)) == 3
    assert len(one_by_one.captured_queries) == 3 + 3 + 2 * 2  # + deliveries, + chat ids, notifications
    # one statement stores the three events; then the deliveries, the chat ids, the notifications
    assert len(_event_inserts(batched.captured_queries)) == 1
    assert len(batched.captured_queries) == 4


def test_a_block_without_outbox_rows_is_one_statement(program, member, now):
    with CaptureQueriesContext(connection) as queries, events_batched():
        event_emit(program=program, type="reward.granted", at=now, member=member, data={"points": 5})
        event_emit(program=program, type="tier.changed", at=now, member=member, data={"to_name": "Gold"})
        event_emit_many(
            program=program,
            type="points.earned",
            at=now + timedelta(hours=1),
            events=[{"member": member, "data": {"points": 1}, "key": "earned:1"}, {"data": {"points": 2}}],
        )
    assert len(queries.captured_queries) == 1
    stored = Event.objects.exclude(type="member.created").order_by("id")
    assert [(e.type, e.member_id, e.data, e.at, e.key) for e in stored] == [
        ("reward.granted", member.pk, {"points": 5}, now, None),
        ("tier.changed", member.pk, {"to_name": "Gold"}, now, None),
        ("points.earned", member.pk, {"points": 1}, now + timedelta(hours=1), "earned:1"),
        ("points.earned", None, {"points": 2}, now + timedelta(hours=1), None),
    ]


def test_a_block_mixes_programs_and_moments(program, now):
    seed_notification_templates(program=program, at=now)
    other = ProgramFactory()
    ada = MemberFactory(program=program, at=now, email="ada@example.com")
    bob = MemberFactory(program=other, at=now, email="bob@example.com")
    everything, _ = webhook_subscription_create(
        program=program, url="https://a.example.com/h", events=[], at=now
    )
    earned_only, _ = webhook_subscription_create(
        program=other, url="https://b.example.com/h", events=["points.earned"], at=now
    )
    hour = timedelta(hours=1)
    with CaptureQueriesContext(connection) as queries, events_batched():
        event_emit(program=program, type="reward.granted", at=now, member=ada, data={"points": 5}, key="k")
        event_emit(
            program=other, type="points.earned", at=now + hour, member=bob, data={"points": 7}, key="k"
        )
        event_emit(
            program=other, type="tier.changed", at=now + 2 * hour, member=bob, data={"to_name": "Gold"}
        )
        event_emit(
            program=program, type="tier.changed", at=now + 3 * hour, member=ada, data={"to_name": "Gold"}
        )
    events = list(Event.objects.exclude(type="member.created").order_by("id"))
    assert [(e.program_id, e.member_id, e.type, e.at) for e in events] == [
        (program.pk, ada.pk, "reward.granted", now),
        (other.pk, bob.pk, "points.earned", now + hour),
        (other.pk, bob.pk, "tier.changed", now + 2 * hour),
        (program.pk, ada.pk, "tier.changed", now + 3 * hour),
    ]
    deliveries = WebhookDelivery.objects.order_by("event_id").values_list(
        "event_id", "subscription_id", "created_at"
    )
    assert list(deliveries) == [
        (events[0].pk, everything.pk, now),
        (events[1].pk, earned_only.pk, now + hour),
        (events[3].pk, everything.pk, now + 3 * hour),
    ]
    # the other program has no templates; chat is off by default: ada's emails only
    notifications = Notification.objects.order_by("event_id").values_list(
        "event_id", "program_id", "recipient", "subject"
    )
    assert list(notifications) == [
        (events[0].pk, program.pk, "ada@example.com", "A reward for you"),
        (events[3].pk, program.pk, "ada@example.com", "You are now Gold"),
    ]
    assert len(_event_inserts(queries.captured_queries)) == 1
    assert len(queries.captured_queries) == 3  # events, deliveries, notifications


def test_a_repeated_key_keeps_the_first_event(program, member, now):
    other = ProgramFactory()
    event_emit(program=program, type="points.expiring", at=now, member=member, data={"n": 0}, key="k:0")
    with events_batched():
        event_emit(program=program, type="points.expiring", at=now, member=member, data={"n": 1}, key="k:0")
        event_emit(program=program, type="reward.granted", at=now, member=member, data={"n": 2}, key="k:1")
        event_emit(program=program, type="tier.changed", at=now, member=member, data={"n": 3}, key="k:1")
        event_emit(
            program=other, type="tier.changed", at=now, data={"n": 4}, key="k:1"
        )  # keys are per program
        event_emit(program=program, type="tier.changed", at=now, member=member, data={"n": 5})
    stored = Event.objects.exclude(type="member.created").order_by("id")
    assert [(e.program_id, e.type, e.data, e.key) for e in stored] == [
        (program.pk, "points.expiring", {"n": 0}, "k:0"),
        (program.pk, "reward.granted", {"n": 2}, "k:1"),
        (other.pk, "tier.changed", {"n": 4}, "k:1"),
        (program.pk, "tier.changed", {"n": 5}, None),
    ]


def test_the_store_returns_the_events_it_stored_in_order(program, member, now):
    event_emit(program=program, type="points.expiring", at=now, member=member, data={}, key="k:0")
    item = {"program": program, "at": now, "member": member}
    stored = events_store_mixed(
        events=[
            {**item, "type": "points.expiring", "data": {"n": 1}, "key": "k:0"},
            {**item, "type": "reward.granted", "data": {"n": 2}, "key": "k:1"},
            {**item, "type": "tier.changed", "data": {"n": 3}, "key": "k:1"},
            {
                **item,
                "type": "tier.changed",
                "data": {"n": 4, "on": now.date()},
                "at": now + timedelta(days=1),
            },
        ]
    )
    assert [(e.type, e.data, e.key, e.at) for e in stored] == [
        ("reward.granted", {"n": 2}, "k:1", now),
        ("tier.changed", {"n": 4, "on": "2026-11-22"}, None, now + timedelta(days=1)),
    ]
    for event in stored:
        row = Event.objects.get(pk=event.pk)
        assert (event.uid, event.type, event.data, event.at, event.created_at, event.member) == (
            row.uid,
            row.type,
            row.data,
            row.at,
            row.created_at,
            member,
        )
    assert stored[0].pk < stored[1].pk


def test_an_exception_stores_nothing(program, now, configured):
    member, _, _ = configured
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(RuntimeError),
        transaction.atomic(),
        events_batched(),
    ):
        _emit_three(program, member, now, "a")
        raise RuntimeError("the cause failed")
    assert _event_inserts(queries.captured_queries) == []
    assert _snapshot("a") == []
    assert (WebhookDelivery.objects.count(), Notification.objects.count()) == (0, 0)


def test_a_rolled_back_savepoint_in_a_nested_block_drops_its_events_only(program, now, configured):
    member, _, _ = configured
    with transaction.atomic(), events_batched():
        event_emit(
            program=program, type="reward.granted", at=now, member=member, data={"points": 1}, key="r:a"
        )
        try:
            with transaction.atomic(), events_batched():
                event_emit(program=program, type="tier.changed", at=now, member=member, data={}, key="t:a")
                raise RuntimeError("a step failed; the cause goes on without it")
        except RuntimeError:
            pass
        event_emit(
            program=program, type="points.earned", at=now, member=member, data={"points": 2}, key="p:a"
        )
    assert [row[0][2] for row in _snapshot("a")] == ["reward.granted", "points.earned"]
    assert WebhookDelivery.objects.count() == 2
    assert Notification.objects.filter(status=OutboxStatus.PENDING).count() == 2


def test_delivery_is_requested_once_after_commit(
    program, now, configured, monkeypatch, django_capture_on_commit_callbacks
):
    member, _, _ = configured
    published = []
    monkeypatch.setattr(services, "_publish", published.append)
    with django_capture_on_commit_callbacks(execute=True) as one_by_one:
        _emit_three(program, member, now, "a")
    with django_capture_on_commit_callbacks(execute=True) as batched, events_batched():
        _emit_three(program, member, now, "b")
    assert (len(one_by_one), len(batched)) == (3, 1)
    ids_a = sorted(Event.objects.filter(key__endswith=":a").values_list("pk", flat=True))
    ids_b = sorted(Event.objects.filter(key__endswith=":b").values_list("pk", flat=True))
    assert published == [[ids_a[0]], [ids_a[1]], [ids_a[2]], ids_b]
