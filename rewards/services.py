"""Rewards services: redeem a reward for points, cancel a redemption, fulfil a gift or a bonus.

Each runs in one transaction. Locks, always in this order: the member row (the ledger's lock, so
the balance, the lots and the member's redemptions — hence the per-member limit — are serialised
per member), then the redemption row, then the reward row (stock). Voucher codes are drawn with
`SELECT ... FOR UPDATE SKIP LOCKED`. Points move only through the ledger: `points_redeem` (first-
expiring lots first, allocations linked to the posting) and `points_redeem_return` (back to the
same lots, once).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import F
from django.utils.translation import gettext, ngettext

from accounts.locks import member_lock
from accounts.models import Member, Program
from accounts.services import code_generate
from campaigns.coupons import coupon_issue
from campaigns.models import Coupon
from ledger.engine import sync_member
from ledger.services import points_redeem_locked, points_redeem_return_locked
from loyalty_site.core.db import atomic_with_retry, row_insert
from loyalty_site.core.errors import (
    IdempotencyConflict,
    InvalidInput,
    LimitExceeded,
    NotFound,
    OutOfStock,
    RedemptionClosed,
    RewardUnavailable,
)
from loyalty_site.core.events import event_emit
from loyalty_site.core.i18n import for_member

from .models import Redemption, Reward, RewardCode
from .selectors import CHANNEL_REWARDS, member_reward_uses, reward_eligible

CHANNELS = tuple(CHANNEL_REWARDS)


def redemption_event_data(redemption: Redemption, member: Member) -> dict:
    """The data of the reward.* events (webhooks and notification templates)."""
    reward = redemption.reward
    return {
        "redemption": redemption.pk,
        "reward": reward.pk,
        "reward_name": reward.name,
        "kind": reward.kind,
        "points": redemption.points,
        "co_payment": f"{redemption.co_payment:.2f}" if redemption.co_payment is not None else None,
        "currency": member.program.base_currency,
        "status": redemption.status,
        "code": redemption.code or None,
        "coupon": redemption.coupon.code if redemption.coupon_id else None,
        "reference": redemption.reference,
        "channel": redemption.channel,
        "balance": member.balance,
    }


def _emit(redemption: Redemption, member: Member, type: str, at: datetime) -> None:
    event_emit(
        program=member.program,
        type=type,
        at=at,
        member=member,
        key=f"{type}:{redemption.pk}",
        data=redemption_event_data(redemption, member),
    )


def _closed_message(status: str) -> str:
    """Why a redemption in `status` can be neither cancelled nor fulfilled again."""
    return {
        Redemption.Status.FULFILLED: gettext("This redemption is fulfilled."),
        Redemption.Status.CANCELLED: gettext("This redemption is cancelled."),
    }.get(status, gettext("This redemption is already fulfilled or cancelled."))


def _check_available(reward: Reward, member: Member, *, at: datetime, channel: str) -> None:
    if (
        not reward.is_active
        or (reward.active_from is not None and reward.active_from > at)
        or (reward.active_to is not None and reward.active_to <= at)
    ):
        raise RewardUnavailable(gettext("“%(reward)s” is not available now.") % {"reward": reward.name})
    if reward.channel not in CHANNEL_REWARDS[channel]:
        if channel == "till":
            text = gettext("“%(reward)s” cannot be redeemed at the till.")
        else:
            text = gettext("“%(reward)s” cannot be redeemed through the API.")
        raise RewardUnavailable(text % {"reward": reward.name})
    if not reward_eligible(reward, member):
        raise RewardUnavailable(
            gettext("“%(reward)s” is not offered to this member's tier or segment.") % {"reward": reward.name}
        )


def _code_draw(reward: Reward) -> RewardCode:
    """A free code of the reward's pool, locked (codes another transaction holds are skipped)."""
    code = (
        RewardCode.objects.select_for_update(skip_locked=True)
        .filter(reward_id=reward.pk, redemption__isnull=True)
        .order_by("id")
        .first()
    )
    if code is None:
        raise OutOfStock(gettext("“%(reward)s” has no codes left.") % {"reward": reward.name})
    return code


