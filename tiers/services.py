"""Writes for tiers: evaluation (upgrade at once, downgrade on re-evaluation after grace), manual
tiers, tier gifts. Every change is a `TierChange` row and a `tier.changed` event.

Decisions:
- Upgrades happen at once when points post or a purchase is recorded (hook `points_posted`, same
  transaction); downgrades only in `reevaluate_tiers` (daily). A downgrade goes straight to the tier
  the member qualifies for (one change, not one step a day).
- Grace: the first re-evaluation that finds a member below their tier notes the moment
  (`MemberTierState.below_since`); the downgrade happens at the first re-evaluation at least
  `program.tier_downgrade_grace_days` later if they are still below. Qualifying again clears it.
- A manual tier (`tier_override_set`) moves the member to that tier at once (up or down) and is a
  floor until its end: evaluation never goes below it, earning may still lift the member higher.
  When it ends, the next re-evaluation applies the normal rule (with grace).
- Tier gifts are given for the last *completed* period (yesterday / last ISO week / last month in
  the program's time zone) to the members of a tier at the time of the run, so "active in that
  period" is known when the gift is decided, and a job that runs late still gives each gift once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from accounts.locks import member_lock, members_lock
from accounts.models import Member
from ledger.bonuses import Bonus, bonuses_post, bonuses_refused
from ledger.engine import gc_paused
from ledger.models import Posting, Purchase
from ledger.services import points_bonus
from ledger.texts import member_text
from loyalty_site.core.bulk import rows_insert
from loyalty_site.core.config_cache import program_config, program_of
from loyalty_site.core.db import atomic_with_retry, row_insert, row_update
from loyalty_site.core.errors import InvalidInput
from loyalty_site.core.events import event_emit, events_batched
from loyalty_site.core.i18n import member_language
from loyalty_site.core.memo import memoized
from loyalty_site.core.periods import DAY, MONTH, WEEK, period_previous

from .models import MemberTierState, Tier, TierChange, TierGift, TierOverride
from .selectors import (
    member_override_tier_id,
    member_qualifying_value,
    tier_for_value,
    tier_list,
)

_TICK = timedelta(microseconds=1)


def _emit_change(*, change: TierChange, member: Member, at: datetime) -> None:
    change_emit(change=change, member=member, from_tier=change.from_tier, to_tier=change.to_tier, at=at)


def change_emit(
    *, change: TierChange, member: Member, from_tier: Tier | None, to_tier: Tier | None, at
) -> None:
    """The `tier.changed` event of `change` (its tiers given: a job that makes many changes has
    them at hand)."""
    direction = "up"
    if from_tier is not None and to_tier is not None and to_tier.rank < from_tier.rank:
        direction = "down"
    event_emit(
        program=member.program,
        type="tier.changed",
        at=at,
        member=member,
        key=f"tier.changed:{change.pk}",
        data={
            "member": member.pk,
            "from": from_tier.code if from_tier else None,
            "from_name": from_tier.name if from_tier else None,
            "to": to_tier.code if to_tier else None,
            "to_name": to_tier.name if to_tier else None,
            "direction": direction,
            "reason": change.reason,
            "qualifying_value": change.qualifying_value,
        },
    )


def _tier_change(
    *,
    member: Member,
    to_tier: Tier,
    at: datetime,
    reason: str,
    value: int,
    note: str = "",
    user=None,
) -> TierChange:
    """Record and apply a change (the member row is locked by the caller)."""
    change = TierChange(
        program_id=member.program_id,
        member=member,
        from_tier=member.tier,
        to_tier=to_tier,
        reason=reason,
        note=note[:255],
        qualifying_value=value,
        at=at,
        created_by=user,
    )
    row_insert(change)
    member.tier = to_tier
    row_update(member, ["tier"])
    MemberTierState.objects.filter(member=member).update(below_since=None, evaluated_at=at)
    _emit_change(change=change, member=member, at=at)
    return change


def program_tiers(*, program) -> list[Tier]:
    """`tier_list` from the configuration cache (`loyalty_site.core.config_cache`) when given a
    Program (read-only rows), else read once per pricing call / purchase (`pricing_memo`)."""

    program_id = getattr(program, "pk", program)
    return memoized(
        ("tiers", program_id), lambda: program_config(program, "tiers", lambda: tier_list(program=program_id))
    )


def member_tier_of(*, member: Member) -> Tier | None:
    """The member's current tier (by `member.tier_id`) from the program's tiers."""
    if member.tier_id is None:
        return None
    for tier in program_tiers(program=program_of(member)):
        if tier.pk == member.tier_id:
            return tier
    return Tier.objects.filter(pk=member.tier_id).first()  # a tier of another program


def _lock_member(member: Member) -> Member:
    """Lock the member (`accounts.locks`), read its tier after the lock (never joined into it),
    and show the tier on the caller's instance."""
    locked = member_lock(member)
    locked.tier = member_tier_of(member=locked)
    member.tier = locked.tier
    return locked


