"""GET /api/v1/tasks/?member=: today's daily tasks with done / not done; the card shows them."""

from datetime import timedelta

from django.utils import timezone

from campaigns.models import DailyTask
from campaigns.services import event_record
from tests.factories import MemberFactory


def test_tasks_of_today_done_and_not_done(tenant, other_tenant, api):
    program = tenant.program
    for code, name in [("check_in", "Check in"), ("read_offer", "Read the offer"), ("share", "Share")]:
        DailyTask.objects.create(program=program, code=code, name=name, description=f"{name} today.")
    DailyTask.objects.create(program=program, code="old", name="Retired", is_active=False)
    member = MemberFactory(program=program, at=timezone.now() - timedelta(days=3))
    now = timezone.now()
    event_record(
        member=member, type="task_completed", occurred_at=now - timedelta(days=1), data={"task": "share"}
    )
    event_record(member=member, type="task_completed", occurred_at=now, data={"task": "check_in"})

    response = api.get(f"/api/v1/tasks/?member={member.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [(t["code"], t["name"], t["done"]) for t in body["results"]] == [
        ("check_in", "Check in", True),
        ("read_offer", "Read the offer", False),
        ("share", "Share", False),  # done yesterday, not today
    ]
    assert body["results"][0]["done_at"] is not None and body["results"][1]["done_at"] is None

    card = api.get(f"/card/{member.card_token}/")
    page = card.content.decode()
    assert (
        "Today's tasks" in page
        and "✓ <strong>Check in</strong>" in page
        and "○ <strong>Share</strong>" in page
    )

    foreign = MemberFactory(program=other_tenant.program)
    missing = api.get(f"/api/v1/tasks/?member={foreign.pk}")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    bad = api.get("/api/v1/tasks/")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid")
