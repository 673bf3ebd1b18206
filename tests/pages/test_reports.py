"""The analytics dashboard's numbers and the event log's filters, through the admin pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.services import event_record
from checkout.purchases import purchase_create
from ledger.services import points_redeem
from reports import selectors
from tests.factories import MemberFactory, ProgramFactory


@pytest.fixture
def activity(seeded, moment):
    program, member = seeded
    at = moment
    second = MemberFactory(program=program, at=at, first_name="Second")
    purchase_create(member=member, external_id="d-1", amount=Decimal("100.00"), currency="USD", at=at)
    points_redeem(member=member, points=40, at=at, reference="d-redeem")
    for who, score in ((member, 10), (second, 9), (member, 3), (second, 7)):
        event_record(member=who, type="nps", occurred_at=at, data={"score": score})
    return program, member, second, at


def test_dashboard_numbers(client, staff_user, activity):
    program, member, second, at = activity
    client.force_login(staff_user(program.merchant, "analyst"))
    today = timezone.localtime(at, program.tz).date()
    since = today - timedelta(days=29)
    response = client.get("/admin/reports/", {"program": program.pk, "since": since, "until": today})
    assert response.status_code == 200
    data = response.context["data"]
    # two welcome bonuses of 100 and the purchase's 1176; one redemption of 40
    assert data["totals"] == {"earned": 100 + 100 + 1176, "spent": 40, "expired": 0}
    assert [d for d in data["flow"] if d["day"] == today] == [
        {"day": today, "earned": 1376, "spent": 40, "expired": 0}
    ]
    assert len(data["flow"]) == 30
    [liability] = data["liability"]
    assert (liability["points"], liability["value"], liability["currency"]) == (1336, Decimal("13.36"), "AZN")
    assert data["members"] == {"total": 2, "new": 2, "active": 2, "blocked": 0}
    assert data["tiers"] == [{"tier": "Bronze", "members": 1}, {"tier": "Silver", "members": 1}]
    [week] = data["nps"]
    # 2 promoters (10, 9), 1 detractor (3), 1 passive (7): (2 - 1) / 4 = 25
    assert (week["responses"], week["promoters"], week["detractors"], week["nps"]) == (4, 2, 1, 25)
    welcome = [row for row in data["campaigns"] if row["grants"]]
    assert [(r["grants"], r["members"], r["points"], r["cost"]) for r in welcome] == [
        (2, 2, 200, Decimal("2.00"))
    ]
    assert {s["code"] for s in data["segments"]} == {"low_value", "medium_value", "high_value"}


def test_dashboard_range_excludes_other_days(activity):
    program, _member, _second, at = activity
    day = timezone.localtime(at, program.tz).date()
    report = selectors.ReportFilter(
        programs=[program], since=day - timedelta(days=10), until=day - timedelta(days=1)
    )
    flow = selectors.points_flow_per_day(report=report)
    assert len(flow) == 10
    assert sum(d["earned"] + d["spent"] for d in flow) == 0


def test_dashboard_is_scoped_to_the_merchant(client, staff_user, activity):
    program = activity[0]
    stranger = ProgramFactory()
    client.force_login(staff_user(stranger.merchant, "owner"))
    response = client.get("/admin/reports/", {"program": program.pk})
    assert response.status_code == 200
    assert [p.pk for p in response.context["report"].programs] == [stranger.pk]
    assert response.context["data"]["totals"] == {"earned": 0, "spent": 0, "expired": 0}


def test_cashier_has_no_dashboard(client, staff_user, activity):
    client.force_login(staff_user(activity[0].merchant, "cashier"))
    assert client.get("/admin/reports/").status_code == 302


def test_event_log_filters(client, staff_user, activity):
    from notifications.models import Event

    program, member, second, _at = activity
    client.force_login(staff_user(program.merchant, "manager"))
    everything = client.get("/admin/reports/events/", {"program": program.pk})
    assert everything.status_code == 200
    total = Event.objects.filter(program=program).count()
    assert everything.context["page"].paginator.count == total > 0

    by_type = client.get("/admin/reports/events/", {"program": program.pk, "type": "reward.granted"})
    assert (
        by_type.context["page"].paginator.count
        == Event.objects.filter(program=program, type="reward.granted").count()
        == 2
    )

    by_member = client.get("/admin/reports/events/", {"program": program.pk, "member": member.card_number})
    events = list(by_member.context["page"].object_list)
    assert events and {e.member_id for e in events} == {member.pk}
    assert len(events) == Event.objects.filter(program=program, member=member).count()

    by_campaign = client.get(
        "/admin/reports/events/", {"program": program.pk, "campaign": "registration_bonus"}
    )
    rows = list(by_campaign.context["page"].object_list)
    assert (
        len(rows) == Event.objects.filter(program=program, data__campaign="registration_bonus").count() == 2
    )

    old = client.get(
        "/admin/reports/events/", {"program": program.pk, "since": "2020-01-01", "until": "2020-01-31"}
    )
    assert old.context["page"].paginator.count == 0
