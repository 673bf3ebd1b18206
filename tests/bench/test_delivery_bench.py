"""The CI smoke run of the notification backlog bench (bench/notifications/bench_delivery.py): the
same queueing SQL and local webhook receiver, drained by the real job. 1 000 rows, not 10 000: in a
test's single transaction every delivered row leaves its dead index entry in the claim's path (no
commit, so nothing is pruned), and 10 000 rows took 215 s here, against seconds for the bench
itself, which commits every claim."""

from __future__ import annotations

import pytest
from django.core import mail

from bench.notifications.bench_delivery import FakeReceiver, queue_backlog, statuses
from loyalty_site.core.jobs import run_job
from tests.factories import MemberFactory, ProgramFactory


@pytest.mark.django_db
def test_a_1000_row_backlog_is_delivered_once_each(settings, now):
    program = ProgramFactory()
    for _ in range(7):  # fewer members than rows: the backlog goes round them
        MemberFactory(program=program, at=now)
    with FakeReceiver() as receiver:
        settings.WEBHOOK_PRIVATE_ALLOWLIST = receiver.address
        queued = queue_backlog(
            program=program, at=now, notifications=800, webhooks=200, url=f"http://{receiver.address}/hook"
        )
        assert queued == {"events": 800, "notifications": 800, "webhook_deliveries": 200}
        mail.outbox.clear()
        summary = run_job("deliver_notifications", at=now)
        assert summary["notifications_sent"] == 800 and summary["webhooks_sent"] == 200
        assert summary["notifications_failed"] == summary["webhooks_failed"] == 0
        assert receiver.count == len(receiver.ids) == 200  # each delivery once, its own Webhook-Id
    assert len([m for m in mail.outbox if m.subject == "We miss you"]) == 800
    done = statuses()
    assert done["notifications"].get("pending", 0) == done["webhook_deliveries"].get("pending", 0) == 0
    assert run_job("deliver_notifications", at=now)["notifications_sent"] == 0  # nothing twice
