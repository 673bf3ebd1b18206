"""`purchase_create`: record a purchase (or a bet) and post its points, through the same pricing
function as the quote (`checkout.pricing.purchase_price`), inside one transaction with the member row
locked, so a quote and a purchase at the same moment with the same input agree.

Decisions:
- The purchase is priced at `occurred_at` (default `at`): rates, tier, discounts and coupons are
  those in force when it happened; `occurred_at` later than `at` (the future) is refused.
- Idempotent on (program, external_id): the same input returns the original `Purchase` (nothing
  posts again; `PurchaseResult.replayed`); a different input raises IdempotencyConflict. The
  input is compared by a fingerprint of member, amount, currency, kind, coupon code, points to
  redeem and occurred_at (occurred_at only when the caller gave one: a retry without it is still
  a replay).
- All points a purchase earns (conversion x tier multiplier, a bonus-points coupon, purchase-time
  campaign bonuses) post as one `earn` posting linked to the purchase, so a refund reverses them
  in proportion; the `applied` lines say where each part came from. The campaigns write their own
  grant rows at commit (`campaigns.services.pricing_bonuses`) but post no points themselves.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.locks import member_lock, member_lock_in
from accounts.models import Member, Program
from campaigns.models import CampaignGrant
from ledger.models import Purchase
from ledger.services import points_earn_locked, points_redeem_locked
from ledger.texts import member_text
from loyalty_site.core.db import row_insert, row_update
from loyalty_site.core.errors import IdempotencyConflict, InvalidInput, MemberBlocked
from loyalty_site.core.events import events_batched
from loyalty_site.core.i18n import for_member
from loyalty_site.core.memo import pricing_memo
from tiers.models import TierChange
from tiers.services import member_tier_evaluate_locked, member_tier_of

from .pricing import Quote, pricing_input_clean, purchase_price


@dataclass(frozen=True)
class PurchaseResult:
    """What `purchase_create` did: the `purchase` row; the `member` as the purchase left it
    (balance, tier; for a replay, as it is now); `replayed` when the receipt was recorded already
    (same input: nothing written, whenever the original was recorded); `campaign_grants`, the
    `campaigns.CampaignGrant` rows this call wrote, in order (None for a replay: they were written
    by the original call; read them back by the purchase's external id)."""

    purchase: Purchase
    member: Member
    replayed: bool = False
    campaign_grants: list[CampaignGrant] | None = None


def _fingerprint(**data: Any) -> str:
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(*, existing: Purchase, fingerprint: str, external_id: str) -> Purchase:
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyConflict(
            _("The purchase '%(external_id)s' was already recorded with different details.")
            % {"external_id": external_id},
            fields={"external_id": [_("Already used for a different purchase.")]},
        )
    return existing


def _purchase_post(*, locked: Member, purchase: Purchase, redeem_points: int) -> Quote:
    """Price `purchase` (its row just created by this transaction) and post its points.
    Precondition: `locked` is the member row `purchase_create` locked in this transaction, its
    tier read after the lock; the ledger and the tiers work on it (their `*_locked` forms: no
    second lock, no savepoint, no look-up for the new purchase's posting references). Returns the
    quote it was priced by."""
    amount, currency, code, kind = purchase.amount, purchase.currency, purchase.coupon_code, purchase.kind
    occurred_at = purchase.occurred_at
    quote = purchase_price(
        member=locked,
        amount=amount,
        currency=currency,
        at=occurred_at,
        coupon_code=code or None,
        redeem_points=redeem_points,
        purchase=purchase,
        kind=kind,
    )
    purchase.discount_amount = quote.discount
    purchase.amount_due = quote.amount_due
    purchase.points_redeemed = quote.points_to_redeem
    purchase.points_earned = quote.points_to_earn
    purchase.applied = quote.applied
    row_update(purchase, ["discount_amount", "amount_due", "points_redeemed", "points_earned", "applied"])
    # member-facing: a date, never the till's reference
    with for_member(locked):
        label, in_sentence = purchase.label(locked.program), purchase.label(locked.program, lowercase=True)
    if quote.points_to_redeem:
        points_redeem_locked(
            member=locked,
            points=quote.points_to_redeem,
            at=occurred_at,
            reference=f"purchase:{purchase.pk}:redeem",
            description=member_text(
                locked, lambda: _("Paid with points: %(purchase)s") % {"purchase": in_sentence}
            ),
            purchase=purchase,
            new_reference=True,
        )
    if quote.points_to_earn:
        points_earn_locked(
            member=locked,
            points=quote.points_to_earn,
            at=occurred_at,
            reference=f"purchase:{purchase.pk}:earn",
            purchase=purchase,
            description=member_text(
                locked,
                lambda: (
                    _("%(purchase)s: %(amount)s %(currency)s")
                    % {"purchase": label, "amount": f"{quote.amount_due:.2f}", "currency": currency}
                ),
            ),
            new_reference=True,
        )
    # purchases, visits and spend count for tiers even when no points were earned (with the
    # points metric the earn posting's `points_posted` hook has evaluated the tier already)
    if locked.program.tier_metric != locked.program.TierMetric.QUALIFYING_POINTS:
        member_tier_evaluate_locked(member=locked, at=occurred_at, reason=TierChange.Reason.EARNING)
    return quote


def purchase_create(
    *,
    member: Member | None = None,
    program: Program | None = None,
    member_id: int | None = None,
    external_id: str,
    amount: Any,
    currency: str,
    at: datetime,
    kind: str = Purchase.Kind.PURCHASE,
    coupon_code: str | None = None,
    redeem_points: int = 0,
    occurred_at: datetime | None = None,
) -> PurchaseResult:
    """Record a purchase and post its points redeemed and earned. Returns a `PurchaseResult`.

    The member: `member` (an instance), or `program` and `member_id` (the API: the member is read
    once, by the locking read, within `program`, which the caller read in this request; NotFound
    when the program has no such member).

    Raises InvalidInput (no external id, unknown kind, occurred_at in the future, bad amount or
    points), UnsupportedCurrency, MemberBlocked, CouponInvalid / CouponExpired / CouponUsed,
    InsufficientPoints, LimitExceeded (points over the max share, or a fraud limit),
    IdempotencyConflict. On any error nothing is written.
    """
    if member is not None:
        member_id, program_id = member.pk, member.program_id
    elif program is None or member_id is None:
        raise TypeError("purchase_create needs a member, or a program and a member_id")
    else:
        program_id = program.pk
    external_id = str(external_id or "").strip()
    if not external_id:
        raise InvalidInput(
            _("external_id is required."), fields={"external_id": [_("This field is required.")]}
        )
    if len(external_id) > 100:
        raise InvalidInput(
            _("external_id is too long."), fields={"external_id": [_("At most 100 characters.")]}
        )
    if kind not in Purchase.Kind.values:
        raise InvalidInput(_("Unknown kind."), fields={"kind": [_("Use purchase or bet.")]})
    given_time = occurred_at
    occurred_at = occurred_at or at
    if occurred_at > at:
        raise InvalidInput(
            _("A purchase cannot happen in the future."),
            fields={"occurred_at": [_("Must not be in the future.")]},
        )
    amount, currency, redeem_points = pricing_input_clean(
        amount=amount, currency=currency, redeem_points=redeem_points
    )
    code = (coupon_code or "").strip()
    fingerprint = _fingerprint(
        member=member_id,
        amount=f"{amount:.2f}",
        currency=currency,
        kind=kind,
        coupon=code.upper(),
        redeem=redeem_points,
        occurred_at=given_time.isoformat() if given_time else None,
    )
    # No look-up of the external id first: the purchase row's insert skips the row when the unique
    # constraint finds it recorded already (before, or by a concurrent request that held the member
    # lock), and the purchase is replayed after the block, which wrote nothing. A replay costs a
    # member lock and a skipped insert; a new purchase, the usual case, one query less. Nothing is
    # raised for a replay, so its transaction commits: a rollback would also make psycopg drop the
    # connection's prepared statements.
    # the events the purchase emits (points, rewards, coupons, tier) are stored with one
    # statement when the block ends, inside the transaction
    with pricing_memo(), transaction.atomic(), events_batched():
        # the tier is read after the lock, never joined into it (see accounts.locks)
        locked = member_lock(member) if member is not None else member_lock_in(program, member_id)
        locked.tier = member_tier_of(member=locked)
        purchase = Purchase(
            program_id=program_id,
            member=locked,
            external_id=external_id,
            kind=kind,
            amount=amount,
            currency=currency,
            amount_due=amount,
            occurred_at=occurred_at,
            coupon_code=code,
            request_fingerprint=fingerprint,
        )
        recorded = row_insert(purchase, skip_conflict="purchase_unique_external_id")
        if recorded:
            if locked.is_blocked:  # after the insert: a blocked member's retry is replayed
                raise MemberBlocked()
            quote = _purchase_post(locked=locked, purchase=purchase, redeem_points=redeem_points)
    if not recorded:
        existing = Purchase.objects.filter(program_id=program_id, external_id=external_id).first()
        if existing is None:  # defensive: the insert skips the external id's conflict only
            raise IntegrityError(
                "The purchase was refused by a unique constraint other than its external id's."
            )
        existing = _replay(existing=existing, fingerprint=fingerprint, external_id=external_id)
        # the member as it is now (a replay changes nothing)
        now = Member.objects.get(pk=existing.member_id)
        now.program = program if program is not None else locked.program
        now.tier = member_tier_of(member=now)
        existing.member = now
        return PurchaseResult(purchase=existing, member=now, replayed=True)
    if member is not None:
        # the caller's instance shows the outcome (`locked` is what the ledger and tiers kept in step)
        member.balance, member.pending_points = locked.balance, locked.pending_points
        member.last_activity_at, member.tier = locked.last_activity_at, locked.tier
    return PurchaseResult(purchase=purchase, member=locked, campaign_grants=quote.campaign_grants)
