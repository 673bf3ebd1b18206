"""The built-in campaign reward kinds (see campaigns.kinds). One class per kind."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from campaigns.models import CampaignReward, CouponKind
from ledger import services as ledger
from ledger.models import Lot
from ledger.services import point_value_in
from loyalty_site.core.db import row_update
from loyalty_site.core.events import event_emit
from loyalty_site.core.money import money_round, points_floor

from .base import RewardKind, reward_kinds
from .conditions import money

Kind = CampaignReward.Kind


def number(value) -> str:
    """2.00 -> "2", 2.50 -> "2.5": how a person writes a factor or a percent."""
    return f"{Decimal(value).normalize():f}"


@reward_kinds.register
class Points(RewardKind):
    code = Kind.POINTS
    label = _("Fixed points")
    fields = ("points",)

    def validate(self, reward):
        return {} if reward.points else {"points": gettext("Give the number of points.")}

    def evaluate(self, reward, ctx) -> int:
        return int(reward.points)

    def fixed_points(self, reward) -> int:
        return int(reward.points)

    def describe(self, reward, *, currency=""):
        return ngettext("give %(points)s point", "give %(points)s points", reward.points) % {
            "points": reward.points
        }


class _ValueRequired(RewardKind):
    fields = ("value",)

    def validate(self, reward):
        return {} if reward.value else {"value": gettext("Give the factor or the percent.")}


@reward_kinds.register
class Multiplier(_ValueRequired):
    code = Kind.MULTIPLIER
    label = _("Multiply the purchase's points (value = factor, e.g. 2)")

    def evaluate(self, reward, ctx) -> int:
        return max(0, points_floor(Decimal(ctx.base_points) * (reward.value - 1)))

    def describe(self, reward, *, currency=""):
        return gettext("multiply the purchase's points by %(factor)s") % {"factor": number(reward.value)}


@reward_kinds.register
class PercentPoints(_ValueRequired):
    code = Kind.PERCENT_POINTS
    label = _("Percent of the amount paid as points (value = %)")

    def evaluate(self, reward, ctx) -> int:
        if not ctx.amount or not ctx.currency:
            return 0

        value = point_value_in(program=ctx.member.program, currency=ctx.currency, at=ctx.at)
        if not value:
            return 0
        return points_floor(ctx.amount * reward.value / Decimal(100) / value)

    def describe(self, reward, *, currency=""):
        return gettext("give %(percent)s%% of the amount paid as points") % {"percent": number(reward.value)}


@reward_kinds.register
class Coupon(RewardKind):
    code = Kind.COUPON
    label = _("A personal one-time coupon")
    fields = ("coupon_kind", "value")

    def validate(self, reward):
        errors = {}
        if not reward.coupon_kind:
            errors["coupon_kind"] = gettext("Choose the coupon's kind.")
        if not reward.value:
            errors["value"] = gettext("Give the coupon's percent, amount or points.")
        if reward.coupon_kind == CouponKind.PERCENT and reward.value and reward.value > 100:
            errors["value"] = gettext("A percent coupon takes at most 100 %.")
        return errors

    def summary(self, reward) -> str:
        unit = "%" if reward.coupon_kind == "percent" else ""
        return gettext("%(value)s%(unit)s coupon") % {"value": f"{reward.value.normalize():f}", "unit": unit}

    def describe(self, reward, *, currency=""):
        if reward.coupon_kind == CouponKind.PERCENT:
            what = gettext("%(percent)s%% off") % {"percent": number(reward.value)}
        elif reward.coupon_kind == CouponKind.FIXED:
            what = gettext("%(amount)s off") % {"amount": money(reward.value, currency)}
        else:
            what = gettext("%(points)s bonus points") % {"points": number(reward.value)}
        text = gettext("give a coupon for %(what)s") % {"what": what}
        if reward.coupon_min_purchase:
            text += " " + gettext("on %(amount)s or more") % {
                "amount": money(reward.coupon_min_purchase, currency)
            }
        if reward.days:
            text += ", " + ngettext("valid %(days)s day", "valid %(days)s days", reward.days) % {
                "days": reward.days
            }
        return text

    def give(self, reward, *, row, ctx, reference) -> None:
        from campaigns.coupons import coupon_issue

        campaign = row.campaign
        row.coupon = coupon_issue(
            program=campaign.program,
            member=row.member,
            kind=reward.coupon_kind or "percent",
            value=reward.value,
            at=ctx.at,
            valid_days=reward.days,
            min_purchase=reward.coupon_min_purchase,
            campaign=campaign,
        )
        row_update(row, ["coupon"])

    def value_of(self, reward, estimate, member_id: int | None) -> Decimal:
        """What the coupon would take off: fixed, its amount; points, their value; percent, of
        the member's average purchase in the simulation's lookback (else the program's)."""
        if reward.coupon_kind == "fixed":
            return money_round(reward.value)
        if reward.coupon_kind == "points":
            return estimate.program.points_value(int(reward.value))
        return money_round(estimate.average_paid(member_id) * reward.value / 100)

    def simulate(self, reward, estimate, member_id) -> None:
        estimate.coupons += 1
        estimate.coupon_cost += self.value_of(reward, estimate, member_id)

    def new_member_cost(self, reward, estimate) -> Decimal:
        return self.value_of(reward, estimate, None)


@reward_kinds.register
class ExtendExpiry(RewardKind):
    code = Kind.EXTEND_EXPIRY
    label = _("Extend the member's points by N days")
    fields = ("days",)

    def validate(self, reward):
        return {} if reward.days else {"days": gettext("Give the number of days.")}

    def summary(self, reward) -> str:
        return ngettext(
            "points extended by %(days)s day", "points extended by %(days)s days", reward.days
        ) % {"days": reward.days}

    def describe(self, reward, *, currency=""):
        return ngettext(
            "extend the member's points by %(days)s day",
            "extend the member's points by %(days)s days",
            reward.days,
        ) % {"days": reward.days}

    def give(self, reward, *, row, ctx, reference) -> None:
        if reward.days:
            ledger.points_extend(
                member=row.member, days=reward.days, at=ctx.at, reference=f"{reference}:extend"
            )

    def simulate(self, reward, estimate, member_id) -> None:
        """The member's points the extension would save: those that would expire within its days."""

        if not reward.days:
            return
        estimate.extended_points += (
            Lot.objects.filter(
                member_id=member_id,
                state="active",
                remaining__gt=0,
                expires_at__gte=estimate.at,
                expires_at__lt=estimate.at + timedelta(days=reward.days),
            ).aggregate(total=Sum("remaining"))["total"]
            or 0
        )


@reward_kinds.register
class Notification(RewardKind):
    code = Kind.NOTIFICATION
    label = _("A notification only")

    def describe(self, reward, *, currency=""):
        return gettext("send a message")

    def give(self, reward, *, row, ctx, reference) -> None:
        campaign, member, at = row.campaign, row.member, ctx.at
        event_emit(
            program=campaign.program,
            type=reward.notify_event or "reward.granted",
            at=at,
            member=member,
            key=f"{reward.notify_event or 'reward.granted'}:{row.pk}",
            data={
                "campaign": campaign.code,
                "campaign_name": campaign.name,
                "message": reward.message,
                "coupon": row.coupon.code if row.coupon_id else None,
                "idle_days": (at - member.last_activity_at).days if member.last_activity_at else None,
            },
        )
