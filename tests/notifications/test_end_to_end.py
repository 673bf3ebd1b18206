"""End to end with a real broker (Redis) and a real Celery worker process: a purchase through the
API -> the ledger emits points.earned -> the outbox row is committed -> the on-commit task goes
through Redis -> the worker POSTs the signed webhook to a local server, where it verifies."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create, merchant_create, program_create
from loyalty_site.celery import app as celery_app
from loyalty_site.core.presets import preset_apply
from notifications import signing
from notifications.models import OutboxStatus, WebhookDelivery

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_broker(settings, redis_url):
    """Point this process's Celery app at the tests' Redis (`redis_url`, which deletes the keys the
    test leaves) with a queue of its own (so no other worker on the machine takes our tasks), and
    turn on delivery at commit."""
    queue = f"e2e-{uuid.uuid4().hex[:10]}"
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_default_queue")}
    celery_app.conf.update(broker_url=redis_url, task_default_queue=queue)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    settings.NOTIFICATIONS_DELIVER_ON_COMMIT = True
    # the routes (`loyalty_site.celery.route_task`) put jobs and deliveries on our queue too
    settings.CELERY_JOBS_QUEUE = settings.CELERY_DELIVERY_QUEUE = queue
    yield redis_url, queue
    celery_app.conf.update(saved)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def worker(redis_broker, local_server, settings):
    """A real worker process on the test database (pytest-django's test_<name>), allowed to reach
    the local server as this process is."""
    broker_url, queue = redis_broker
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker_url,
        "WEBHOOK_PRIVATE_ALLOWLIST": settings.WEBHOOK_PRIVATE_ALLOWLIST,
        "LOYALTY_TESTING": "1",
        "LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "loyalty_site",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{queue}@localhost",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_purchase_through_the_api_arrives_as_a_signed_webhook(worker, local_server):
    program = program_create(
        merchant=merchant_create(name="E2E shop"), name="E2E", base_currency="AZN", time_zone="UTC"
    )
    preset_apply(program=program, preset="seed", at=timezone.now() - timedelta(days=1))
    _key, raw_key = api_key_create(program=program, name="pos")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    created = api.post(
        "/api/v1/webhooks/",
        {"url": local_server.url + "/loyalty", "events": ["points.earned"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    member = api.post("/api/v1/members/", {"phone": "+994501112233", "first_name": "Ada"}, format="json")
    assert member.status_code == 201, member.content
    purchase = api.post(
        "/api/v1/purchases/",
        {"member": member.json()["id"], "amount": "100.00", "currency": "AZN", "external_id": "R-1"},
        format="json",
    )
    assert purchase.status_code == 201, purchase.content
    points = purchase.json()["points_earned"]
    assert points > 0

    # two points.earned events: the registration bonus of the seed campaigns, then the purchase
    received = local_server.wait(2, timeout=45)
    if len(received) < 2:
        worker.terminate()
        pytest.fail("Webhooks missing. Worker log:\n" + worker.communicate(timeout=20)[0].decode()[-4000:])
    bodies = [r.json() for r in received]
    assert sorted((b["type"], b["data"]["kind"], b["data"]["points"]) for b in bodies) == [
        ("points.earned", "bonus", 100),
        ("points.earned", "earn", points),
    ]
    for request in received:
        assert signing.verify(secret=secret, headers=request.headers, body=request.body, now=int(time.time()))
        assert request.headers["Webhook-Id"] == request.json()["id"]
    [earned] = [b for b in bodies if b["data"]["kind"] == "earn"]
    assert earned["data"]["purchase_id"] == purchase.json()["id"]
    assert earned["data"]["member_id"] == member.json()["id"]
    # the worker recorded the deliveries (sent at once: the minute job never ran)
    for _ in range(50):
        if WebhookDelivery.objects.filter(status=OutboxStatus.DELIVERED).count() == 2:
            break
        time.sleep(0.1)
    assert sorted(WebhookDelivery.objects.values_list("status", "attempts", "last_status_code")) == [
        (OutboxStatus.DELIVERED, 1, 200),
        (OutboxStatus.DELIVERED, 1, 200),
    ]