@atomic_with_retry
def reward_redeem(
    *, program: Program, member: Member, reward: Reward, reference: str, at: datetime, channel: str
) -> Redemption:
    """Exchange the member's points for `reward`, redeemed through `channel` (till / api).

    Spends `reward.cost_points` (first-expiring lots first), takes one of the stock, and gives the
    reward: a voucher code from the pool (status issued), a personal coupon (issued), or a pending
    fulfilment (bonus: the integration, told by the `reward.redeemed` webhook; gift: staff).
    Idempotent by `reference` (unique in the program): the same reference for the same member and
    reward returns the original redemption with `replayed` set and changes nothing.
    Raises InvalidInput, NotFound (member or reward of another program), IdempotencyConflict,
    RewardUnavailable (inactive, outside its window, wrong channel, tier or segment), OutOfStock,
    LimitExceeded (per-member limit for the period), InsufficientPoints, MemberBlocked."""
    reference = (reference or "").strip()
    if not reference or len(reference) > 120:
        raise InvalidInput(
            gettext("A redemption needs a reference of 1 to 120 characters."),
            fields={"reference": [gettext("Required.")]},
        )
    if channel not in CHANNELS:
        raise InvalidInput(gettext("Unknown channel %(channel)s.") % {"channel": repr(channel)})
    if member.program_id != program.pk or reward.program_id != program.pk:
        raise NotFound(gettext("Member or reward not found."))
    locked = member_lock(member)
    existing = Redemption.objects.filter(program_id=program.pk, reference=reference).first()
    if existing is not None:
        if existing.member_id != member.pk or existing.reward_id != reward.pk:
            raise IdempotencyConflict(
                gettext("The reference %(reference)s was already used for another redemption.")
                % {"reference": repr(reference)}
            )
        sync_member(member, locked)
        existing.replayed = True
        return existing
    current = Reward.objects.select_for_update().get(pk=reward.pk)
    _check_available(current, locked, at=at, channel=channel)
    if current.stock_total is not None and current.redeemed_count >= current.stock_total:
        raise OutOfStock(f"“{current.name}” is out of stock.")
    if current.limit_per_member and (
        member_reward_uses(member=locked, reward=current, at=at) >= current.limit_per_member
    ):
        limit = current.limit_per_member
        raise LimitExceeded(
            ngettext(
                "“%(reward)s” can be redeemed %(limit)s time %(period)s per member.",
                "“%(reward)s” can be redeemed %(limit)s times %(period)s per member.",
                limit,
            )
            % {"reward": current.name, "limit": limit, "period": current.get_limit_period_display()}
        )
    code = _code_draw(current) if current.kind == Reward.Kind.VOUCHER else None
    with for_member(locked):  # the member reads the posting on the card, in their language
        description = gettext("Reward: %(reward)s") % {"reward": current.name}
    posting = points_redeem_locked(
        member=locked,
        points=current.cost_points,
        at=at,
        reference=f"reward:{reference}",
        description=description,
    )
    coupon = None
    if current.kind == Reward.Kind.COUPON:
        coupon = coupon_issue(
            program=locked.program,
            member=locked,
            kind=current.coupon_kind,
            value=current.coupon_value,
            at=at,
            valid_days=current.coupon_valid_days,
            min_purchase=current.coupon_min_purchase or Decimal("0"),
        )
    issued = current.kind in (Reward.Kind.VOUCHER, Reward.Kind.COUPON)
    redemption = Redemption(
        program_id=program.pk,
        member_id=locked.pk,
        reward=current,
        points=current.cost_points,
        co_payment=current.co_payment,
        status=Redemption.Status.ISSUED if issued else Redemption.Status.PENDING,
        channel=channel,
        code=code.code if code else "",
        coupon=coupon,
        posting=posting,
        reference=reference,
        created_at=at,
    )
    if not row_insert(redemption, skip_conflict="redemption_unique_reference"):
        # another member's redemption took this reference meanwhile: this one is refused whole
        raise IdempotencyConflict(
            gettext("The reference %(reference)s was already used for another redemption.")
            % {"reference": repr(reference)}
        )
    if code is not None:
        RewardCode.objects.filter(pk=code.pk).update(redemption=redemption)
    Reward.objects.filter(pk=current.pk).update(redeemed_count=F("redeemed_count") + 1)
    sync_member(member, locked)
    redemption.member = locked
    _emit(redemption, locked, "reward.redeemed", at)
    return redemption


def _lock_redemption(redemption: Redemption) -> tuple[Member, Redemption]:
    """Lock the member, then the redemption (the order every rewards service uses)."""
    locked = member_lock(redemption.member)
    current = (
        Redemption.objects.select_for_update(of=("self",))
        .select_related("reward", "coupon")
        .get(pk=redemption.pk)
    )
    current.member = locked
    return locked, current


