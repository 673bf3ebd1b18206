"""The built-in campaign condition kinds (see campaigns.kinds). One class per kind."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from campaigns.models import ActivityEvent, CampaignCondition, SegmentMembership
from campaigns.selectors import (
    longest_streak,
    member_amount_spent,
    member_login_days,
    member_purchase_count,
)
from ledger.services import money_to_base
from loyalty_site.core.periods import period_window

from .base import ConditionKind, condition_kinds

Kind = CampaignCondition.Kind

WEEKDAYS = {
    1: _("Monday"),
    2: _("Tuesday"),
    3: _("Wednesday"),
    4: _("Thursday"),
    5: _("Friday"),
    6: _("Saturday"),
    7: _("Sunday"),
}


def values(text: str) -> list[str]:
    """The comma-separated codes of a condition's value."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def money(amount, currency: str) -> str:
    return f"{Decimal(amount):.2f} {currency}".strip()


def either(text: str) -> str:
    """'gold,silver' → 'gold or silver'."""
    return text.replace(",", " " + gettext("or") + " ")


def count_window(condition, campaign, ctx):
    """The time range [since, until) an in-window condition counts over: the last `days` days, else
    the job's window, else the campaign's period around `at`. For a purchase or an event `until`
    includes the moment itself (another purchase at the same instant counts; the purchase being
    priced is excluded and counted once by the caller)."""
    now = ctx.at + timedelta(microseconds=1)
    if condition.days:
        end = ctx.window[1] if ctx.window else now
        return end - timedelta(days=condition.days), end
    if ctx.window:
        return ctx.window
    window = period_window(campaign.period, ctx.at, campaign.program.tz)
    if window is None:
        return None, now
    return window[0], now if ctx.is_purchase else window[1]


def _window_phrase(condition) -> str:
    if condition.days:
        return ngettext("the last %(days)s day", "the last %(days)s days", condition.days) % {
            "days": condition.days
        }
    return gettext("the period")


def _local(ctx, campaign):
    return ctx.at.astimezone(campaign.program.tz)


@condition_kinds.register
class MinAmount(ConditionKind):
    code = Kind.MIN_AMOUNT
    label = _("Purchase amount paid ≥ amount")
    fields = ("amount",)
    queries = False

    def evaluate(self, condition, campaign, ctx) -> bool:
        return ctx.amount is not None and ctx.amount >= (condition.amount or 0)

    def describe(self, condition, *, currency=""):
        return gettext("the amount paid is at least %(amount)s") % {
            "amount": money(condition.amount or 0, currency)
        }


class _PurchaseHistory(ConditionKind):
    """A condition on the member's purchases before this one: live, every purchase made so far;
    replayed by the simulation, only those made by the replayed moment."""

    def purchases_before(self, ctx, *, replay: bool) -> int:
        until = ctx.at + timedelta(microseconds=1) if replay else None
        return member_purchase_count(member=ctx.member, exclude=ctx.purchase, until=until)

    def holds(self, condition, count: int) -> bool:
        raise NotImplementedError

    def evaluate(self, condition, campaign, ctx) -> bool:
        return ctx.is_purchase and self.holds(condition, self.purchases_before(ctx, replay=False))

    def simulate(self, condition, campaign, ctx) -> bool:
        return ctx.is_purchase and self.holds(condition, self.purchases_before(ctx, replay=True))

    def counted_windows(self, condition, campaign, ctx) -> list:
        return [(None, None)]


@condition_kinds.register
class NthPurchase(_PurchaseHistory):
    code = Kind.NTH_PURCHASE
    label = _("It is the member's Nth purchase (count)")
    fields = ("count",)

    def holds(self, condition, count: int) -> bool:
        return count + 1 == (condition.count or 0)

    def describe(self, condition, *, currency=""):
        return gettext("it is the member's purchase number %(count)s") % {"count": condition.count}


