"""Reads behind the till's member panel and the member's card page.

Everything shown here comes from the owning apps' selectors (ledger, tiers, campaigns); this module
only gathers them into one dictionary a template can render, so no rule is ever duplicated.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import formats
from django.utils.translation import gettext, ngettext

from accounts.models import Member, Program
from campaigns.models import Campaign
from campaigns.selectors import coupons_for_member
from campaigns.sentences import campaign_sentence
from ledger.models import Lot, Posting, Purchase
from ledger.selectors import member_expiring_lots
from ledger.services import program_rates, purchase_money_returned, purchase_refundable, rate_in_force
from loyalty_site.core import content
from loyalty_site.core.money import Money
from tiers.models import Tier
from tiers.selectors import member_tier_progress as tier_progress


def member_points_value(*, member: Member, points: int | None = None) -> Money:
    """Money value of `points` (default: the member's balance) at the program's point value."""
    points = member.balance if points is None else points
    return Money(member.program.points_value(points), member.program.base_currency)


def member_tier_progress(*, member: Member, at: datetime) -> dict[str, Any]:
    """The tiers app's progress ({"qualifying_points", "next_tier", "points_to_next"}) plus, for the
    progress bar, `percent` of the way from the current tier's threshold to the next one."""
    progress = dict(tier_progress(member=member, at=at))
    qualifying = int(progress["qualifying_points"])
    floor = int(member.tier.threshold) if member.tier is not None else 0
    next_tier = progress["next_tier"]
    progress["next_tier_name"] = _tier_name(member=member, code=next_tier)
    if next_tier is None:
        progress["percent"] = 100
    else:
        span = max(qualifying + int(progress["points_to_next"]) - floor, 1)
        progress["percent"] = max(0, min(100, int((qualifying - floor) * 100 / span)))
    return progress


def _tier_name(*, member: Member, code: str | None) -> str | None:
    if not code:
        return None
    tier = Tier.objects.filter(program=member.program, code=code).first()
    return content.text(tier, "name", member=member, program=member.program) if tier is not None else code


def member_expiring(*, member: Member, at: datetime) -> list[dict[str, Any]]:
    """Lots expiring within the program's warning window: [{"points", "expires_at"}], soonest first
    (the ledger's selector already orders them)."""
    lots = member_expiring_lots(member=member, at=at).values_list("remaining", "expires_at")
    return [{"points": remaining, "expires_at": expires_at} for remaining, expires_at in lots]


def member_recent_entries(*, member: Member, limit: int = 10) -> list:
    """The member's latest ledger postings that changed their points, newest first. A posting is
    one business transaction (a purchase's earning, a redemption...), which is what a member
    recognises; its `points` + `pending_points` is the change to their total."""
    rows = (
        Posting.objects.filter(member=member)
        .exclude(points=0, pending_points=0)
        .exclude(kind="activate")  # pending points becoming spendable: no change to the total
        .order_by("-created_at", "-id")[:limit]
    )
    return [_entry_row(posting) for posting in rows]


def _entry_row(posting) -> dict[str, Any]:
    return {
        "created_at": posting.created_at,
        "kind": posting.kind,
        "description": posting.description or posting.get_kind_display(),
        "points": int(posting.points) + int(posting.pending_points),
    }


def member_recent_purchases(*, member: Member, limit: int = 5) -> list:
    """The member's latest purchases (refundable from the till), newest first; each with
    `refundable` (value left to refund, 0 once fully refunded), `money_returned` (money handed
    back so far) and `paid_with_points` (the value paid with points), all from the ledger's refund
    arithmetic."""
    purchases = list(Purchase.objects.filter(member=member).order_by("-occurred_at", "-id")[:limit])
    for purchase in purchases:
        purchase.refundable = purchase_refundable(purchase)
        purchase.money_returned = purchase_money_returned(purchase)
        purchase.paid_with_points = purchase.amount - purchase.discount_amount - purchase.amount_due
    return purchases


def member_search(*, program: Program, query: str, limit: int = 8) -> tuple[list[Member], bool]:
    """Members of `program` whose names (every word of `query` starts the first or last name) or
    external id (starting with `query`) match, by name; at most `limit`, and whether there are more.
    For the till's search when no exact identifier (`accounts.selectors.member_find`) matched."""
    words = query.split()
    if not words:
        return [], False
    by_name = Q()
    for word in words[:4]:
        by_name &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    matches = Q(external_id__istartswith=query.strip()) | by_name if len(words) == 1 else by_name
    rows = list(
        Member.objects.filter(program=program)
        .filter(matches)
        .select_related("tier")
        .order_by("last_name", "first_name", "id")[: limit + 1]
    )
    return rows[:limit], len(rows) > limit


def member_usable_coupons(*, member: Member, at: datetime) -> list:
    """Coupons the member can use now (the campaigns app's selector), each with `label`: what it
    gives, in words ("10% off", "5.00 AZN off", "50 bonus points")."""
    coupons = list(coupons_for_member(member=member, at=at))
    for coupon in coupons:
        coupon.label = coupon_label(coupon)
    return coupons


def coupon_label(coupon) -> str:
    """What a coupon gives, in words a member and a cashier read."""
    if coupon.kind == "percent":
        text = gettext("%(percent)s%% off") % {"percent": formats.localize(_plain(coupon.value))}
    elif coupon.kind == "fixed":
        amount = f"{formats.localize(coupon.value)} {coupon.currency}".strip()
        text = gettext("%(amount)s off") % {"amount": amount}
    else:
        points = int(coupon.value)
        text = ngettext("%(points)s bonus point", "%(points)s bonus points", points) % {"points": points}
    if coupon.min_purchase:
        text = gettext("%(offer)s on %(amount)s or more") % {
            "offer": text,
            "amount": formats.localize(coupon.min_purchase),
        }
    return text


def member_points_at_risk(*, member: Member, at: datetime, dates: int = 3) -> list[dict[str, Any]]:
    """The member's next expiries, whatever the warning window: [{"points", "expires_at",
    "soon"}] per program-local day, soonest first, at most `dates` days. `soon`: inside the
    program's expiry warning window (the points the expiry warning speaks of)."""
    lots = (
        Lot.objects.filter(member=member, state=Lot.State.ACTIVE, remaining__gt=0, expires_at__gt=at)
        .order_by("expires_at", "id")
        .values_list("remaining", "expires_at")[:200]
    )
    warning_end = at + timedelta(hours=member.program.expiry_warning_hours)
    days: dict = {}
    for remaining, expires_at in lots:
        day = expires_at.astimezone(member.program.tz).date()
        if day not in days:
            if len(days) == dates:
                break
            days[day] = {"points": 0, "expires_at": expires_at, "soon": expires_at <= warning_end}
        days[day]["points"] += int(remaining)
    return list(days.values())


def tier_privileges(tier: Tier | None, *, member: Member | None = None) -> list[str]:
    """What a tier gives, in the member's words, from its settings and its description."""
    if tier is None:
        return []
    privileges = []
    if tier.discount_percent:
        percent = formats.localize(_plain(tier.discount_percent))
        privileges.append(gettext("%(percent)s%% off every purchase") % {"percent": percent})
    if tier.earn_multiplier and tier.earn_multiplier != 1:
        extra = formats.localize(_plain((tier.earn_multiplier - 1) * 100))
        privileges.append(gettext("%(percent)s%% more points on every purchase") % {"percent": extra})
    if tier.gift_points:
        gift = {"points": tier.gift_points}
        if tier.gift_period:
            gift["period"] = tier.get_gift_period_display().lower()
            text = ngettext(
                "%(points)s gift point %(period)s", "%(points)s gift points %(period)s", tier.gift_points
            )
        else:
            text = ngettext("%(points)s gift point", "%(points)s gift points", tier.gift_points)
        privileges.append(text % gift)
    flags = [
        ("priority_support", gettext("Priority support")),
        ("fast_processing", gettext("Your requests handled first")),
        ("personal_manager", gettext("A personal manager")),
        ("event_invitations", gettext("Invitations to special events")),
        ("exclusive_campaigns", gettext("Members-only offers")),
    ]
    privileges.extend(text for field, text in flags if getattr(tier, field, False))
    description = content.text(tier, "description", member=member) if member else tier.description
    if description and not privileges:  # the merchant's words, when the settings say nothing
        privileges.append(description)
    return privileges


def _to_reach(program, missing: int) -> str:
    """How much more of the program's tier metric a member needs, in words."""
    metric = program.tier_metric
    values = {"count": missing, "currency": program.base_currency, "days": program.tier_window_days}
    if metric == program.TierMetric.AMOUNT_SPENT:
        text = gettext("Spend %(count)s %(currency)s more") % values
    elif metric == program.TierMetric.PURCHASES:
        text = ngettext("Make %(count)s more purchase", "Make %(count)s more purchases", missing) % values
    elif metric == program.TierMetric.VISITS:
        text = ngettext("Visit on %(count)s more day", "Visit on %(count)s more days", missing) % values
    else:
        text = ngettext("Earn %(count)s more point", "Earn %(count)s more points", missing) % values
    if program.tier_window_days:
        window = ngettext("within %(days)s day", "within %(days)s days", program.tier_window_days) % values
        text = gettext("%(goal)s %(window)s") % {"goal": text, "window": window}
    return text


def _plain(number):
    """A Decimal without its trailing zeros and exponent (10.00 -> 10, 12.50 -> 12.5)."""
    number = number.normalize()
    return number.quantize(1) if number == number.to_integral() else number


def member_next_tier(*, member: Member, progress: dict[str, Any]) -> dict[str, Any] | None:
    """The tier above the member's: {"name", "privileges", "how"} ("Earn 1724 more points"), or
    None at the top tier."""
    code = progress.get("next_tier")
    if not code:
        return None
    tier = Tier.objects.filter(program=member.program, code=code).first()
    if tier is None:
        return None
    missing = int(progress.get("points_to_next") or 0)
    how = (
        _to_reach(member.program, missing) if missing else gettext("Reached: it applies with the next review")
    )
    return {
        "name": content.text(tier, "name", member=member, program=member.program),
        "privileges": tier_privileges(tier, member=member),
        "how": how,
    }


def program_ways_to_earn(*, member: Member, at: datetime) -> list[str]:
    """How a member earns, in sentences: the earn rates in force (base currency first), the
    running campaigns open to them (their description, else their rules as a sentence), and their
    referral code."""

    program = member.program
    ways = []
    rates = program_rates(program)
    currencies = sorted({rate.currency for rate in rates}, key=lambda c: (c != program.base_currency, c))
    for currency in currencies:
        rate = rate_in_force(rates, currency=currency, at=at)
        if rate is not None:
            points = rate.points_per_unit.normalize()
            ways.append(
                gettext("%(points)s points for every 1 %(currency)s you spend")
                % {"points": formats.localize(_plain(points)), "currency": currency}
            )
    tier_id = member.tier_id
    campaigns = (
        Campaign.objects.filter(program=program, is_active=True)
        .exclude(trigger__in=[Campaign.Trigger.INACTIVITY, Campaign.Trigger.REGISTRATION])
        .prefetch_related("conditions", "rewards", "target_tiers", "target_segments")
        .order_by("priority", "id")
    )
    for campaign in campaigns:
        if not campaign.is_running(at):
            continue
        tiers = [tier.pk for tier in campaign.target_tiers.all()]
        if tiers and tier_id not in tiers:
            continue
        if campaign.tier_exclusive and not (member.tier and member.tier.exclusive_campaigns):
            continue
        if list(campaign.target_segments.all()):
            continue  # a targeted offer is told to its members by message, not listed to everyone
        rewards = [r for r in campaign.rewards.all() if r.kind != r.Kind.NOTIFICATION]
        if not rewards:
            continue
        text = content.text(campaign, "description", member=member, program=program).strip() or (
            campaign_sentence(campaign, list(campaign.conditions.all()), rewards)
        )
        name = content.text(campaign, "name", member=member, program=program)
        ways.append(gettext("%(campaign)s: %(rules)s") % {"campaign": name, "rules": text})
    if member.referral_code:
        ways.append(gettext("Invite friends with your code %(code)s") % {"code": member.referral_code})
    return ways


def member_card(*, member: Member, at: datetime, entries: int = 10) -> dict[str, Any]:
    """Everything the till's member panel and the card page show."""
    return {
        "member": member,
        "program": member.program,
        "balance": member.balance,
        "pending_points": member.pending_points,
        "value": member_points_value(member=member),
        "tier": member.tier,
        # merchant content in the member's language (the till shows it as the member reads it)
        "tier_name": content.text(member.tier, "name", member=member, program=member.program),
        "progress": member_tier_progress(member=member, at=at),
        "expiring": member_expiring(member=member, at=at),
        "entries": member_recent_entries(member=member, limit=entries),
    }