def member_tier_evaluate(
    *,
    member: Member,
    at: datetime,
    reason: str = TierChange.Reason.EARNING,
    allow_downgrade: bool = False,
    value: int | None = None,
    immediate: bool = False,
) -> TierChange | None:
    """Put the member in the tier their metric (and a manual floor) qualifies them for at `at`.

    Without `allow_downgrade` only upgrades happen (the earning path); with it (re-evaluation) a
    member below their tier moves down once the program's grace days have passed. Returns the
    `TierChange` or None when nothing changed. Locks the member row in its own transaction (or
    a savepoint of the caller's). `value` lets a set-based caller pass the metric it computed.
    `immediate` (with `allow_downgrade`: a refund took the qualifying value back) skips the grace
    days."""
    with transaction.atomic():
        locked = _lock_member(member)
        change = member_tier_evaluate_locked(
            member=locked,
            at=at,
            reason=reason,
            allow_downgrade=allow_downgrade,
            value=value,
            immediate=immediate,
        )
    member.tier = locked.tier  # the caller's instance shows the new tier
    return change


def member_tier_evaluate_locked(
    *,
    member: Member,
    at: datetime,
    reason: str = TierChange.Reason.EARNING,
    allow_downgrade: bool = False,
    value: int | None = None,
    immediate: bool = False,
) -> TierChange | None:
    """`member_tier_evaluate` for `member`, locked by the caller in its transaction
    (`accounts.locks`): the purchase and the ledger's `points_posted` hook call it so. The tier is
    (re)read from `member.tier_id` (`member_tier_of`, cached). No transaction of its own: an error
    aborts the caller's."""
    member.tier = member_tier_of(member=member)
    tiers = program_tiers(program=member.program)
    if not tiers:
        return None
    current = member.tier
    if (
        not allow_downgrade
        and current is not None
        and current.program_id == member.program_id
        and current.rank >= tiers[-1].rank
    ):
        return None  # already in the top tier: nothing can lift them, no metric to compute
    if value is None:
        value = member_qualifying_value(member=member, at=at)
    target = tier_for_value(tiers=tiers, value=value)
    # a manual floor can only lift the target: none to look for when it is the top tier already
    floor_id = member_override_tier_id(member=member, at=at) if target.rank < tiers[-1].rank else None
    if floor_id is not None:
        floor = next((tier for tier in tiers if tier.pk == floor_id), None)
        if floor is not None and floor.rank > target.rank:
            target = floor
    current = member.tier
    if current is not None and current.program_id != member.program_id:
        current = None  # a tier of another program can never stay
    if current is None or target.rank > current.rank:
        if current is None and reason == TierChange.Reason.EARNING:
            reason = TierChange.Reason.ENROLMENT if value == 0 else reason
        return _tier_change(member=member, to_tier=target, at=at, reason=reason, value=value)
    if target.rank == current.rank:
        if allow_downgrade:
            MemberTierState.objects.filter(member=member, below_since__isnull=False).update(
                below_since=None, evaluated_at=at
            )
        return None
    if not allow_downgrade:
        return None
    grace = timedelta(days=0 if immediate else member.program.tier_downgrade_grace_days)
    if grace:
        state, _created = MemberTierState.objects.get_or_create(member=member)
        if state.below_since is None or state.below_since > at:
            state.below_since = at
            state.evaluated_at = at
            state.save(update_fields=["below_since", "evaluated_at"])
            return None
        if at - state.below_since < grace:
            return None
    return _tier_change(member=member, to_tier=target, at=at, reason=reason, value=value)


