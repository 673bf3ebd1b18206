"""A campaign's rules read as one sentence: "When a purchase is made, if the amount paid is at
least 30.00 AZN, give 50 points." For the admin's rules editor (shown above the rules it reads) and
the member's card (ways to earn). Reads only the rows it is given; no rule is evaluated here (the
engine does that), this only says what the rows mean.
"""

from __future__ import annotations

from decimal import Decimal

from .models import Campaign, CampaignCondition, CampaignReward, CouponKind

WEEKDAYS = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}


EVENTS = {
    "login": "logs in",
    "review": "writes a review",
    "task_completed": "completes a task",
    "nps": "answers the satisfaction survey",
    "profile_completed": "completes their profile",
    "social_share": "shares on social media",
}


def _number(value) -> str:
    """2.00 -> "2", 2.50 -> "2.5": how a person writes a factor or a percent."""
    return f"{Decimal(value).normalize():f}"


def _money(amount, currency: str) -> str:
    return f"{Decimal(amount):.2f} {currency}".strip()


def _join(parts: list[str]) -> str:
    parts = [part for part in parts if part]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def trigger_phrase(campaign: Campaign) -> str:
    trigger = campaign.trigger
    if trigger == Campaign.Trigger.PURCHASE:
        return "When a purchase is made"
    if trigger == Campaign.Trigger.REGISTRATION:
        return "When a member joins"
    if trigger == Campaign.Trigger.BIRTHDAY:
        return "On a member's birthday"
    if trigger == Campaign.Trigger.EVENT:
        event = campaign.event_type or ""
        if event in EVENTS:
            return f"When a member {EVENTS[event]}"
        return f"When a member's {event.replace('_', ' ') or 'event'} is recorded"
    if trigger == Campaign.Trigger.REFERRAL:
        return "When a referred member makes a first purchase"
    if trigger == Campaign.Trigger.SCHEDULE:
        schedule = {
            Campaign.Schedule.DAILY: "Every day",
            Campaign.Schedule.WEEKLY: "Every Monday",
            Campaign.Schedule.MONTHLY: "On the 1st of every month",
        }
        return schedule.get(campaign.schedule, "On a schedule")
    if trigger == Campaign.Trigger.INACTIVITY:
        return f"When a member has been inactive for {campaign.trigger_days or 'N'} days"
    if trigger == Campaign.Trigger.RATE_RISE:
        percent = _number(campaign.trigger_percent) if campaign.trigger_percent is not None else "N"
        currency = f"{campaign.trigger_currency} " if campaign.trigger_currency else ""
        return f"When the {currency}rate rises by {percent}% or more, on purchases in it"
    return campaign.get_trigger_display()


def condition_phrase(condition: CampaignCondition, *, currency: str = "") -> str:
    kind, Kind = condition.kind, CampaignCondition.Kind
    days = f"the last {condition.days} days" if condition.days else "the period"
    if kind == Kind.MIN_AMOUNT:
        return f"the amount paid is at least {_money(condition.amount or 0, currency)}"
    if kind == Kind.NTH_PURCHASE:
        return f"it is the member's purchase number {condition.count}"
    if kind == Kind.PURCHASES_IN_WINDOW:
        return f"the member made at least {condition.count} purchases in {days}"
    if kind == Kind.SPENT_IN_WINDOW:
        return f"the member spent at least {_money(condition.amount or 0, currency)} in {days}"
    if kind == Kind.TIER_IN:
        return f"the member's tier is {condition.value.replace(',', ' or ')}"
    if kind == Kind.SEGMENT_IN:
        return f"the member is in segment {condition.value.replace(',', ' or ')}"
    if kind == Kind.CONSECUTIVE_LOGINS:
        return f"the member logged in on {condition.count} days in a row"
    if kind == Kind.WEEKDAY_IN:
        names = []
        for part in condition.value.split(","):
            part = part.strip()
            names.append(WEEKDAYS.get(int(part), part) if part.isdigit() else part)
        return f"it is a {' or '.join(names)}"
    if kind == Kind.HOUR_BETWEEN:
        start, _, end = condition.value.partition("-")
        return f"it is between {start.strip()}:00 and {end.strip()}:00"
    if kind == Kind.FIRST_ORDER:
        return "it is the member's first purchase"
    if kind == Kind.CURRENCY_IN:
        return f"the purchase is in {condition.value.replace(',', ' or ')}"
    if kind == Kind.EVENT_DATA:
        key, _, value = condition.value.partition("=")
        return f"the event's {key.strip()} is {value.strip()}"
    if kind == Kind.MIN_SCORE:
        return f"the score is at least {condition.count}"
    return condition.get_kind_display()


def reward_phrase(reward: CampaignReward, *, currency: str = "") -> str:
    kind, Kind = reward.kind, CampaignReward.Kind
    if kind == Kind.POINTS:
        text = f"give {reward.points} points"
    elif kind == Kind.MULTIPLIER:
        text = f"multiply the purchase's points by {_number(reward.value)}"
    elif kind == Kind.PERCENT_POINTS:
        text = f"give {_number(reward.value)}% of the amount paid as points"
    elif kind == Kind.COUPON:
        if reward.coupon_kind == CouponKind.PERCENT:
            what = f"{_number(reward.value)}% off"
        elif reward.coupon_kind == CouponKind.FIXED:
            what = f"{_money(reward.value, currency)} off"
        else:
            what = f"{_number(reward.value)} bonus points"
        text = f"give a coupon for {what}"
        if reward.coupon_min_purchase:
            text += f" on {_money(reward.coupon_min_purchase, currency)} or more"
        if reward.days:
            text += f", valid {reward.days} days"
    elif kind == Kind.EXTEND_EXPIRY:
        text = f"extend the member's points by {reward.days} days"
    elif kind == Kind.NOTIFICATION:
        text = "send a message"
    else:
        text = reward.get_kind_display()
    if reward.recipient == CampaignReward.Recipient.REFERRER:
        text += " to the member who referred them"
    return text


LIMITS = {
    Campaign.Period.ONCE: "once per member",
    Campaign.Period.EACH: "",
    Campaign.Period.DAY: "at most once a day per member",
    Campaign.Period.WEEK: "at most once a week per member",
    Campaign.Period.MONTH: "at most once a month per member",
    Campaign.Period.YEAR: "at most once a year per member",
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
        sentence += ", if " + _join([condition_phrase(c, currency=currency) for c in conditions])
    if rewards:
        # the member's own rewards first, then their referrer's
        ordered = sorted(rewards, key=lambda r: r.recipient == CampaignReward.Recipient.REFERRER)
        sentence += ", " + _join([reward_phrase(r, currency=currency) for r in ordered])
    else:
        sentence += ", give nothing yet (add a reward)"
    limit = LIMITS.get(campaign.period, "")
    if limit:
        sentence += f", {limit}"
    return sentence + "."
