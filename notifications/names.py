"""Names that events carry, read again in the reader's language (issue 19).

An event's data keeps the names as they were when it happened (`to_name`, `campaign_name`,
`reward_name`, a campaign's `message`), in whatever language was active then: webhooks get them so.
A notification is written for one member, so where the event also carries what the name belongs to
(a tier code, a campaign code, a reward id) the name is read again from that row in the member's
language (loyalty_site/core/content.py), else the event's own text stays."""

from __future__ import annotations

from typing import Any

from loyalty_site.core import content


class NameBook:
    """Rows looked up once per batch of events: (model, program id, key) -> row or None."""

    def __init__(self) -> None:
        self._rows: dict[tuple, Any] = {}

    def get(self, model, program_id: int, **lookup):
        key = (model, program_id, tuple(sorted(lookup.items())))
        if key not in self._rows:
            self._rows[key] = model.objects.filter(program_id=program_id, **lookup).first()
        return self._rows[key]

    def campaign_messages(self, campaign) -> list:
        key = ("messages", campaign.pk)
        if key not in self._rows:
            self._rows[key] = list(campaign.rewards.exclude(message=""))
        return self._rows[key]


def event_data_localized(*, data: dict, program, language: str, book: NameBook | None = None) -> dict:
    """A copy of an event's `data` with the names it carries in `language` (else the program's
    default language, else the event's text)."""
    from campaigns.models import Campaign
    from rewards.models import Reward
    from tiers.models import Tier

    book = book or NameBook()
    data = dict(data or {})

    def read(obj, field):
        return content.text(obj, field, language=language, program=program)

    for side in ("from", "to"):
        code = data.get(side)
        if data.get(f"{side}_name") and isinstance(code, str):
            tier = book.get(Tier, program.pk, code=code)
            if tier is not None:
                data[f"{side}_name"] = read(tier, "name")
    if isinstance(data.get("campaign"), str) and ("campaign_name" in data or data.get("message")):
        campaign = book.get(Campaign, program.pk, code=data["campaign"])
        if campaign is not None:
            if data.get("campaign_name"):
                data["campaign_name"] = read(campaign, "name")
            message = data.get("message")
            if message:
                for reward in book.campaign_messages(campaign):
                    if message in content.versions(reward, "message").values():
                        data["message"] = read(reward, "message")
                        break
    if data.get("reward_name") and isinstance(data.get("reward"), int):
        reward = book.get(Reward, program.pk, pk=data["reward"])
        if reward is not None:
            data["reward_name"] = read(reward, "name")
    return data