@atomic_with_retry
def redemption_cancel(*, redemption: Redemption, at: datetime) -> Redemption:
    """Cancel a redemption that is not fulfilled: its points go back to the lots they were spent
    from (`points_redeem_return`, once), the stock is restored, a voucher code goes back to the
    pool and a coupon is deactivated. Raises RedemptionClosed (already fulfilled or cancelled, or
    its coupon was used)."""
    locked, current = _lock_redemption(redemption)
    if current.status in (Redemption.Status.CANCELLED, Redemption.Status.FULFILLED):
        raise RedemptionClosed(_closed_message(current.status))
    if current.coupon_id is not None:
        coupon = Coupon.objects.select_for_update().get(pk=current.coupon_id)
        if coupon.uses_count:
            raise RedemptionClosed(gettext("Its coupon was used already; it cannot be cancelled."))
        Coupon.objects.filter(pk=coupon.pk).update(is_active=False)
    with for_member(locked):
        description = gettext("Reward cancelled: %(reward)s") % {"reward": current.reward.name}
    returned = points_redeem_return_locked(
        member=locked,
        posting=current.posting,
        at=at,
        reference=f"reward-cancel:{current.pk}",
        description=description,
    )
    RewardCode.objects.filter(redemption_id=current.pk).update(redemption=None)
    Reward.objects.select_for_update().filter(pk=current.reward_id).update(
        redeemed_count=F("redeemed_count") - 1
    )
    current.status = Redemption.Status.CANCELLED
    current.cancelled_at = at
    current.return_posting = returned
    current.save(update_fields=["status", "cancelled_at", "return_posting"])
    sync_member(redemption.member, locked)
    _emit(current, locked, "reward.cancelled", at)
    return current


@atomic_with_retry
def redemption_fulfil(*, redemption: Redemption, at: datetime) -> Redemption:
    """Mark a pending gift handed over or a pending bonus credited. Raises RedemptionClosed for a
    redemption that is not pending (issued codes and coupons need no fulfilment)."""
    locked, current = _lock_redemption(redemption)
    if current.status != Redemption.Status.PENDING:
        raise RedemptionClosed(gettext("Only a pending gift or bonus can be fulfilled."))
    current.status = Redemption.Status.FULFILLED
    current.fulfilled_at = at
    current.save(update_fields=["status", "fulfilled_at"])
    _emit(current, locked, "reward.fulfilled", at)
    return current


# --- code pools -----------------------------------------------------------------------------------


def codes_from_csv(data: bytes) -> list[str]:
    """The codes of an uploaded CSV: the first column of each row, stripped; a header cell `code`
    and empty rows are skipped. Raises InvalidInput for a file that is not UTF-8 text."""
    import csv
    import io

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(gettext("The file is not UTF-8 text.")) from error
    codes = []
    for index, row in enumerate(csv.reader(io.StringIO(text))):
        cell = row[0].strip() if row else ""
        if not cell or (index == 0 and cell.lower() == "code"):
            continue
        codes.append(cell)
    return codes


@atomic_with_retry
def reward_codes_add(*, reward: Reward, codes: list[str]) -> dict:
    """Add `codes` to a voucher reward's pool. Codes repeated in the list or already in the pool
    are left out and reported. Returns {"added", "duplicates_in_file", "already_in_pool"} (the last
    two lists of codes). Raises InvalidInput (not a voucher reward, a code over 64 characters,
    nothing to add)."""
    if reward.kind != Reward.Kind.VOUCHER:
        raise InvalidInput(gettext("Only voucher rewards have a code pool."))
    too_long = [code for code in codes if len(code) > 64]
    if too_long:
        raise InvalidInput(gettext("Codes are at most 64 characters: %(code)s…") % {"code": too_long[0][:70]})
    seen: set[str] = set()
    unique, repeated = [], []
    for code in codes:
        if code in seen:
            repeated.append(code)
        else:
            seen.add(code)
            unique.append(code)
    if not unique:
        raise InvalidInput(gettext("There are no codes in the file."))
    existing = set(RewardCode.objects.filter(reward=reward, code__in=unique).values_list("code", flat=True))
    new = [code for code in unique if code not in existing]
    # a code added meanwhile by a concurrent upload is skipped by the unique constraint
    created = RewardCode.objects.bulk_create(
        [RewardCode(reward=reward, code=code) for code in new], ignore_conflicts=True
    )
    return {
        "added": len(created),
        "duplicates_in_file": sorted(set(repeated)),
        "already_in_pool": sorted(existing),
    }


def reward_codes_generate(*, reward: Reward, count: int, prefix: str = "") -> dict:
    """Add `count` random codes (`PREFIX-XXXXXXXX`, the coupons' unambiguous alphabet) to the pool."""

    if not 1 <= count <= 10000:
        raise InvalidInput(
            gettext("Generate 1 to 10 000 codes at a time."), fields={"count": [gettext("1 to 10000.")]}
        )
    head = f"{prefix.strip().upper()}-" if prefix.strip() else ""
    codes = {head + code_generate(8) for _ in range(count)}
    return reward_codes_add(reward=reward, codes=sorted(codes))