def tier_override_set(
    *, member: Member, tier: Tier, reason: str, ends_at: datetime, at: datetime, user=None
) -> TierOverride:
    """Staff set `member`'s tier by hand until `ends_at`: the member moves to `tier` at once and it
    is their floor until then. Raises InvalidInput (tier of another program, no reason, end not
    after `at`)."""
    errors: dict[str, list[str]] = {}
    if tier.program_id != member.program_id:
        errors["tier"] = [_("Choose a tier of the member's program.")]
    if not (reason or "").strip():
        errors["reason"] = [_("Say why the tier is set by hand.")]
    if ends_at is None or ends_at <= at:
        errors["ends_at"] = [_("The end must be after the start.")]
    if errors:
        raise InvalidInput(_("The manual tier is not valid."), fields=errors)
    with transaction.atomic():
        locked = _lock_member(member)
        override = TierOverride.objects.create(
            program_id=locked.program_id,
            member=locked,
            tier=tier,
            reason=reason.strip(),
            starts_at=at,
            ends_at=ends_at,
            created_by=user,
        )
        if locked.tier_id != tier.pk:
            value = member_qualifying_value(member=locked, at=at)
            _tier_change(
                member=locked,
                to_tier=tier,
                at=at,
                reason=TierChange.Reason.MANUAL,
                value=value,
                note=override.reason,
                user=user,
            )
            member.tier = tier
    return override


def tier_override_end(*, override: TierOverride, at: datetime) -> TierOverride:
    """End a manual tier early (from `at`). The member keeps their tier until the next
    re-evaluation, which applies the normal rule."""
    if override.ends_at > at:
        TierOverride.objects.filter(pk=override.pk).update(ends_at=max(at, override.starts_at + _TICK))
        override.refresh_from_db(fields=["ends_at"])
    return override


# --- periodic gifts ----------------------------------------------------------------------------


GIFT_PERIODS = {Tier.GiftPeriod.DAILY: DAY, Tier.GiftPeriod.WEEKLY: WEEK, Tier.GiftPeriod.MONTHLY: MONTH}


def gift_period_bounds(*, period: str, at: datetime, tz) -> tuple[str, datetime, datetime]:
    """The last completed `period` (daily / weekly / monthly) before `at` in time zone `tz`:
    (key, start, end) with start inclusive and end exclusive, as aware datetimes; the key is the
    gift period and the calendar period's key (`weekly:2026-W47`). Raises ValueError for another
    period."""
    if period not in GIFT_PERIODS:
        raise ValueError(f"Unknown gift period {period!r}")
    key, (start, end) = period_previous(GIFT_PERIODS[period], at, tz)
    return f"{period}:{key}", start, end


def tier_gift_grant(*, member: Member, tier: Tier, period: str, at: datetime) -> TierGift | None:
    """Give `tier`'s gift to `member` for `period` (a key such as `weekly:2026-W47`), once: the
    unique (member, period) row and the posting reference `tier_gift:<member>:<period>` make a
    repeat a no-op (returns None). Errors of the ledger (a blocked member...) propagate and leave
    nothing behind."""

    reference = f"tier_gift:{member.pk}:{period}"
    with transaction.atomic():
        try:
            with transaction.atomic():
                gift = TierGift.objects.create(
                    program_id=member.program_id,
                    member=member,
                    tier=tier,
                    period=period,
                    points=tier.gift_points,
                    at=at,
                    reference=reference,
                )
        except IntegrityError:
            return None
        points_bonus(
            member=member,
            points=int(tier.gift_points),
            at=at,
            reference=reference,
            description=member_text(
                member,
                lambda: (
                    _("%(tier)s gift for %(period)s") % {"tier": tier.name, "period": period.split(":", 1)[1]}
                ),
            ),
        )
    return gift


GIFT_CHUNK = 2000


def tier_gift_candidates(*, program, tier: Tier, at: datetime) -> tuple[str, list[int]]:
    """The gift period of `tier` before `at` and the ids of the members due its gift (one query):
    active members of the tier who joined before the period ended and have no gift for it; with
    `program.tier_gifts_require_activity`, only those active in the period (a purchase or bet, an
    earning or redemption posting, or their last activity falling in it)."""

    key, start, end = gift_period_bounds(period=tier.gift_period, at=at, tz=program.tz)
    members = Member.objects.filter(
        program=program, tier=tier, status=Member.Status.ACTIVE, created_at__lt=end
    ).exclude(Exists(TierGift.objects.filter(member=OuterRef("pk"), period=key)))
    if program.tier_gifts_require_activity:
        bought = Purchase.objects.filter(member=OuterRef("pk"), occurred_at__gte=start, occurred_at__lt=end)
        posted = Posting.objects.filter(
            member=OuterRef("pk"),
            kind__in=("earn", "redeem", "partner", "cashout"),
            created_at__gte=start,
            created_at__lt=end,
        )
        members = members.filter(
            Exists(bought) | Exists(posted) | Q(last_activity_at__gte=start, last_activity_at__lt=end)
        )
    return key, list(members.order_by("pk").values_list("pk", flat=True))


