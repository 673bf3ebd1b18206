"""Hook receivers: turn other apps' moments into events. (Posting events, points.earned and the
like, are emitted by the ledger itself in `Plan.commit`.)"""

from __future__ import annotations

from loyalty_site.core.events import event_emit


def member_data(member) -> dict:
    return {
        "member_id": member.pk,
        "external_id": member.external_id,
        "card_number": member.card_number,
    }


def member_created(*, member, at, **_: object) -> None:
    event_emit(
        program=member.program,
        type="member.created",
        at=at,
        member=member,
        data={**member_data(member), "first_name": member.first_name, "last_name": member.last_name},
        key=f"member.created:{member.pk}",
    )
