"""A sick broker never fails or stalls a request: with the broker's port refused, or a listener that
accepts connections and never answers, a purchase answers 201 within its normal time plus at most
0.5 s, its webhook stays pending, and the minute job delivers it; once the broker is back, publishing
after commit works again."""

import socket
import threading
import time
import uuid
from collections import Counter

import pytest
from django.utils import timezone

# The transports' modules are imported once per process (the first publish of a web process), not
# per request: import them here so the measured requests pay only what every request pays.
from kombu import Connection
from kombu.transport import pyamqp, redis  # noqa: F401

from loyalty_site.celery import app as celery_app
from loyalty_site.core.jobs import run_job
from notifications import publisher
from notifications.models import OutboxStatus, WebhookDelivery
from notifications.services import webhook_subscription_create
from tests.api.test_acceptance import enrol, seeded_tenant

pytestmark = pytest.mark.django_db

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
#: What a sick broker may add to a request.
ALLOWED_EXTRA_SECONDS = 0.5


@pytest.fixture
def black_hole():
    """A port that accepts connections and never answers (and never closes them)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def accept_forever():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept_forever, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for conn in held:
        conn.close()


@pytest.fixture
def refused_port():
    """A port nothing listens on (taken from the system, then released)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.fixture
def broker(settings):
    """Point publishing at a given broker URL (with a queue of this test's own); restore after."""
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_default_queue")}
    queue = f"sick-{uuid.uuid4().hex[:10]}"
    settings.NOTIFICATIONS_DELIVER_ON_COMMIT = True
    # the routes (`loyalty_site.celery.route_task`) send deliveries to CELERY_DELIVERY_QUEUE: ours here
    settings.CELERY_JOBS_QUEUE = settings.CELERY_DELIVERY_QUEUE = queue

    def use(url: str) -> str:
        celery_app.conf.update(broker_url=url, task_default_queue=queue)
        publisher.resume()
        return queue

    yield use
    celery_app.conf.update(saved)
    publisher.resume()


def timed_purchase(client, member_id: int, receipt: str, capture) -> float:
    """Seconds from the request to its after-commit work done (the publish runs there)."""
    body = {"member": member_id, "amount": "20.00", "currency": "AZN", "external_id": receipt}
    started = time.perf_counter()
    with capture(execute=True):
        response = client.post("/api/v1/purchases/", body, format="json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.content
    return elapsed


def hits(server) -> Counter:
    return Counter(request.headers["Webhook-Id"] for request in server.requests)


@pytest.mark.parametrize("transport", ["redis", "amqp"])
@pytest.mark.parametrize("fault", ["refused", "black_hole"])
def test_a_purchase_is_not_held_by_a_sick_broker_and_the_job_delivers_later(
    transport, fault, request, broker, local_server, settings, django_capture_on_commit_callbacks
):
    tenant = seeded_tenant()
    webhook_subscription_create(program=tenant.program, url=local_server.url, events=[])
    member_id = enrol(tenant.client)["id"]

    settings.NOTIFICATIONS_DELIVER_ON_COMMIT = False
    normal = max(
        timed_purchase(tenant.client, member_id, f"N-{n}", django_capture_on_commit_callbacks)
        for n in range(2)
    )

    port = request.getfixturevalue(fault if fault == "black_hole" else "refused_port")
    sick_url = (
        f"redis://127.0.0.1:{port}/0" if transport == "redis" else f"amqp://guest:guest@127.0.0.1:{port}//"
    )
    broker(sick_url)
    settings.NOTIFICATIONS_DELIVER_ON_COMMIT = True
    for n in range(2):
        publisher.resume()  # each request really tries (no pause carried over)
        elapsed = timed_purchase(tenant.client, member_id, f"S-{n}", django_capture_on_commit_callbacks)
        assert elapsed <= normal + ALLOWED_EXTRA_SECONDS, (elapsed, normal)
        assert publisher.paused()  # the failure was noticed: the next requests do not even try

    # every event of the sick period is still pending; the minute job delivers each once
    pending = WebhookDelivery.objects.filter(status=OutboxStatus.PENDING, attempts=0)
    assert pending.count() == WebhookDelivery.objects.count() > 0
    summary = run_job("deliver_notifications", at=timezone.now())
    assert summary["webhooks_sent"] == WebhookDelivery.objects.count()
    assert set(hits(local_server).values()) == {1}
    assert not WebhookDelivery.objects.exclude(status=OutboxStatus.DELIVERED).exists()

    # the broker is back: the next purchase's delivery is queued at once again
    good_url = request.getfixturevalue("redis_url") if transport == "redis" else RABBITMQ_URL
    queue = broker(good_url)
    timed_purchase(tenant.client, member_id, "B-1", django_capture_on_commit_callbacks)
    assert not publisher.paused()
    with Connection(good_url) as connection:
        channel = connection.default_channel
        assert channel.queue_declare(queue=queue, passive=True).message_count == 1
        channel.queue_delete(queue=queue)
