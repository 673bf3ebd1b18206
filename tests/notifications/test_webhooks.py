import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.db.models import F

from loyalty_site.core.errors import InvalidInput
from loyalty_site.core.events import event_emit
from notifications import signing
from notifications.models import Event, OutboxStatus, WebhookDelivery, WebhookSubscription
from notifications.services import (
    BACKOFF_SECONDS,
    LEASE,
    MAX_ATTEMPTS,
    outbox_deliver,
    webhook_secret_rotate,
    webhook_subscription_create,
    webhook_subscription_delete,
)

pytestmark = pytest.mark.django_db


def standard_signature(secret: str, headers: dict, body: bytes) -> str:
    """Written from the Standard Webhooks spec, independently of notifications.signing."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['Webhook-Id']}.{headers['Webhook-Timestamp']}.{body.decode()}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_create_returns_a_whsec_secret_once_and_validates(program, now):
    subscription, secret = webhook_subscription_create(
        program=program, url="https://example.com/hook", events=["points.earned", "tier.changed"], at=now
    )
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    assert subscription.events == ["points.earned", "tier.changed"]
    assert subscription.secret == secret

    for url, events, field in [
        ("ftp://example.com", [], "url"),
        ("not a url", [], "url"),
        ("https://example.com", ["points.earned", "nope"], "events"),
    ]:
        with pytest.raises(InvalidInput) as error:
            webhook_subscription_create(program=program, url=url, events=events, at=now)
        assert field in error.value.fields
    assert WebhookSubscription.objects.count() == 1


def test_every_event_type_can_be_subscribed_to_in_the_api_and_the_admin(program, now):
    from loyalty_site.core.events import EVENT_TYPES
    from notifications.admin import WebhookSubscriptionForm

    subscription, _secret = webhook_subscription_create(
        program=program, url="https://example.com/crm", events=["member.birthday", "member.winback"], at=now
    )
    assert subscription.events == ["member.birthday", "member.winback"]
    choices = [value for value, _label in WebhookSubscriptionForm().fields["events"].choices]
    assert choices == list(EVENT_TYPES)
    assert {"member.birthday", "member.winback", "rate.review_due"} <= set(choices)


def test_event_is_delivered_signed_with_a_stable_id(program, member, now, local_server):
    subscription, secret = webhook_subscription_create(
        program=program, url=local_server.url + "/hook", events=["points.expiring"], at=now
    )
    event_emit(program=program, type="points.expiring", at=now, member=member, data={"points": 70}, key="k1")
    event_emit(program=program, type="points.expired", at=now, member=member, data={"points": 1})

    assert outbox_deliver(at=now)["webhooks_sent"] == 1
    [received] = local_server.requests
    event = Event.objects.get(key="k1")
    body = received.json()
    assert body == {
        "id": f"evt_{event.uid.hex}",
        "type": "points.expiring",
        "created_at": now.isoformat(),
        "data": {"points": 70},
    }
    assert received.headers["Webhook-Id"] == body["id"]
    assert abs(int(received.headers["Webhook-Timestamp"]) - time.time()) < 60
    assert received.headers["Webhook-Signature"] == standard_signature(
        secret, received.headers, received.body
    )
    assert signing.verify(secret=secret, headers=received.headers, body=received.body, now=int(time.time()))
    assert not signing.verify(
        secret=signing.secret_generate(), headers=received.headers, body=received.body, now=int(time.time())
    )
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (OutboxStatus.DELIVERED, 1, 200)
    # nothing is due any more
    assert outbox_deliver(at=now + timedelta(days=2))["webhooks_sent"] == 0
    assert len(local_server.requests) == 1


def test_failures_back_off_for_more_than_24_hours_then_give_up(program, member, now, local_server):
    local_server.status = 500
    webhook_subscription_create(program=program, url=local_server.url, events=[], at=now)
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    delivery = WebhookDelivery.objects.get()

    at = now
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert outbox_deliver(at=at - timedelta(seconds=1))["webhooks_failed"] == 0  # not yet due
        assert outbox_deliver(at=at)["webhooks_failed"] == 1
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert delivery.last_status_code == 500
        if attempt < MAX_ATTEMPTS:
            assert delivery.status == OutboxStatus.PENDING
            assert delivery.next_attempt_at == at + timedelta(seconds=BACKOFF_SECONDS[attempt - 1])
            at = delivery.next_attempt_at
    assert delivery.status == OutboxStatus.FAILED and delivery.next_attempt_at is None
    assert at - now >= timedelta(hours=24)
    ids = {r.headers["Webhook-Id"] for r in local_server.requests}
    assert len(local_server.requests) == MAX_ATTEMPTS and len(ids) == 1
    assert outbox_deliver(at=at + timedelta(days=7))["webhooks_failed"] == 0


def test_recovers_after_a_failure(program, member, now, local_server):
    local_server.status = 503
    webhook_subscription_create(program=program, url=local_server.url, events=[], at=now)
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    outbox_deliver(at=now)
    local_server.status = 204
    assert outbox_deliver(at=now + timedelta(seconds=60))["webhooks_sent"] == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (OutboxStatus.DELIVERED, 2, 204)
    assert local_server.requests[0].headers["Webhook-Id"] == local_server.requests[1].headers["Webhook-Id"]


def test_unreachable_endpoint_is_retried(program, member, now, settings):
    settings.WEBHOOK_PRIVATE_ALLOWLIST = "127.0.0.1:9"  # allowed, and nothing listens there
    webhook_subscription_create(program=program, url="http://127.0.0.1:9/nothing", events=[], at=now)
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    assert outbox_deliver(at=now) == {
        "webhooks_sent": 0,
        "webhooks_failed": 1,
        "notifications_sent": 0,
        "notifications_failed": 0,
    }
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == OutboxStatus.PENDING and delivery.last_status_code is None
    assert delivery.attempts == 1 and delivery.claim_token is None
    assert "ConnectionError" in delivery.last_error


def test_rotation_signs_with_both_secrets_during_the_grace(program, member, now, local_server):
    subscription, old = webhook_subscription_create(program=program, url=local_server.url, events=[], at=now)
    new = webhook_secret_rotate(subscription=subscription, at=now)
    assert new != old and subscription.secret == new and subscription.previous_secret == old

    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    outbox_deliver(at=now)
    event_emit(program=program, type="member.inactive", at=now + timedelta(hours=25), member=member, data={})
    outbox_deliver(at=now + timedelta(hours=25))

    during, after = local_server.requests
    clock = int(time.time())
    assert len(during.headers["Webhook-Signature"].split(" ")) == 2
    assert signing.verify(secret=new, headers=during.headers, body=during.body, now=clock)
    assert signing.verify(secret=old, headers=during.headers, body=during.body, now=clock)
    assert len(after.headers["Webhook-Signature"].split(" ")) == 1
    assert signing.verify(secret=new, headers=after.headers, body=after.body, now=clock)
    assert not signing.verify(secret=old, headers=after.headers, body=after.body, now=clock)


def test_stale_timestamp_does_not_verify(program):
    secret = signing.secret_generate()
    body = json.dumps({"a": 1}).encode()
    headers = signing.headers(secrets_=[secret], msg_id="evt_1", timestamp=1_000_000, body=body)
    assert signing.verify(secret=secret, headers=headers, body=body, now=1_000_100)
    assert not signing.verify(secret=secret, headers=headers, body=body, now=1_000_000 + 301)
    assert not signing.verify(secret=secret, headers=headers, body=body + b" ", now=1_000_100)


def test_delete_and_inactive_subscriptions_get_nothing(program, member, now, local_server):
    gone, _ = webhook_subscription_create(program=program, url=local_server.url, events=[], at=now)
    paused, _ = webhook_subscription_create(program=program, url=local_server.url, events=[], at=now)
    WebhookSubscription.objects.filter(pk=paused.pk).update(is_active=False)
    webhook_subscription_delete(subscription=gone)
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    assert WebhookDelivery.objects.count() == 0
    assert outbox_deliver(at=now)["webhooks_sent"] == 0 and local_server.requests == []


def test_a_worker_killed_after_claiming_leaves_the_row_to_be_sent_once_after_the_lease(
    program, member, now, local_server
):
    from notifications.delivery import _claim_next

    webhook_subscription_create(program=program, url=local_server.url, events=[], at=now)
    event_emit(program=program, type="member.inactive", at=now, member=member, data={})
    # a worker claims the row and dies before sending: the attempt is counted, nothing else
    assert _claim_next(WebhookDelivery, at=now) is not None
    # other workers leave it alone while the lease lasts, whatever moment they run for
    assert outbox_deliver(at=now + timedelta(days=1))["webhooks_sent"] == 0
    assert local_server.requests == []
    # the lease ends (its end moved back rather than waited for)
    WebhookDelivery.objects.update(claimed_until=F("claimed_until") - LEASE - timedelta(seconds=1))
    assert outbox_deliver(at=now)["webhooks_sent"] == 1
    assert outbox_deliver(at=now + timedelta(days=1))["webhooks_sent"] == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.claim_token) == (OutboxStatus.DELIVERED, 2, None)
    assert len(local_server.requests) == 1
