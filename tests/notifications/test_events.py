from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction

from accounts.services import member_update
from loyalty_site.core.events import event_emit
from notifications.models import (
    Channel,
    ChannelSettings,
    Event,
    MemberContact,
    Notification,
    NotificationTemplate,
    OutboxStatus,
    WebhookDelivery,
)
from notifications.presets import SEED_TEMPLATES, seed_notification_templates
from notifications.services import outbox_deliver, webhook_subscription_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def email_member(member):
    return member_update(member=member, data={"email": "Ada@Example.com", "first_name": "Ada"})


def test_event_with_a_key_is_stored_once_with_its_outbox(program, email_member, now):
    seed_notification_templates(program=program, at=now)
    webhook_subscription_create(
        program=program, url="https://example.com/h", events=["points.expiring"], at=now
    )
    for _ in range(2):
        event_emit(
            program=program,
            type="points.expiring",
            at=now,
            member=email_member,
            data={"points": 120, "expires_at": "2026-11-24T08:00:00+00:00"},
            key="points.expiring:lot:7",
        )
    event = Event.objects.get(type="points.expiring")
    assert event.key == "points.expiring:lot:7" and event.data["points"] == 120
    assert WebhookDelivery.objects.filter(event=event).count() == 1
    [note] = Notification.objects.filter(event=event)
    # chat is off by default and the member has no chat id: only the email
    assert (note.channel, note.recipient, note.status) == (
        Channel.EMAIL,
        "ada@example.com",
        OutboxStatus.PENDING,
    )
    assert note.subject == "120 points expire soon"
    assert note.body == (
        f"Hello Ada, 120 of your {program.name} points expire on 2026-11-24. "
        "Use them or shop with us to keep them."
    )


def test_events_without_key_are_all_stored(program, member, now):
    for _ in range(2):
        event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    assert Event.objects.filter(type="member.inactive").count() == 2


def test_rolled_back_cause_leaves_no_event_and_no_outbox(program, email_member, now):
    seed_notification_templates(program=program, at=now)
    with pytest.raises(RuntimeError), transaction.atomic():
        event_emit(program=program, type="member.birthday", at=now, member=email_member, data={})
        raise RuntimeError("the cause failed")
    assert not Event.objects.filter(type="member.birthday").exists()
    assert Notification.objects.count() == 0