def program_tier_gifts(*, program, at: datetime) -> dict[str, int]:
    """Give every gifting tier's periodic gift of `program` for its last completed period. With
    `program.tier_gifts_require_activity`, only to members active in that period: a purchase or bet,
    an earning or redemption posting, or their last activity falling in it.

    Set-based, the rows of `tier_gift_grant` member by member: one query finds the tier's members
    due its gift (`tier_gift_candidates`), then each chunk of GIFT_CHUNK of them is one transaction
    (`_tier_gifts_chunk`). A rerun, or a run after a kill mid-way, finds the committed chunks'
    members gifted (the unique (member, period) row) and gives the rest."""
    given = skipped = 0
    for tier in (
        Tier.objects.filter(program=program, gift_points__gt=0).exclude(gift_period="").order_by("rank")
    ):
        key, ids = tier_gift_candidates(program=program, tier=tier, at=at)
        for index in range(0, len(ids), GIFT_CHUNK):
            chunk_given, chunk_skipped = _tier_gifts_chunk(
                program=program, tier=tier, period=key, member_ids=ids[index : index + GIFT_CHUNK], at=at
            )
            given += chunk_given
            skipped += chunk_skipped
    return {"given": given, "skipped": skipped}


@atomic_with_retry
def _tier_gifts_chunk(
    *, program, tier: Tier, period: str, member_ids: list[int], at: datetime
) -> tuple[int, int]:
    """`tier_gift_grant` for a chunk of members, in one transaction: the members locked (id order),
    the gift rows inserted with one statement (a member gifted meanwhile is skipped by the unique
    (member, period)), the bonuses posted together (`ledger.bonuses`: postings, entries, lots,
    balances, `points.earned` events, tier upgrades); a member the ledger refuses (a fraud limit)
    keeps no gift and counts as skipped. Returns (given, skipped)."""

    with gc_paused(), events_batched():
        members = {member.pk: member for member in members_lock(member_ids)}
        bonuses: list[Bonus] = []
        descriptions: dict[str, str] = {}
        label = period.split(":", 1)[1]
        for member in members.values():
            language = member_language(member)
            if language not in descriptions:
                descriptions[language] = member_text(
                    member, lambda: _("%(tier)s gift for %(period)s") % {"tier": tier.name, "period": label}
                )
            bonuses.append(
                Bonus(
                    member=member,
                    points=int(tier.gift_points),
                    reference=f"tier_gift:{member.pk}:{period}",
                    description=descriptions[language],
                )
            )
        refused = {bonus.member.pk for bonus in bonuses_refused(bonuses, at=at)}
        gifted = rows_insert(
            TierGift,
            {
                "member_id": [bonus.member.pk for bonus in bonuses if bonus.member.pk not in refused],
                "reference": [bonus.reference for bonus in bonuses if bonus.member.pk not in refused],
            },
            constants={
                "program_id": program.pk,
                "tier_id": tier.pk,
                "period": period,
                "points": tier.gift_points,
                "at": at,
            },
            skip_conflict=True,
            returning=("member_id",),
        )
        new = {member_id for (member_id,) in gifted}
        bonuses_post([bonus for bonus in bonuses if bonus.member.pk in new], at=at, checked=True)
    return len(new), len(refused)


# --- personal managers ---------------------------------------------------------------------------


def personal_manager_assign(*, member: Member, manager, at: datetime, user=None):
    """Make staff member `manager` the personal manager of `member` (replacing any). Raises
    InvalidInput when the member's tier gives no personal manager or the staff member belongs to
    another merchant."""
    from .models import PersonalManager

    errors: dict[str, list[str]] = {}
    tier = member_tier_of(member=member)
    if tier is None or not tier.personal_manager:
        errors["member"] = [_("This member's tier does not include a personal manager.")]
    if manager.merchant_id != member.program.merchant_id:
        errors["manager"] = [_("Choose a staff member of the member's merchant.")]
    if errors:
        raise InvalidInput(_("The personal manager cannot be assigned."), fields=errors)
    with transaction.atomic():
        row, _created = PersonalManager.objects.update_or_create(
            member=member, defaults={"manager": manager, "assigned_at": at, "assigned_by": user}
        )
    return row
