"""The member list computes tier progress and expiring points for the whole page at once: the same
numbers as the detail view, in a number of queries that does not grow with the page."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import member_create
from ledger.services import points_bonus
from loyalty_site.core.presets import preset_apply


def _enrol(program, n, at):
    members = []
    for i in range(n):
        member = member_create(program=program, at=at, external_id=f"list-{i}")
        points_bonus(
            member=member, points=100 * (i + 1), at=at, reference=f"list-bonus-{i}", description="gift"
        )
        members.append(member)
    return members


def test_list_matches_detail_and_queries_do_not_grow_with_the_page(tenant, api):
    program = tenant.program
    at = timezone.now() - timedelta(days=program.points_lifetime_days) + timedelta(hours=10)
    preset_apply(program=program, preset="seed", at=at - timedelta(days=1))
    _enrol(program, 3, at)

    with CaptureQueriesContext(connection) as small:
        response = api.get("/api/v1/members/?page_size=3")
    assert response.status_code == 200
    listed = {row["id"]: row for row in response.json()["results"]}
    for member_id, row in listed.items():
        detail = api.get(f"/api/v1/members/{member_id}/").json()
        assert row["tier_progress"] == detail["tier_progress"]
        assert row["expiring_soon"] == detail["expiring_soon"]
    # every lot (the seed's 100-point welcome bonus and the gift) was earned a lifetime minus
    # 10 hours ago, so all of them expire within the 48-hour warning window
    expiring = sorted(sum(lot["points"] for lot in row["expiring_soon"]) for row in listed.values())
    assert expiring == [200, 300, 400]
    assert sorted(row["tier_progress"]["qualifying_points"] for row in listed.values()) == [200, 300, 400]

    member_ids_before = set(listed)
    for i in range(3, 12):
        member = member_create(program=program, at=at, external_id=f"list-{i}")
        points_bonus(member=member, points=10, at=at, reference=f"list-bonus-{i}", description="gift")
    with CaptureQueriesContext(connection) as large:
        response = api.get("/api/v1/members/?page_size=12")
    assert response.json()["count"] == 12
    assert member_ids_before <= {row["id"] for row in response.json()["results"]}
    assert len(large.captured_queries) == len(small.captured_queries)