@condition_kinds.register
class PurchasesInWindow(ConditionKind):
    code = Kind.PURCHASES_IN_WINDOW
    label = _("Purchases in the last N days ≥ count")
    fields = ("count",)
    optional = ("days",)

    def evaluate(self, condition, campaign, ctx) -> bool:
        since, until = count_window(condition, campaign, ctx)
        count = member_purchase_count(member=ctx.member, exclude=ctx.purchase, since=since, until=until)
        current = 1 if ctx.is_purchase else 0  # the purchase being priced counts for itself
        return count + current >= (condition.count or 0)

    def describe(self, condition, *, currency=""):
        return ngettext(
            "the member made at least %(count)s purchase in %(window)s",
            "the member made at least %(count)s purchases in %(window)s",
            condition.count or 0,
        ) % {
            "count": condition.count,
            "window": _window_phrase(condition),
        }

    def counted_windows(self, condition, campaign, ctx) -> list:
        return [count_window(condition, campaign, ctx)]

    def schedule_candidates(self, condition, members, *, program, window):
        if condition.days:
            return members
        return members.filter(purchases__occurred_at__gte=window[0], purchases__occurred_at__lt=window[1])


@condition_kinds.register
class SpentInWindow(ConditionKind):
    code = Kind.SPENT_IN_WINDOW
    label = _("Amount spent in the last N days ≥ amount (base currency)")
    fields = ("amount",)
    optional = ("days",)

    def evaluate(self, condition, campaign, ctx) -> bool:
        since, until = count_window(condition, campaign, ctx)
        spent = member_amount_spent(member=ctx.member, since=since, until=until, exclude=ctx.purchase)
        if ctx.is_purchase and ctx.amount and ctx.currency:
            converted = money_to_base(
                program=campaign.program, amount=ctx.amount, currency=ctx.currency, at=ctx.at
            )
            spent += converted or 0
        return spent >= (condition.amount or 0)

    def describe(self, condition, *, currency=""):
        return gettext("the member spent at least %(amount)s in %(window)s") % {
            "amount": money(condition.amount or 0, currency),
            "window": _window_phrase(condition),
        }

    def schedule_candidates(self, condition, members, *, program, window):
        if condition.days:
            return members
        return members.filter(purchases__occurred_at__gte=window[0], purchases__occurred_at__lt=window[1])


@condition_kinds.register
class TierIn(ConditionKind):
    code = Kind.TIER_IN
    label = _("Member's tier is one of (codes in value)")
    fields = ("value",)
    queries = False

    def evaluate(self, condition, campaign, ctx) -> bool:
        member = ctx.member
        return member.tier_id is not None and member.tier.code in values(condition.value)

    def describe(self, condition, *, currency=""):
        return gettext("the member's tier is %(tiers)s") % {"tiers": either(condition.value)}


@condition_kinds.register
class SegmentIn(ConditionKind):
    code = Kind.SEGMENT_IN
    label = _("Member is in one of the segments (codes in value)")
    fields = ("value",)

    def evaluate(self, condition, campaign, ctx) -> bool:
        return SegmentMembership.objects.filter(
            member=ctx.member, segment__code__in=values(condition.value), segment__program=campaign.program_id
        ).exists()

    def describe(self, condition, *, currency=""):
        return gettext("the member is in segment %(segments)s") % {"segments": either(condition.value)}


@condition_kinds.register
class ConsecutiveLogins(ConditionKind):
    code = Kind.CONSECUTIVE_LOGINS
    label = _("Logins on ≥ count consecutive days in the period")
    fields = ("count",)
    optional = ("days",)

    def evaluate(self, condition, campaign, ctx) -> bool:
        since, until = count_window(condition, campaign, ctx)
        if since is None:
            return False
        days = member_login_days(member=ctx.member, since=since, until=until, tz=campaign.program.tz)
        return longest_streak(days) >= (condition.count or 0)

    def describe(self, condition, *, currency=""):
        return ngettext(
            "the member logged in on %(count)s day in a row",
            "the member logged in on %(count)s days in a row",
            condition.count or 0,
        ) % {"count": condition.count}

    def schedule_candidates(self, condition, members, *, program, window):
        if condition.days:
            return members
        logins = ActivityEvent.objects.filter(
            member__program=program, type="login", occurred_at__gte=window[0], occurred_at__lt=window[1]
        ).values("member_id")
        return members.filter(pk__in=logins)