def test_email_is_sent_through_the_django_backend(program, email_member, now, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    seed_notification_templates(program=program, at=now)
    ChannelSettings.objects.filter(program=program).update(email_from="club@shop.test")
    event_emit(
        program=program,
        type="tier.changed",
        at=now,
        member=email_member,
        data={"from_name": "Bronze", "to_name": "Silver"},
    )
    assert outbox_deliver(at=now)["notifications_sent"] == 1
    [message] = mail.outbox
    assert message.to == ["ada@example.com"] and message.from_email == "club@shop.test"
    assert message.subject == "You are now Silver"
    assert message.body == f"Hello Ada, your {program.name} level changed from Bronze to Silver."
    note = Notification.objects.get()
    assert (note.status, note.attempts, note.delivered_at) == (OutboxStatus.DELIVERED, 1, now)


def test_chat_bot_posts_to_the_configured_base_url(program, member, now, local_server):
    seed_notification_templates(program=program, at=now)
    ChannelSettings.objects.filter(program=program).update(
        chat_enabled=True, chat_base_url=local_server.url + "/tg", chat_bot_token="123:abc"
    )
    MemberContact.objects.create(member=member, channel=Channel.CHAT, address="98765")
    event_emit(program=program, type="member.winback", at=now, member=member, data={"idle_days": 61})
    assert outbox_deliver(at=now)["notifications_sent"] == 1
    [request] = local_server.requests
    assert request.path == "/tg/bot123:abc/sendMessage"
    assert request.json() == {
        "chat_id": "98765",
        "text": "Hello Test, it has been 61 days. Come back this week and earn extra points"
        " on your next purchase.",
    }


def test_chat_bot_failure_is_retried_with_backoff(program, member, now, local_server):
    local_server.status = 502
    seed_notification_templates(program=program, at=now)
    ChannelSettings.objects.filter(program=program).update(
        chat_enabled=True, chat_base_url=local_server.url, chat_bot_token="t"
    )
    MemberContact.objects.create(member=member, channel=Channel.CHAT, address="1")
    event_emit(program=program, type="member.winback", at=now, member=member, data={"idle_days": 61})
    assert outbox_deliver(at=now)["notifications_failed"] == 1
    note = Notification.objects.get()
    assert note.status == OutboxStatus.PENDING and note.attempts == 1
    assert note.next_attempt_at == now + timedelta(seconds=60)
    assert "502" in note.last_error


def test_broken_template_does_not_fail_the_cause(program, email_member, now):
    NotificationTemplate.objects.create(
        program=program, event_type="coupon.issued", channel=Channel.EMAIL, subject="x", body="{% if %}"
    )
    event_emit(program=program, type="coupon.issued", at=now, member=email_member, data={"code": "A"})
    note = Notification.objects.get()
    assert note.status == OutboxStatus.FAILED and note.last_error.startswith("template error")
    assert outbox_deliver(at=now)["notifications_sent"] == 0


def test_seed_preset_covers_every_event_of_the_brief_and_is_idempotent(program, now):
    seed_notification_templates(program=program, at=now)
    seed_notification_templates(program=program, at=now)
    assert set(SEED_TEMPLATES) == {
        "points.expiring",
        "points.expired",
        "points.decayed",
        "tier.changed",
        "reward.granted",
        "coupon.issued",
        "member.birthday",
        "member.inactive",
        "member.winback",
    }
    assert NotificationTemplate.objects.filter(program=program).count() == 2 * len(SEED_TEMPLATES)
    assert ChannelSettings.objects.filter(program=program).count() == 1


def test_member_created_is_an_event(program, now):
    from tests.factories import MemberFactory

    member = MemberFactory(program=program, at=now)
    event = Event.objects.get(type="member.created")
    assert (event.member, event.key, event.data["member_id"]) == (
        member,
        f"member.created:{member.pk}",
        member.pk,
    )


def test_many_events_are_stored_with_their_outbox_in_a_fixed_number_of_queries(
    program, now, django_assert_max_num_queries, local_server
):
    from loyalty_site.core.events import event_emit_many
    from tests.factories import MemberFactory

    seed_notification_templates(program=program, at=now)
    ChannelSettings.objects.filter(program=program).update(
        chat_enabled=True, chat_base_url=local_server.url, chat_bot_token="t"
    )
    webhook_subscription_create(program=program, url=local_server.url, events=["points.expiring"], at=now)
    members = [MemberFactory(program=program, at=now, email=f"m{i}@example.com") for i in range(30)]
    for member in members[:10]:
        MemberContact.objects.create(member=member, channel=Channel.CHAT, address=f"chat-{member.pk}")
    event_emit(
        program=program, type="points.expiring", at=now, member=members[0], data={"points": 1}, key="lot:0"
    )

    # one statement (events + configuration), deliveries, chat addresses, notifications
    with django_assert_max_num_queries(4):
        event_emit_many(
            program=program,
            type="points.expiring",
            at=now,
            events=[
                {"member": m, "data": {"points": 5, "expires_at": "2026-11-24"}, "key": f"lot:{i}"}
                for i, m in enumerate(members)
            ],
        )
    assert Event.objects.filter(type="points.expiring").count() == 30  # lot:0 was there already
    assert WebhookDelivery.objects.count() == 30
    assert Notification.objects.filter(channel=Channel.EMAIL).count() == 30
    assert Notification.objects.filter(channel=Channel.CHAT).count() == 10
    chat = Notification.objects.get(channel=Channel.CHAT, member=members[3])
    assert chat.recipient == f"chat-{members[3].pk}" and chat.body.startswith("Hello Test, 5 of your")


def test_stored_events_come_back_as_their_rows(program, member, now, django_assert_num_queries):
    from notifications.services import events_store_many

    event_emit(program=program, type="points.expiring", at=now, member=member, data={}, key="lot:1")
    stored = events_store_many(
        program=program,
        type="points.expiring",
        at=now,
        events=[
            {"member": member, "data": {"points": 5, "on": now.date()}, "key": "lot:1"},  # stored already
            {"member": member, "data": {"points": 7, "kind": "x"}, "key": "lot:2"},
            {"data": {"points": 9}},
        ],
    )
    assert [event.data for event in stored] == [{"points": 7, "kind": "x"}, {"points": 9}]
    for event in stored:
        row = Event.objects.get(pk=event.pk)
        assert (event.uid, event.type, event.at, event.key, event.created_at, event.member_id) == (
            row.uid,
            row.type,
            row.at,
            row.key,
            row.created_at,
            row.member_id,
        )
        assert event.uid.version == 4
    with django_assert_num_queries(0):  # the program and member are the caller's instances
        assert (stored[0].program, stored[0].member, stored[1].member) == (program, member, None)
        assert stored[0].member is member
