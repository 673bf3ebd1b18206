"""Writes of the campaigns app: events, purchase-time bonuses, registration and referrals, partners.

Decisions:
- Purchase-time campaigns (trigger purchase, rate rise, referral) answer the `pricing_bonuses`
  hook with `BonusLine`s. Their points for the purchasing member are part of the purchase's
  `points_earned` and are posted by the ledger's purchase posting (the pipeline adds the lines to
  `points_to_earn`); we only write the grant rows (and coupons, extensions, notifications) at the
  commit, in the purchase's transaction. The referrer's side of a referral goes to another member,
  so we post it ourselves with `points_bonus`.
- The purchase amount conditions look at the amount due (the money actually paid).
- A referral rewards both sides once: on the referred member's first purchase, keyed
  `referral:<referred id>` for both grant rows; a member can never refer themself (DB check).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.locks import member_lock
from accounts.models import Member
from ledger.services import member_activity_record_locked, points_partner_import_locked
from loyalty_site.core.config_cache import program_config
from loyalty_site.core.errors import IdempotencyConflict, InvalidInput, NotFound
from loyalty_site.core.hooks import register
from loyalty_site.core.memo import memoized
from tiers.services import member_tier_of

from .engine import Context, campaigns_apply
from .models import (
    BUILTIN_EVENT_TYPES,
    ActivityEvent,
    Campaign,
    CampaignGrant,
    CustomEventType,
    DailyTask,
    Partner,
    PartnerTransfer,
    Referral,
)
from .selectors import campaigns_configured, campaigns_running, member_purchase_count


def _reward_dict(item) -> dict[str, Any]:
    """A grant (or a planned grant) as the API's `rewards` item."""
    campaign = item.campaign
    coupon = getattr(item, "coupon", None)
    return {
        "campaign": campaign.code,
        "name": campaign.name,
        "member": item.member.pk,
        "points": item.points,
        "coupon": coupon.code if coupon is not None else None,
    }


def _lock_member(member: Member) -> Member:
    """Lock the member (`accounts.locks`); the tier is read after the lock, never joined into it."""

    locked = member_lock(member)
    locked.tier = member_tier_of(member=locked)
    return locked


# --- events -----------------------------------------------------------------------------------


def event_types_allowed(*, program) -> list[str]:
    custom = CustomEventType.objects.filter(program=program).values_list("code", flat=True)
    return [*BUILTIN_EVENT_TYPES, *custom]


def event_record(
    *, member: Member, type: str, occurred_at: datetime, data: dict | None = None
) -> tuple[ActivityEvent, list[dict[str, Any]]]:
    """Record a member's event, count it as activity (ledger `member_activity_record`: resets the
    inactivity clock, renews lots in their window) and run the event campaigns listening to `type`.
    Returns the event and the rewards granted (`{"campaign", "name", "member", "points", "coupon"}`).

    Raises InvalidInput: unknown type; `nps` without an integer `data.score` 0–10; `task_completed`
    without a `data.task` naming one of the program's active daily tasks (when it defines any).
    """

    data = dict(data or {})
    program = member.program
    if type not in event_types_allowed(program=program):
        raise InvalidInput(
            _("Unknown event type '%(type)s'.") % {"type": type}, fields={"type": [_("Unknown event type.")]}
        )
    if type == "nps":
        score = data.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
            raise InvalidInput(
                _("NPS needs data.score, a whole number 0-10."), fields={"data": [_("score 0-10.")]}
            )
    if type == "task_completed":
        tasks = DailyTask.objects.filter(program=program, is_active=True)
        if tasks.exists() and not tasks.filter(code=str(data.get("task", ""))).exists():
            raise InvalidInput(
                _("Unknown daily task."), fields={"data": [_("data.task names no active task.")]}
            )
    with transaction.atomic():
        member = _lock_member(member)
        event = ActivityEvent.objects.create(member=member, type=type, occurred_at=occurred_at, data=data)
        member_activity_record_locked(member=member, at=occurred_at, kind=type)
        ctx = Context(member=member, at=occurred_at, event=event, occurrence=f"event:{event.pk}")
        campaigns = campaigns_running(
            program=program, trigger=Campaign.Trigger.EVENT, at=occurred_at, event_type=type
        )
        grants = campaigns_apply(campaigns, ctx, dry_run=False)
    return event, [_reward_dict(item) for item in grants]


# --- purchases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BonusLine:
    """A purchase-time campaign bonus (`pricing_bonuses`, a line of the checkout's quote)."""

    description: str
    points: int
    source: str = "campaign"
    campaign_id: int | None = None