@condition_kinds.register
class WeekdayIn(ConditionKind):
    code = Kind.WEEKDAY_IN
    label = _("Day of week is one of (value: 1=Mon … 7=Sun, e.g. '6,7')")
    fields = ("value",)
    queries = False

    def evaluate(self, condition, campaign, ctx) -> bool:
        return str(_local(ctx, campaign).isoweekday()) in values(condition.value)

    def describe(self, condition, *, currency=""):
        names = []
        for part in condition.value.split(","):
            part = part.strip()
            names.append(str(WEEKDAYS.get(int(part), part)) if part.isdigit() else part)
        return gettext("it is a %(days)s") % {"days": (" " + gettext("or") + " ").join(names)}


@condition_kinds.register
class HourBetween(ConditionKind):
    code = Kind.HOUR_BETWEEN
    label = _("Local hour between (value: '9-18', end excluded)")
    fields = ("value",)
    queries = False

    def validate(self, condition):
        errors = super().validate(condition)
        if condition.value and "-" not in condition.value:
            errors["value"] = gettext("Write the hours as start-end, e.g. 9-18.")
        return errors

    def evaluate(self, condition, campaign, ctx) -> bool:
        try:
            start, end = (int(part) for part in condition.value.split("-", 1))
        except ValueError:
            return False
        hour = _local(ctx, campaign).hour
        return start <= hour < end if start <= end else (hour >= start or hour < end)

    def describe(self, condition, *, currency=""):
        start, _sep, end = condition.value.partition("-")
        return gettext("it is between %(start)s:00 and %(end)s:00") % {
            "start": start.strip(),
            "end": end.strip(),
        }


@condition_kinds.register
class FirstOrder(_PurchaseHistory):
    code = Kind.FIRST_ORDER
    label = _("It is the member's first purchase")

    def holds(self, condition, count: int) -> bool:
        return count == 0

    def describe(self, condition, *, currency=""):
        return gettext("it is the member's first purchase")


@condition_kinds.register
class CurrencyIn(ConditionKind):
    code = Kind.CURRENCY_IN
    label = _("Purchase currency is one of (value, e.g. 'USD,EUR')")
    fields = ("value",)
    queries = False

    def evaluate(self, condition, campaign, ctx) -> bool:
        return ctx.currency is not None and ctx.currency in [v.upper() for v in values(condition.value)]

    def describe(self, condition, *, currency=""):
        return gettext("the purchase is in %(currencies)s") % {"currencies": either(condition.value)}


@condition_kinds.register
class EventData(ConditionKind):
    code = Kind.EVENT_DATA
    label = _("Event data value equals (value 'key=value', e.g. 'task=quiz')")
    fields = ("value",)
    queries = False

    def validate(self, condition):
        errors = super().validate(condition)
        if condition.value and "=" not in condition.value:
            errors["value"] = gettext("Write key=value, e.g. task=quiz.")
        return errors

    def evaluate(self, condition, campaign, ctx) -> bool:
        if ctx.event is None or "=" not in condition.value:
            return False
        key, expected = condition.value.split("=", 1)
        return str((ctx.event.data or {}).get(key.strip())) == expected.strip()

    def describe(self, condition, *, currency=""):
        key, _sep, value = condition.value.partition("=")
        return gettext("the event's %(key)s is %(value)s") % {"key": key.strip(), "value": value.strip()}


@condition_kinds.register
class MinScore(ConditionKind):
    code = Kind.MIN_SCORE
    label = _("NPS score ≥ count")
    fields = ("count",)
    queries = False

    def evaluate(self, condition, campaign, ctx) -> bool:
        if ctx.event is None:
            return False
        try:
            return int((ctx.event.data or {}).get("score")) >= (condition.count or 0)
        except (TypeError, ValueError):
            return False

    def describe(self, condition, *, currency=""):
        return gettext("the score is at least %(count)s") % {"count": condition.count}
