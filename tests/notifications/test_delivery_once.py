"""Each (event, subscription) is delivered once, however many senders run at the same time (the
task queued after commit and overlapping runs of the minute job), and a slow endpoint holds only
its own rows."""

import threading
from collections import Counter

import pytest
from django.db import connection

from loyalty_site.core.events import event_emit
from notifications.models import Event, OutboxStatus, WebhookDelivery
from notifications.services import outbox_deliver, webhook_subscription_create
from tests.factories import MemberFactory, ProgramFactory
from tests.notifications.conftest import LocalServer, serving


def run_in_threads(*calls) -> list:
    """Run each call in its own thread (own database connection), all released together."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            start.wait()
            results[index] = call()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def hits(server: LocalServer) -> Counter:
    return Counter(request.headers["Webhook-Id"] for request in server.requests)


@pytest.fixture
def second_server(local_server, settings):
    """Another subscriber's receiver."""
    with serving(settings) as server:
        yield server


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_slow_receiver_and_overlapping_runs_deliver_each_event_once(now, local_server, second_server):
    program = ProgramFactory()
    member = MemberFactory(program=program, at=now)
    local_server.delay = 0.2  # slow: every sender is still busy when the others look for work
    webhook_subscription_create(program=program, url=local_server.url, events=[], at=now)
    webhook_subscription_create(program=program, url=second_server.url, events=[], at=now)
    for n in range(6):
        event_emit(program=program, type="member.inactive", at=now, member=member, data={"n": n})
    event_ids = list(Event.objects.filter(type="member.inactive").values_list("id", flat=True))

    results = run_in_threads(
        lambda: outbox_deliver(at=now, event_ids=event_ids),  # the task queued after commit
        lambda: outbox_deliver(at=now),  # the minute job
        lambda: outbox_deliver(at=now),  # the next minute's run, overlapping
    )

    expected = {
        f"evt_{uid.hex}": 1 for uid in Event.objects.filter(id__in=event_ids).values_list("uid", flat=True)
    }
    assert hits(local_server) == expected
    assert hits(second_server) == expected
    assert sum(result["webhooks_sent"] for result in results) == 12
    assert sum(result["webhooks_failed"] for result in results) == 0
    assert sorted(set(WebhookDelivery.objects.values_list("status", "attempts", "claim_token"))) == [
        (OutboxStatus.DELIVERED, 1, None)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_does_not_answer_times_out_and_holds_no_other_subscriber(
    now, local_server, second_server, settings
):
    settings.OUTGOING_TIMEOUT = (0.5, 0.5)
    program = ProgramFactory()
    member = MemberFactory(program=program, at=now)
    local_server.delay = 3  # far beyond the read timeout
    hanging, _ = webhook_subscription_create(program=program, url=local_server.url, events=[], at=now)
    webhook_subscription_create(program=program, url=second_server.url, events=[], at=now)
    for n in range(4):
        event_emit(program=program, type="member.inactive", at=now, member=member, data={"n": n})

    counts = outbox_deliver(at=now)

    # one attempt at the hanging endpoint timed out; its other rows wait for the next run untouched
    assert counts == {
        "webhooks_sent": 4,
        "webhooks_failed": 1,
        "notifications_sent": 0,
        "notifications_failed": 0,
    }
    assert len(second_server.requests) == 4
    tried = WebhookDelivery.objects.filter(subscription=hanging, attempts=1)
    assert tried.count() == 1 and "Timeout" in tried.get().last_error
    assert (
        WebhookDelivery.objects.filter(subscription=hanging, attempts=0, status=OutboxStatus.PENDING).count()
        == 3
    )