def pricing_bonuses(
    *, member, amount_due, currency, base_points, at, purchase=None
) -> tuple[list[BonusLine], list[CampaignGrant]]:
    """Purchase-time campaigns for the pricing pipeline (step 5 of `checkout.pricing`): one
    `BonusLine` per campaign that applies (points for the purchasing member; 0-point lines for
    coupon-only rewards so the quote shows them), and the grant rows written. With `purchase` (the
    commit; `member` locked by the caller) the grant rows are written in the purchase's
    transaction; a quote writes nothing (no rows)."""
    ctx = Context(
        member=member,
        at=at,
        amount=Decimal(amount_due),
        currency=currency,
        base_points=int(base_points),
        purchase=purchase,
        occurrence=f"purchase:{purchase.pk}" if purchase is not None else None,
        is_purchase=True,
    )
    program = member.program
    # one read (with the prefetches) for the three purchase-time triggers, once per pricing call
    triggers = (Campaign.Trigger.PURCHASE, Campaign.Trigger.RATE_RISE, Campaign.Trigger.REFERRAL)

    def read_running():
        # from the configuration cache (shared by the process's requests, so never changed here):
        # copies, each given this request's program (its settings, no lazy read per campaign)
        configured = program_config(
            program,
            "campaigns:purchase-time",
            lambda: campaigns_configured(program=program, triggers=triggers),
        )
        running = []
        for campaign in configured:
            if campaign.in_window(at):
                campaign = copy.copy(campaign)
                campaign.program = program
                running.append(campaign)
        return running

    running = memoized(("campaigns", program.pk, "purchase-time", at), read_running)
    campaigns = [c for c in running if c.trigger != Campaign.Trigger.REFERRAL]
    campaigns.sort(key=lambda c: (c.priority, c.pk))
    results = campaigns_apply(campaigns, ctx, dry_run=purchase is None, post_points=False)
    referral = [c for c in running if c.trigger == Campaign.Trigger.REFERRAL]
    if referral and member.referred_by_id and member_purchase_count(member=member, exclude=purchase) == 0:
        referral.sort(key=lambda c: (c.priority, c.pk))
        ctx.period_key = f"referral:{member.pk}"
        referral_results = campaigns_apply(referral, ctx, dry_run=purchase is None, post_points=False)
        if purchase is not None and referral_results:
            Referral.objects.filter(referred=member, rewarded_at__isnull=True).update(rewarded_at=at)
        results += referral_results
    # the rows written, for the purchase's answer (read nothing back)
    grants = [item for item in results if isinstance(item, CampaignGrant)]
    lines = []
    for item in results:
        if item.member.pk != member.pk:
            continue  # the referrer's side: posted to the referrer, not part of this purchase
        description = getattr(item, "description", None) or item.campaign.name
        lines.append(
            BonusLine(description=description, points=int(item.points), campaign_id=item.campaign.pk)
        )
    return lines, grants


# --- registration and referrals ---------------------------------------------------------------


@register("member_created")
def on_member_created(*, member, at, **_ignored) -> None:
    """Link the referral (if the member was referred) and run the registration campaigns."""
    with transaction.atomic():
        if member.referred_by_id and member.referred_by_id != member.pk:
            Referral.objects.get_or_create(
                referred=member, defaults={"referrer_id": member.referred_by_id, "created_at": at}
            )
        campaigns = campaigns_running(program=member.program, trigger=Campaign.Trigger.REGISTRATION, at=at)
        if campaigns:
            locked = _lock_member(member)
            campaigns_apply(campaigns, Context(member=locked, at=at), dry_run=False)


# --- partners ---------------------------------------------------------------------------------


def partner_transfer(
    *, member: Member, partner_code: str, points: int, external_id: str, at: datetime
) -> dict[str, Any]:
    """Import `points` of partner `partner_code` for `member` through the ledger's
    `points_partner_import` (× the partner's rate, plus its bonus %). Idempotent by (partner,
    external_id): the same transfer again returns the original; the same id with other points raises
    IdempotencyConflict. Raises NotFound (unknown or inactive partner), InvalidInput (points ≤ 0)."""

    partner = Partner.objects.filter(program=member.program_id, code=partner_code, is_active=True).first()
    if partner is None:
        raise NotFound(_("Unknown partner."))
    try:
        points = int(points)
    except (TypeError, ValueError):
        points = 0
    if points <= 0:
        raise InvalidInput(
            _("Points must be a positive whole number."), fields={"points": [_("Must be > 0.")]}
        )
    external_id = str(external_id or "").strip()
    if not external_id:
        raise InvalidInput(_("external_id is required."), fields={"external_id": [_("Required.")]})
    with transaction.atomic():
        member = _lock_member(member)
        existing = PartnerTransfer.objects.filter(partner=partner, external_id=external_id).first()
        if existing is not None:
            if existing.member_id != member.pk or existing.partner_points != points:
                raise IdempotencyConflict(_("This partner transfer id was used with different data."))
            return {
                "transfer": existing,
                "points_credited": existing.points_credited,
                "balance": member.balance,
            }
        posting = points_partner_import_locked(
            member=member,
            partner_points=points,
            rate=partner.rate,
            bonus_percent=partner.bonus_percent,
            at=at,
            reference=f"partner:{partner.pk}:{external_id}",
            partner_code=partner.code,
            partner_name=partner.name,
        )
        try:
            with transaction.atomic():
                transfer = PartnerTransfer.objects.create(
                    partner=partner,
                    member=member,
                    external_id=external_id,
                    partner_points=points,
                    points_credited=posting.points,
                    created_at=at,
                )
        except IntegrityError:  # pragma: no cover - the member lock serialises same-member transfers
            raise IdempotencyConflict(_("This partner transfer id is being used."))
        member.refresh_from_db(fields=["balance"])
    return {"transfer": transfer, "points_credited": transfer.points_credited, "balance": member.balance}
