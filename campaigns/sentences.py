"""A campaign's rules read as one sentence: "When a purchase is made, if the amount paid is at
least 30.00 AZN, give 50 points." For the admin's rules editor (shown above the rules it reads) and
the member's card (ways to earn). Reads only the rows it is given; no rule is evaluated here (the
engine does that), this only says what the rows mean.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .kinds import condition_kinds, reward_kinds
from .models import Campaign, CampaignCondition, CampaignReward

EVENTS = {
    "login": _("When a member logs in"),
    "review": _("When a member writes a review"),
    "task_completed": _("When a member completes a task"),
    "nps": _("When a member answers the satisfaction survey"),
    "profile_completed": _("When a member completes their profile"),
    "social_share": _("When a member shares on social media"),
}


def _number(value) -> str:
    """2.00 -> "2", 2.50 -> "2.5": how a person writes a factor or a percent."""
    return f"{Decimal(value).normalize():f}"


def _join(parts: list[str]) -> str:
    parts = [part for part in parts if part]
    if len(parts) <= 1:
        return "".join(parts)
    return gettext("%(list)s and %(last)s") % {"list": ", ".join(parts[:-1]), "last": parts[-1]}


def trigger_phrase(campaign: Campaign) -> str:
    trigger = campaign.trigger
    if trigger == Campaign.Trigger.PURCHASE:
        return gettext("When a purchase is made")
    if trigger == Campaign.Trigger.REGISTRATION:
        return gettext("When a member joins")
    if trigger == Campaign.Trigger.BIRTHDAY:
        return gettext("On a member's birthday")
    if trigger == Campaign.Trigger.EVENT:
        event = campaign.event_type or ""
        if event in EVENTS:
            return str(EVENTS[event])
        if not event:
            return gettext("When a member's event is recorded")
        return gettext("When a member's %(event)s is recorded") % {"event": event.replace("_", " ")}
    if trigger == Campaign.Trigger.REFERRAL:
        return gettext("When a referred member makes a first purchase")
    if trigger == Campaign.Trigger.SCHEDULE:
        schedule = {
            Campaign.Schedule.DAILY: gettext("Every day"),
            Campaign.Schedule.WEEKLY: gettext("Every Monday"),
            Campaign.Schedule.MONTHLY: gettext("On the 1st of every month"),
        }
        return schedule.get(campaign.schedule, gettext("On a schedule"))
    if trigger == Campaign.Trigger.INACTIVITY:
        if not campaign.trigger_days:
            return gettext("When a member has been inactive for N days")
        return ngettext(
            "When a member has been inactive for %(days)s day",
            "When a member has been inactive for %(days)s days",
            campaign.trigger_days,
        ) % {"days": campaign.trigger_days}
    if trigger == Campaign.Trigger.RATE_RISE:
        percent = _number(campaign.trigger_percent) if campaign.trigger_percent is not None else "N"
        if campaign.trigger_currency:
            return gettext(
                "When the %(currency)s rate rises by %(percent)s%% or more, on purchases in it"
            ) % {"currency": campaign.trigger_currency, "percent": percent}
        return gettext("When the rate rises by %(percent)s%% or more, on purchases in it") % {
            "percent": percent
        }
    return campaign.get_trigger_display()


def condition_phrase(condition: CampaignCondition, *, currency: str = "") -> str:
    """The condition in words: its kind's `describe` (campaigns.kinds)."""
    kind = condition_kinds.get(condition.kind)
    return kind.describe(condition, currency=currency) if kind is not None else condition.kind


def reward_phrase(reward: CampaignReward, *, currency: str = "") -> str:
    """The reward in words: its kind's `describe` (campaigns.kinds), and who gets it."""
    kind = reward_kinds.get(reward.kind)
    text = kind.describe(reward, currency=currency) if kind is not None else reward.kind
    if reward.recipient == CampaignReward.Recipient.REFERRER:
        text += " " + gettext("to the member who referred them")
    return text


LIMITS = {
    Campaign.Period.ONCE: _("once per member"),
    Campaign.Period.EACH: "",
    Campaign.Period.DAY: _("at most once a day per member"),
    Campaign.Period.WEEK: _("at most once a week per member"),
    Campaign.Period.MONTH: _("at most once a month per member"),
    Campaign.Period.YEAR: _("at most once a year per member"),
}


def campaign_sentence(
    campaign: Campaign,
    conditions: list[CampaignCondition] | None = None,
    rewards: list[CampaignReward] | None = None,
) -> str:
    """The campaign's trigger, conditions, rewards and repeat limit as one sentence. `conditions`
    and `rewards` default to the saved ones (pass prefetched lists to save queries)."""
    currency = campaign.program.base_currency if campaign.program_id else ""
    conditions = list(campaign.conditions.all()) if conditions is None else conditions
    rewards = list(campaign.rewards.all()) if rewards is None else rewards
    sentence = trigger_phrase(campaign)
    if conditions:
        sentence = gettext("%(trigger)s, if %(conditions)s") % {
            "trigger": sentence,
            "conditions": _join([condition_phrase(c, currency=currency) for c in conditions]),
        }
    if rewards:
        # the member's own rewards first, then their referrer's
        ordered = sorted(rewards, key=lambda r: r.recipient == CampaignReward.Recipient.REFERRER)
        sentence = gettext("%(when)s, %(rewards)s") % {
            "when": sentence,
            "rewards": _join([reward_phrase(r, currency=currency) for r in ordered]),
        }
    else:
        sentence = gettext("%(when)s, give nothing yet (add a reward)") % {"when": sentence}
    limit = LIMITS.get(campaign.period, "")
    if limit:
        sentence = gettext("%(sentence)s, %(limit)s") % {"sentence": sentence, "limit": limit}
    return gettext("%(sentence)s.") % {"sentence": sentence}
