"""Ledger services: the only code that changes points (PRODUCT.md §2.2-2.4, docs/INTERFACES.md).

Every posting service takes the moment `at` and a `reference` unique within the program: repeating
a call with the same reference and the same request returns the original `Posting` and changes
nothing; the same reference with a different request raises IdempotencyConflict. Each runs in one
transaction under the member's row lock (see `ledger.engine`), retried on deadlocks and
serialization failures when it owns the transaction.

Decisions (where the issue was silent):
- Activity: earn, redeem, cash-out, partner import and refunds count as member activity (they reset
  the inactivity clock and renew lots in their renewal window). Bonuses, manual adjustments and the
  jobs (expire, decay, activate) do not: a tier gift must not keep an idle member from decaying.
  Other activity (logins, events) goes through `member_activity_record`.
- Blocked members (`Member.status == blocked`): earn, redeem, cash-out and partner import raise
  MemberBlocked; bonuses, manual adjustments, refunds and jobs still post (corrections must work).
- `posting_check` runs for earn, bonus, redeem, cash-out, partner and adjust postings, under the
  member lock, before anything is written; never for refunds or job postings.
- Pending points: purchase earnings (`points_earn`) wait `program.pending_days` (the return window)
  in the member's pending account; they become spendable lazily on the member's next posting and by
  the hourly `activate_pending` job. Lots expire `points_lifetime_days` after they were earned.
- Renewal: activity inside the renewal window restores an expired lot for a full new lifetime,
  counted from the moment of the activity.
- Extend (daily task): all active lots get `days` more, at most once per program-local day per
  member whatever the reference; the lots' expiry warnings are re-armed.
- Refund: see `purchase_refund`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.locks import member_lock
from accounts.models import Member, Program
from loyalty_site.core.config_cache import config_refresh, program_config
from loyalty_site.core.db import atomic_with_retry
from loyalty_site.core.errors import (
    InsufficientPoints,
    InvalidInput,
    LimitExceeded,
    MemberBlocked,
    RefundExceedsPurchase,
    UnsupportedCurrency,
)
from loyalty_site.core.hooks import run_hooks
from loyalty_site.core.memo import memoized
from loyalty_site.core.money import money_round, points_floor
from loyalty_site.core.periods import DAY, MONTH, period_window

from . import engine
from .engine import AlreadyPosted, Plan, fingerprint, lots_settle, posting_existing
from .models import (
    Account,
    Allocation,
    CurrencyRate,
    EntryKind,
    Lot,
    Posting,
    PostingKind,
    Purchase,
    lot_expires_at,
)
from .texts import member_text

ACTIVITY_KINDS = frozenset({"earn", "redeem", "cashout", "partner", "refund"})
BONUS_KINDS = frozenset({EntryKind.BONUS, EntryKind.EARN})


# --- rates -------------------------------------------------------------------------------------


def program_rates(program: Program | int) -> list[CurrencyRate]:
    """Every currency rate of the program, past and future, latest `valid_from` first. From the
    per-process configuration cache (`loyalty_site.core.config_cache`) when given a Program: treat
    the rows as read-only."""
    return program_config(
        program,
        "rates",
        lambda: list(CurrencyRate.objects.filter(program=program).order_by("-valid_from", "-pk")),
    )


def rate_in_force(rates: list[CurrencyRate], *, currency: str, at: datetime) -> CurrencyRate | None:
    """The rate of `currency` among `rates` (latest first) in force at `at`, or None: the latest
    rate that started by `at`. A rate stays in force until a newer one replaces it; an end date
    (`valid_to`, set only by the merchant) stops the currency being accepted from then on."""
    for rate in rates:
        if rate.currency == currency and rate.valid_from <= at:
            return rate if rate.valid_to is None or rate.valid_to > at else None
    return None


def _no_rate_error(program: Program | int, *, currency: str, at: datetime) -> Exception:
    """The error for a moment with no rate of `currency` in force: before the currency's first rate
    the moment is the problem (InvalidInput on `occurred_at`), otherwise the currency is."""
    rates = [rate for rate in program_rates(program) if rate.currency == currency]
    if rates and all(rate.valid_from > at for rate in rates):
        first = min(rate.valid_from for rate in rates)
        return InvalidInput(
            _("No %(currency)s rate on %(date)s: this program earns in %(currency)s from %(first)s.")
            % {"currency": currency, "date": f"{at:%Y-%m-%d}", "first": f"{first:%Y-%m-%d}"},
            fields={
                "occurred_at": [
                    _("Before the program's first %(currency)s rate (%(first)s UTC).")
                    % {"currency": currency, "first": f"{first:%Y-%m-%d %H:%M}"}
                ]
            },
        )
    if rates:
        ended = max((rate.valid_to for rate in rates if rate.valid_to is not None), default=at)
        message = _("%(currency)s is not accepted by this program since %(date)s.") % {
            "currency": currency,
            "date": f"{ended:%Y-%m-%d}",
        }
        return UnsupportedCurrency(message, fields={"currency": [message]})
    if currency:
        message = _("No earn rate for %(currency)s on %(date)s.") % {
            "currency": currency,
            "date": f"{at:%Y-%m-%d}",
        }
    else:
        message = _("No earn rate for an empty currency on %(date)s.") % {"date": f"{at:%Y-%m-%d}"}
    return UnsupportedCurrency(
        message,
        fields={"currency": [_("%(currency)s is not accepted by this program.") % {"currency": currency}]},
    )


def rate_get(*, program: Program, currency: str, at: datetime) -> CurrencyRate:
    """The rate of `currency` in force at `at` (`rate_in_force`). Raises InvalidInput (with
    `fields.occurred_at`) when `at` is before the currency's first rate, UnsupportedCurrency when
    the program has no rate of it or the merchant ended its last one. The rates come from the
    configuration cache, the choice is memoised per pricing call."""
    code = (currency or "").upper()
    rate = memoized(
        ("rate", getattr(program, "pk", program), code, at),
        lambda: rate_in_force(program_rates(program), currency=code, at=at),
    )
    if rate is None:
        raise _no_rate_error(program, currency=code, at=at)
    return rate


def _rate_or_none(*, program, currency: str, at: datetime):
    try:
        return rate_get(program=program, currency=currency, at=at)
    except (UnsupportedCurrency, InvalidInput):  # no rate in force, or none yet
        return None


def point_value_in(*, program, currency: str, at: datetime) -> Decimal | None:
    """Money value of one point in `currency` at `at`, or None when it cannot be valued (no rate
    for the base currency or for `currency`).

    Currency conversion (decision): the rates say how many points one unit of a currency earns.
    The program treats every currency as equally rewarding, so the ratio of two rates is the
    program's exchange rate: 1 unit of C is worth rate(C) / rate(base) units of the base currency.
    A point is worth `program.point_value` in the base currency, hence `point_value x rate(base) /
    rate(C)` in C (USD 12, AZN 8, 0.01 AZN a point -> 1 point = 0.00667 USD; earning 12 points per
    USD is then the same 8 % back as earning 8 points per AZN). With no rate for the base
    currency, points cannot be valued in another currency."""
    if currency == program.base_currency:
        return Decimal(program.point_value)
    base_rate = _rate_or_none(program=program, currency=program.base_currency, at=at)
    rate = _rate_or_none(program=program, currency=currency, at=at)
    if base_rate is None or rate is None or not rate.points_per_unit or not base_rate.points_per_unit:
        return None
    return Decimal(program.point_value) * Decimal(base_rate.points_per_unit) / Decimal(rate.points_per_unit)


def money_to_base(*, program, amount: Decimal, currency: str, at: datetime) -> Decimal | None:
    """`amount` of `currency` in the program's base currency (rounded to cents) by the rates' ratio,
    or None when there is no rate to convert with."""
    if currency == program.base_currency:
        return money_round(amount)
    base_rate = _rate_or_none(program=program, currency=program.base_currency, at=at)
    rate = _rate_or_none(program=program, currency=currency, at=at)
    if base_rate is None or rate is None or not base_rate.points_per_unit:
        return None
    return money_round(Decimal(amount) * Decimal(rate.points_per_unit) / Decimal(base_rate.points_per_unit))


def rate_set(
    *,
    program: Program,
    currency: str,
    points_per_unit: Decimal,
    at: datetime,
    cap: int | None = None,
    valid_to: datetime | None = None,
    review_every_days: int | None = None,
) -> CurrencyRate:
    """Start a new rate for `currency` at `at`, replacing the one in force (history is kept: the
    old row is closed at `at`). `valid_to` only when the currency should stop being accepted then.
    The review cadence is the replaced rate's unless given (30 days for a new currency).
    Raises InvalidInput for a non-positive rate."""
    points_per_unit = Decimal(points_per_unit)
    if points_per_unit <= 0:
        raise InvalidInput(_("A rate must be positive."), fields={"points_per_unit": [_("Must be > 0.")]})
    code = currency.upper()
    current = (
        CurrencyRate.objects.filter(program=program, currency=code, valid_from__lte=at)
        .order_by("-valid_from")
        .first()
    )
    if current is not None and current.valid_to is not None and current.valid_to <= at:
        current_in_force = None
    else:
        current_in_force = current
    if review_every_days is None:
        review_every_days = current.review_every_days if current is not None else 30
    if current_in_force is not None and current_in_force.valid_from == at:
        # a correction of a rate that starts at this very moment: no history to keep
        CurrencyRate.objects.filter(pk=current.pk).update(
            points_per_unit=points_per_unit, cap=cap, valid_to=valid_to, review_every_days=review_every_days
        )
        current.refresh_from_db()
        config_refresh(program)
        return current
    if current_in_force is not None:
        CurrencyRate.objects.filter(pk=current.pk).update(valid_to=at)
    rate = CurrencyRate.objects.create(
        program=program,
        currency=code,
        points_per_unit=points_per_unit,
        cap=cap,
        valid_from=at,
        valid_to=valid_to,
        review_every_days=review_every_days,
    )
    config_refresh(program)
    return rate


def points_for_amount(
    *, program: Program, amount: Decimal, currency: str, at: datetime
) -> tuple[int, Decimal, bool]:
    """Points one conversion of `amount` earns before the tier multiplier: (points, rate, capped).

    Per-unit mode: `amount` x the currency's rate in force at `at`, floored, then capped at the
    rate's cap (the EUR cap is per conversion, so it applies to this base conversion; the pricing
    pipeline applies the tier multiplier to the capped result). Percent mode: `earn_percent` of the
    amount valued at `point_value`; an amount in another accepted currency is first valued in the
    base currency by the ratio of the two rates in force (`point_value_in`: the program's exchange
    rate), so the returned rate is points per unit of `currency`. Raises UnsupportedCurrency, InvalidInput."""
    amount = Decimal(amount)
    if amount < 0:
        raise InvalidInput(_("The amount cannot be negative."), fields={"amount": [_("Must be >= 0.")]})
    code = (currency or "").upper()
    if program.earn_mode == Program.EarnMode.PERCENT:
        rate = program.earn_percent / Decimal(100) / program.point_value
        if code != program.base_currency:
            own = rate_get(program=program, currency=code, at=at).points_per_unit
            try:
                base = rate_get(program=program, currency=program.base_currency, at=at).points_per_unit
            except (UnsupportedCurrency, InvalidInput):
                raise UnsupportedCurrency(
                    _("%(currency)s amounts cannot be valued: the program has no %(base)s rate.")
                    % {"currency": code, "base": program.base_currency},
                    fields={"currency": [_("Use %(base)s.") % {"base": program.base_currency}]},
                ) from None
            rate = rate * own / base
        return points_floor(amount * rate), rate, False
    rate_row = rate_get(program=program, currency=currency, at=at)
    points = points_floor(amount * rate_row.points_per_unit)
    if rate_row.cap is not None and points > rate_row.cap:
        return rate_row.cap, rate_row.points_per_unit, True
    return points, rate_row.points_per_unit, False


# --- helpers -----------------------------------------------------------------------------------


def _positive(points: int, name: str = "points") -> int:
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise InvalidInput(
            _("%(field)s must be a positive whole number.") % {"field": name},
            fields={name: [_("Must be > 0.")]},
        )
    return points


def _insufficient(balance: int, needed: int) -> str:
    return ngettext(
        "The member has %(balance)s point, %(needed)s are needed.",
        "The member has %(balance)s points, %(needed)s are needed.",
        balance,
    ) % {"balance": balance, "needed": needed}


def _check_blocked(member: Member) -> None:
    if member.is_blocked:
        raise MemberBlocked(_("Member %(id)s is blocked.") % {"id": member.pk})


def _check(member: Member, *, kind: str, points: int, amount: Decimal | None, at: datetime) -> None:
    run_hooks("posting_check", member=member, kind=kind, points=points, amount=amount, at=at)


def _activity_touch(member: Member, *, at: datetime, kind: str, plan: Plan | None = None) -> None:
    """Record activity on the locked member: last_activity_at moves forward (never back: a POS
    syncing an old purchase does not make the member look idle), and the `member_activity` hook runs.
    With `plan` the new moment is written by `Plan.commit`, in the member's balance update."""
    if member.last_activity_at is None or at > member.last_activity_at:
        if plan is not None:
            plan.activity_at = at
        else:
            Member.objects.filter(pk=member.pk).update(last_activity_at=at)
        member.last_activity_at = at
    run_hooks("member_activity", member=member, at=at, kind=kind)


def _begin(member: Member, *, reference: str, fp: str, at: datetime, activity: bool, new: bool = False):
    """Replay check and lazy lifecycle for `member`, locked by the caller. Returns the posting
    already written for `reference`, or None. `new`: the caller knows the reference is new (the
    postings of a purchase row its transaction created), no look-up."""
    if not reference:
        raise InvalidInput("A posting needs a reference.", fields={"reference": ["Required."]})
    if not new:
        existing = posting_existing(program_id=member.program_id, reference=reference, fingerprint=fp)
        if existing is not None:
            return existing
    lots_settle(member, at=at, activity=activity)
    return None


def _commit(plan: Plan, **kwargs) -> Posting:
    try:
        return plan.commit(**kwargs)
    except AlreadyPosted as already:
        return already.posting


def _lock_and_run(service_locked, member: Member, **kwargs):
    """The public form of a `*_locked` service (its caller, decorated `atomic_with_retry`, owns
    the transaction or a savepoint): lock `member`, run `service_locked` on the locked copy,
    then show the outcome (balance, activity) on the caller's instance."""
    locked = member_lock(member)
    result = service_locked(member=locked, **kwargs)
    engine.sync_member(member, locked)
    return result


# --- credits -----------------------------------------------------------------------------------


@atomic_with_retry
def points_earn(
    *, member: Member, points: int, at: datetime, reference: str, purchase=None, description: str = ""
) -> Posting:
    """Credit points earned by a purchase or a bet. With `program.pending_days` they wait in the
    pending account until the return window closes. Counts as activity.
    Raises InvalidInput, MemberBlocked, IdempotencyConflict (and whatever `posting_check` raises)."""
    return _lock_and_run(
        points_earn_locked,
        member,
        points=points,
        at=at,
        reference=reference,
        purchase=purchase,
        description=description,
    )


def points_earn_locked(
    *,
    member: Member,
    points: int,
    at: datetime,
    reference: str,
    purchase=None,
    description: str = "",
    new_reference: bool = False,
) -> Posting:
    """`points_earn` for `member`, locked by the caller in its transaction (`accounts.locks`).
    No transaction of its own: an error aborts the caller's.
    `new_reference`: the caller created `purchase` in this transaction, so a reference of its
    postings cannot exist yet (no look-up; the unique constraint still guards it)."""
    _positive(points)
    fp = fingerprint(kind="earn", member=member.pk, points=points, purchase=getattr(purchase, "pk", None))
    existing = _begin(member, reference=reference, fp=fp, at=at, activity=True, new=new_reference)
    if existing:
        return existing
    _check_blocked(member)
    amount = None
    if purchase is not None and purchase.currency == member.program.base_currency:
        amount = purchase.amount_due
    _check(member, kind="earn", points=points, amount=amount, at=at)
    plan = Plan(member=member, at=at)
    pending_days = member.program.pending_days
    plan.credit(
        points,
        kind=EntryKind.EARN,
        counter=[(Account.ISSUED, points)],
        expires_at=lot_expires_at(program=member.program, at=at),
        available_at=at + timedelta(days=pending_days) if pending_days else None,
    )
    _activity_touch(member, at=at, kind="earn", plan=plan)
    return _commit(
        plan,
        new_reference=new_reference,
        kind=PostingKind.EARN,
        reference=reference,
        fingerprint=fp,
        purchase=purchase,
        description=description
        or member_text(
            member,
            lambda: f"{purchase.get_kind_display()} {purchase.external_id}" if purchase else _("Earned"),
        ),
        events=("points.earned",),
    )


@atomic_with_retry
def points_bonus(
    *,
    member: Member,
    points: int,
    at: datetime,
    reference: str,
    description: str,
    campaign=None,
    kind: str = "bonus",
) -> Posting:
    """Credit a campaign reward or gift (`kind` bonus, or earn for purchase-time campaign points).
    Spendable at once; not member activity. Raises InvalidInput, IdempotencyConflict."""
    return _lock_and_run(
        points_bonus_locked,
        member,
        points=points,
        at=at,
        reference=reference,
        description=description,
        campaign=campaign,
        kind=kind,
    )


def points_bonus_locked(
    *,
    member: Member,
    points: int,
    at: datetime,
    reference: str,
    description: str,
    campaign=None,
    kind: str = "bonus",
) -> Posting:
    """`points_bonus` for `member`, locked by the caller in its transaction (`accounts.locks`).
    No transaction of its own: an error aborts the caller's."""
    _positive(points)
    if kind not in BONUS_KINDS:
        raise InvalidInput(
            _("Unknown bonus kind '%(kind)s'.") % {"kind": kind}, fields={"kind": [_("Use bonus or earn.")]}
        )
    campaign_id = getattr(campaign, "pk", campaign)
    fp = fingerprint(kind=kind, member=member.pk, points=points, campaign=campaign_id)
    existing = _begin(member, reference=reference, fp=fp, at=at, activity=False)
    if existing:
        return existing
    _check(member, kind=kind, points=points, amount=None, at=at)
    plan = Plan(member=member, at=at)
    plan.credit(
        points,
        kind=kind,
        counter=[(Account.ISSUED, points)],
        expires_at=lot_expires_at(program=member.program, at=at),
    )
    return _commit(
        plan,
        kind=kind,
        reference=reference,
        fingerprint=fp,
        campaign_id=campaign_id,
        description=description,
        events=("points.earned",),
    )


@atomic_with_retry
def points_partner_import(
    *,
    member: Member,
    partner_points: int,
    rate: Decimal,
    bonus_percent: Decimal,
    at: datetime,
    reference: str,
    partner_code: str = "",
    partner_name: str = "",
) -> Posting:
    """Import points from a partner: partner_points x rate (floored) from the partner account, plus
    `bonus_percent` of that (floored) issued by the program. Counts as activity. The member reads
    "Points from <partner_name>" (the code only when no name is given).
    Raises InvalidInput (nothing to credit), MemberBlocked, IdempotencyConflict."""
    return _lock_and_run(
        points_partner_import_locked,
        member,
        partner_points=partner_points,
        rate=rate,
        bonus_percent=bonus_percent,
        at=at,
        reference=reference,
        partner_code=partner_code,
        partner_name=partner_name,
    )


def points_partner_import_locked(
    *,
    member: Member,
    partner_points: int,
    rate: Decimal,
    bonus_percent: Decimal,
    at: datetime,
    reference: str,
    partner_code: str = "",
    partner_name: str = "",
) -> Posting:
    """`points_partner_import` for `member`, locked by the caller in its transaction (`accounts.locks`).
    No transaction of its own: an error aborts the caller's."""
    _positive(partner_points, "partner_points")
    rate, bonus_percent = Decimal(rate), Decimal(bonus_percent)
    if rate <= 0 or bonus_percent < 0:
        raise InvalidInput(_("The partner rate must be positive and the bonus not negative."))
    base = points_floor(partner_points * rate)
    bonus = points_floor(base * bonus_percent / Decimal(100))
    if base <= 0:
        raise InvalidInput(
            _("These partner points convert to no points."), fields={"points": [_("Too few.")]}
        )
    fp = fingerprint(
        kind="partner",
        member=member.pk,
        partner_points=partner_points,
        rate=rate,
        bonus=bonus_percent,
        code=partner_code,
    )
    existing = _begin(member, reference=reference, fp=fp, at=at, activity=True)
    if existing:
        return existing
    _check_blocked(member)
    _check(member, kind="partner", points=base + bonus, amount=None, at=at)
    plan = Plan(member=member, at=at)
    plan.credit(
        base + bonus,
        kind=EntryKind.PARTNER,
        counter=[(Account.PARTNER, base), (Account.ISSUED, bonus)],
        expires_at=lot_expires_at(program=member.program, at=at),
    )
    _activity_touch(member, at=at, kind="partner", plan=plan)
    return _commit(
        plan,
        kind=PostingKind.PARTNER,
        reference=reference,
        fingerprint=fp,
        description=member_text(
            member,
            lambda: (
                _("Points from %(partner)s") % {"partner": partner_name or partner_code}
                if partner_name or partner_code
                else _("Points from a partner")
            ),
        ),
        data={
            "partner": partner_code,
            "partner_points": partner_points,
            "base": base,
            "bonus": bonus,
            "rate": str(rate),
        },
        events=("points.earned",),
    )


# --- debits ------------------------------------------------------------------------------------


@atomic_with_retry
def points_redeem(
    *, member: Member, points: int, at: datetime, reference: str, description: str = "", purchase=None
) -> Posting:
    """Spend points, first-expiring lot first. Counts as activity.
    Raises InvalidInput, MemberBlocked, InsufficientPoints (nothing changes), IdempotencyConflict."""
    return _lock_and_run(
        points_redeem_locked,
        member,
        points=points,
        at=at,
        reference=reference,
        description=description,
        purchase=purchase,
    )


def points_redeem_locked(
    *,
    member: Member,
    points: int,
    at: datetime,
    reference: str,
    description: str = "",
    purchase=None,
    new_reference: bool = False,
) -> Posting:
    """`points_redeem` for `member`, locked by the caller in its transaction (`accounts.locks`).
    No transaction of its own: an error aborts the caller's.
    `new_reference`: the caller created `purchase` in this transaction, so a reference of its
    postings cannot exist yet (no look-up; the unique constraint still guards it)."""
    _positive(points)
    fp = fingerprint(kind="redeem", member=member.pk, points=points, purchase=getattr(purchase, "pk", None))
    existing = _begin(member, reference=reference, fp=fp, at=at, activity=True, new=new_reference)
    if existing:
        return existing
    _check_blocked(member)
    # the most specific refusal first: a balance too small, before a fraud limit's
    if member.balance < points:
        raise InsufficientPoints(_insufficient(member.balance, points))
    _check(member, kind="redeem", points=points, amount=None, at=at)
    plan = Plan(member=member, at=at)
    plan.debit_lots(engine.spendable_lots(member), points, kind=EntryKind.REDEEM, counter=Account.REDEEMED)
    _activity_touch(member, at=at, kind="redeem", plan=plan)
    return _commit(
        plan,
        new_reference=new_reference,
        kind=PostingKind.REDEEM,
        reference=reference,
        fingerprint=fp,
        purchase=purchase,
        amount=member.program.points_value(points),
        description=description or member_text(member, lambda: _("Points redeemed")),
        events=("points.redeemed",),
    )


@atomic_with_retry
def points_redeem_return(*, posting: Posting, at: datetime, reference: str, description: str = "") -> Posting:
    """Give back every point of the redeem posting `posting` (e.g. a cancelled reward redemption) to
    the lots it was spent from; the part whose lots are no longer active goes into a new lot with a
    full lifetime. The allocations record what was returned, so the points come back once: a second
    call with another reference raises InvalidInput. Not member activity (the merchant cancels).
    Raises InvalidInput (not a redeem posting, nothing left to return), IdempotencyConflict."""
    return _lock_and_run(
        points_redeem_return_locked,
        posting.member,
        posting=posting,
        at=at,
        reference=reference,
        description=description,
    )


def points_redeem_return_locked(
    *, member: Member, posting: Posting, at: datetime, reference: str, description: str = ""
) -> Posting:
    """`points_redeem_return` for `posting`'s `member`, locked by the caller in its transaction
    (`accounts.locks`). No transaction of its own: an error aborts the caller's."""
    if posting.kind != PostingKind.REDEEM or posting.member_id != member.pk:
        raise InvalidInput(_("Only a redemption's points can be returned."))
    fp = fingerprint(kind="redeem_return", member=posting.member_id, posting=posting.pk)
    existing = _begin(member, reference=reference, fp=fp, at=at, activity=False)
    if existing:
        return existing
    allocations = Allocation.objects.select_related("lot").filter(posting=posting).order_by("id")
    left = sum(allocation.points - allocation.returned for allocation in allocations)
    if left <= 0:
        raise InvalidInput(_("The points of this redemption were returned already."))
    plan = Plan(member=member, at=at)
    returned = _return_allocations(plan, member, allocations, left, at=at)
    return _commit(
        plan,
        kind=PostingKind.REFUND,
        reference=reference,
        fingerprint=fp,
        description=description or member_text(member, lambda: _("Redeemed points returned")),
        data={"redeem_posting": posting.pk, "points_returned": returned},
    )


def cashout_quote(*, program: Program, points: int) -> tuple[Decimal, Decimal]:
    """(gross value, fee) of cashing out `points` in the base currency."""
    value = program.points_value(points)
    fee = money_round(value * program.cashout_fee_percent / Decimal(100))
    return value, fee


@atomic_with_retry
def points_cashout(*, member: Member, points: int, at: datetime, reference: str) -> Posting:
    """Convert points to money (the member's wallet): value = points x point value, less the fee.
    The gross value counts against the daily and monthly limits (program-local days and calendar
    months, base currency). Posting.amount is the gross value, Posting.fee the fee, data["net"] the
    money paid out. Counts as activity.
    Raises InvalidInput, MemberBlocked, InsufficientPoints, LimitExceeded, IdempotencyConflict."""
    return _lock_and_run(points_cashout_locked, member, points=points, at=at, reference=reference)


def points_cashout_locked(*, member: Member, points: int, at: datetime, reference: str) -> Posting:
    """`points_cashout` for `member`, locked by the caller in its transaction (`accounts.locks`).
    No transaction of its own: an error aborts the caller's."""
    _positive(points)
    fp = fingerprint(kind="cashout", member=member.pk, points=points)
    existing = _begin(member, reference=reference, fp=fp, at=at, activity=True)
    if existing:
        return existing
    _check_blocked(member)
    program = member.program
    value, fee = cashout_quote(program=program, points=points)
    if member.balance < points:
        raise InsufficientPoints(_insufficient(member.balance, points))
    _check(member, kind="cashout", points=points, amount=value, at=at)
    day_start, day_end = period_window(DAY, at, program.tz)
    month_start, month_end = period_window(MONTH, at, program.tz)
    cashouts = Posting.objects.filter(member_id=member.pk, kind=PostingKind.CASHOUT)
    used_day = cashouts.filter(created_at__gte=day_start, created_at__lt=day_end).aggregate(
        s=Coalesce(Sum("amount"), Decimal("0"))
    )["s"]
    if used_day + value > program.cashout_daily_limit:
        raise LimitExceeded(
            _("Cash-out limit: %(limit)s %(currency)s a day (%(used)s used today).")
            % {"limit": program.cashout_daily_limit, "currency": program.base_currency, "used": used_day}
        )
    used_month = cashouts.filter(created_at__gte=month_start, created_at__lt=month_end).aggregate(
        s=Coalesce(Sum("amount"), Decimal("0"))
    )["s"]
    if used_month + value > program.cashout_monthly_limit:
        raise LimitExceeded(
            _("Cash-out limit: %(limit)s %(currency)s a month (%(used)s used this month).")
            % {"limit": program.cashout_monthly_limit, "currency": program.base_currency, "used": used_month}
        )
    plan = Plan(member=member, at=at)
    plan.debit_lots(engine.spendable_lots(member), points, kind=EntryKind.CASHOUT, counter=Account.CASHED_OUT)
    _activity_touch(member, at=at, kind="cashout", plan=plan)
    return _commit(
        plan,
        kind=PostingKind.CASHOUT,
        reference=reference,
        fingerprint=fp,
        amount=value,
        fee=fee,
        description=member_text(member, lambda: _("Cash-out")),
        data={
            "value": str(value),
            "fee": str(fee),
            "net": str(value - fee),
            "currency": program.base_currency,
        },
        events=("points.redeemed",),
    )


@atomic_with_retry
def points_adjust(
    *, member: Member, points: int, at: datetime, reference: str, reason: str, user=None
) -> Posting:
    """A manual correction by staff, signed. A credit is a new lot; a debit is taken first-expiring
    first and never takes the balance below zero. Not member activity.
    Raises InvalidInput (zero points, no reason), InsufficientPoints, IdempotencyConflict."""
    return _lock_and_run(
        points_adjust_locked, member, points=points, at=at, reference=reference, reason=reason, user=user
    )


def points_adjust_locked(
    *, member: Member, points: int, at: datetime, reference: str, reason: str, user=None
) -> Posting:
    """`points_adjust` for `member`, locked by the caller in its transaction (`accounts.locks`).
    No transaction of its own: an error aborts the caller's."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InvalidInput(
            _("Adjust by a non-zero whole number of points."), fields={"points": [_("Not zero.")]}
        )
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the points are adjusted."), fields={"reason": [_("Required.")]})
    fp = fingerprint(kind="adjust", member=member.pk, points=points)
    existing = _begin(member, reference=reference, fp=fp, at=at, activity=False)
    if existing:
        return existing
    _check(member, kind="adjust", points=points, amount=None, at=at)
    plan = Plan(member=member, at=at)
    if points > 0:
        plan.credit(
            points,
            kind=EntryKind.ADJUST,
            counter=[(Account.ADJUSTMENT, points)],
            expires_at=lot_expires_at(program=member.program, at=at),
        )
    else:
        if member.balance < -points:
            raise InsufficientPoints(
                ngettext(
                    "The member has %(balance)s point; cannot take %(points)s.",
                    "The member has %(balance)s points; cannot take %(points)s.",
                    member.balance,
                )
                % {"balance": member.balance, "points": -points}
            )
        plan.debit_lots(
            engine.spendable_lots(member), -points, kind=EntryKind.ADJUST, counter=Account.ADJUSTMENT
        )
    return _commit(
        plan,
        kind=PostingKind.ADJUST,
        reference=reference,
        fingerprint=fp,
        user=user,
        description=reason.strip()[:255],
        data={"reason": reason.strip(), "user": getattr(user, "pk", None)},
    )


# --- activity, extension ------------------------------------------------------------------------


@atomic_with_retry
def member_activity_record(*, member: Member, at: datetime, kind: str) -> Member:
    """Record member activity (login, event, task...): resets the inactivity clock and renews the
    lots inside their renewal window (for a full lifetime from `at`). Runs `member_activity`.
    Returns the member with fresh balance fields."""
    _lock_and_run(member_activity_record_locked, member, at=at, kind=kind)
    return member


def member_activity_record_locked(*, member: Member, at: datetime, kind: str) -> Member:
    """`member_activity_record` for `member`, locked by the caller in its transaction (`accounts.locks`).
    No transaction of its own: an error aborts the caller's."""
    lots_settle(member, at=at, activity=True)
    _activity_touch(member, at=at, kind=kind)
    return member


@atomic_with_retry
def points_extend(*, member: Member, days: int, at: datetime, reference: str) -> Posting:
    """Daily task reward: every active lot of the member expires `days` later. At most once per
    program-local day: a second call the same day (any reference) returns that day's posting.
    Re-arms the expiry warning of the extended lots. Raises InvalidInput, IdempotencyConflict."""
    return _lock_and_run(points_extend_locked, member, days=days, at=at, reference=reference)


def points_extend_locked(*, member: Member, days: int, at: datetime, reference: str) -> Posting:
    """`points_extend` for `member`, locked by the caller in its transaction (`accounts.locks`).
    No transaction of its own: an error aborts the caller's."""
    _positive(days, "days")
    fp = fingerprint(kind="extend", member=member.pk, days=days)
    existing = _begin(member, reference=reference, fp=fp, at=at, activity=False)
    if existing:
        return existing
    day_start, day_end = period_window(DAY, at, member.program.tz)
    same_day = Posting.objects.filter(
        member_id=member.pk, kind=PostingKind.EXTEND, created_at__gte=day_start, created_at__lt=day_end
    ).first()
    if same_day is not None:
        return same_day
    lots = list(Lot.objects.filter(member_id=member.pk, state=Lot.State.ACTIVE, remaining__gt=0))
    for lot in lots:
        lot.expires_at += timedelta(days=days)
        lot.warned_at = None
    plan = Plan(member=member, at=at)
    for lot in lots:
        plan.touch(lot)
    return _commit(
        plan,
        kind=PostingKind.EXTEND,
        reference=reference,
        fingerprint=fp,
        description=member_text(
            member,
            lambda: (
                ngettext("Points extended by %(days)s day", "Points extended by %(days)s days", days)
                % {"days": days}
            ),
        ),
        data={"days": days, "lots": [lot.pk for lot in lots]},
    )


# --- refunds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundPreview:
    """What refunding `amount` of a purchase does (`purchase_refund_preview`): the value refunded,
    the money to hand back (the share of what was paid in money; the rest was paid with points,
    which come back as points), the earned points taken back and the spent points given back, and
    what is left to refund afterwards. `points_to_reverse` is taken from the balance as far as it
    goes; what it cannot cover is written off (the refund posting's `data["written_off"]`)."""

    amount: Decimal
    money_returned: Decimal
    currency: str
    points_to_reverse: int
    points_to_return: int
    refunded_after: Decimal
    left_after: Decimal


def purchase_refundable(purchase: Purchase) -> Decimal:
    """The value still refundable on a purchase: the price after discounts (money and points) less
    what was refunded. Zero once fully refunded."""
    return max(purchase.amount - purchase.discount_amount - purchase.refunded_amount, Decimal("0"))


def purchase_money_returned(purchase: Purchase, refunded: Decimal | None = None) -> Decimal:
    """Money handed back when `refunded` (default: what was refunded so far) of the purchase's value
    is refunded: that share of the money paid (`amount_due`), rounded once over the cumulative
    total so that refunds in parts add up to exactly what was paid."""
    refunded = purchase.refunded_amount if refunded is None else refunded
    total = purchase.amount - purchase.discount_amount
    if total <= 0:
        return Decimal("0.00")
    return money_round(purchase.amount_due * refunded / total)


def purchase_refund_preview(*, purchase: Purchase, amount: Decimal | None = None) -> RefundPreview:
    """What `purchase_refund` of `amount` (default: all that is left) would do, read from the
    purchase as given (`purchase_refund` calls it on the row it locked; the till shows it before a
    refund is confirmed). Cumulatively, refunding share s of the value reverses floor(s x
    points_earned) and returns floor(s x points_redeemed), so a full refund (in one go or in parts)
    is exact. Raises InvalidInput (amount <= 0), RefundExceedsPurchase."""
    if amount is not None:
        amount = money_round(amount)
        if amount <= 0:
            raise InvalidInput(_("A refund amount must be positive."), fields={"amount": [_("Must be > 0.")]})
    total = purchase.amount - purchase.discount_amount
    left = total - purchase.refunded_amount
    refund = left if amount is None else amount
    if left <= 0:
        raise RefundExceedsPurchase(_("This purchase is fully refunded."))
    if refund > left:
        raise RefundExceedsPurchase(
            _("%(left)s %(currency)s is left to refund on this purchase.")
            % {"left": left, "currency": purchase.currency},
            fields={"amount": [_("At most %(left)s.") % {"left": left}]},
        )
    refunded = purchase.refunded_amount + refund
    reversed_target = (
        points_floor(Decimal(purchase.points_earned) * refunded / total) if total else purchase.points_earned
    )
    returned_target = (
        points_floor(Decimal(purchase.points_redeemed) * refunded / total)
        if total
        else purchase.points_redeemed
    )
    return RefundPreview(
        amount=refund,
        money_returned=purchase_money_returned(purchase, refunded) - purchase_money_returned(purchase),
        currency=purchase.currency,
        points_to_reverse=max(reversed_target - purchase.points_reversed, 0),
        points_to_return=max(returned_target - purchase.points_returned, 0),
        refunded_after=refunded,
        left_after=total - refunded,
    )


@atomic_with_retry
def purchase_refund(
    *, purchase: Purchase, amount: Decimal | None = None, at: datetime, reference: str
) -> Posting:
    """Refund all or part of a purchase. The refundable value is the price after discounts
    (`amount - discount_amount`, which includes the part paid with points); `amount` defaults to all
    that is left. Cumulatively, refunding share s of it reverses floor(s x points_earned) and returns
    floor(s x points_redeemed), so a full refund (in one go or in parts) is exact.

    Policy when the earned points were already spent: the reversal is taken first from what is left
    of the purchase's own lots (pending or active; a refund is activity, so lots inside their renewal
    window were renewed first), then from the member's other spendable points,
    first-expiring first, after the spent points were returned; what the balance still cannot cover
    is written off (the balance never goes negative) and recorded as `data["written_off"]`.
    Returned points go back to the lots they were spent from when these are still active, otherwise
    into a new lot with a full lifetime. Counts as activity.

    Posting.data has points_reversed, points_returned, written_off, amount, money_returned.
    Raises InvalidInput (amount <= 0), RefundExceedsPurchase, IdempotencyConflict."""
    if amount is not None:
        amount = money_round(amount)
    fp = fingerprint(kind="refund", purchase=purchase.pk, amount=amount)
    member = purchase.member
    locked = member_lock(member)
    existing = _begin(locked, reference=reference, fp=fp, at=at, activity=True)
    if existing:
        engine.sync_member(member, locked)
        return existing
    current = Purchase.objects.get(pk=purchase.pk)  # under the member lock: refunds are serialised
    preview = purchase_refund_preview(purchase=current, amount=amount)
    refund, refunded = preview.amount, preview.refunded_after
    to_reverse, to_return = preview.points_to_reverse, preview.points_to_return

    plan = Plan(member=locked, at=at)
    reversed_points = 0
    if to_reverse:
        own = list(
            Lot.objects.filter(
                posting__purchase=current,
                posting__kind__in=[PostingKind.EARN, PostingKind.BONUS],
                state__in=[Lot.State.PENDING, Lot.State.ACTIVE],
                remaining__gt=0,
            ).order_by("expires_at", "id")
        )
        reversed_points = plan.debit_lots(
            own, to_reverse, kind=EntryKind.REVERSAL, counter=Account.ISSUED, partial=True
        )
    returned = _return_spent(plan, locked, current, to_return, at=at)
    if to_reverse > reversed_points:
        others = [lot for lot in engine.spendable_lots(locked) if lot.pk not in plan.touched] + [
            lot for lot in plan.touched.values() if lot.state == Lot.State.ACTIVE and lot.remaining > 0
        ]
        others.extend(lot for lot in plan.new_lots if lot.remaining > 0)
        others.sort(key=lambda lot: (lot.expires_at, lot.pk or 0))
        reversed_points += _debit_including_new(plan, others, to_reverse - reversed_points)
    written_off = to_reverse - reversed_points
    Purchase.objects.filter(pk=current.pk).update(
        refunded_amount=refunded,
        points_reversed=current.points_reversed + to_reverse,
        points_returned=current.points_returned + returned,
    )
    purchase.refunded_amount = refunded
    purchase.points_reversed = current.points_reversed + to_reverse
    purchase.points_returned = current.points_returned + returned
    _activity_touch(locked, at=at, kind="refund", plan=plan)
    posting = _commit(
        plan,
        kind=PostingKind.REFUND,
        reference=reference,
        fingerprint=fp,
        purchase=current,
        amount=refund,
        description=member_text(
            locked,
            lambda: _("Refund of %(purchase)s") % {"purchase": current.label(locked.program, lowercase=True)},
        ),
        data={
            "amount": str(refund),
            "points_reversed": reversed_points,
            "points_returned": returned,
            "written_off": written_off,
            "money_returned": str(preview.money_returned),
        },
    )
    engine.sync_member(member, locked)
    return posting


def _return_spent(plan: Plan, member: Member, purchase: Purchase, points: int, *, at: datetime) -> int:
    """Give back `points` spent on the purchase to the lots they came from (new lot when gone)."""
    if not points:
        return 0
    allocations = (
        Allocation.objects.select_related("lot")
        .filter(posting__purchase=purchase, posting__kind=PostingKind.REDEEM)
        .order_by("id")
    )
    return _return_allocations(plan, member, allocations, points, at=at)


def _return_allocations(plan: Plan, member: Member, allocations, points: int, *, at: datetime) -> int:
    """Give back up to `points` of `allocations` (in order) to their lots: an active lot gets its
    part back, the parts of lots no longer active go into one new lot with a full lifetime. Marks
    the allocations returned. Returns the points given back."""
    left = points
    expired_part = 0
    for allocation in allocations:
        part = min(allocation.points - allocation.returned, left)
        if part <= 0:
            continue
        Allocation.objects.filter(pk=allocation.pk).update(returned=allocation.returned + part)
        lot = plan.touched.get(allocation.lot_id, allocation.lot)
        if lot.state == Lot.State.ACTIVE:
            plan.credit_lot(lot, part, kind=EntryKind.REFUND, counter=Account.REDEEMED)
        else:
            expired_part += part
        left -= part
        if left == 0:
            break
    if expired_part:
        plan.credit(
            expired_part,
            kind=EntryKind.REFUND,
            counter=[(Account.REDEEMED, expired_part)],
            expires_at=lot_expires_at(program=member.program, at=at),
        )
    return points - left


def _debit_including_new(plan: Plan, lots: list[Lot], points: int) -> int:
    """Claw back up to `points` from `lots` (may include a lot created by this plan)."""
    return plan.debit_lots(lots, points, kind=EntryKind.REVERSAL, counter=Account.ISSUED, partial=True)
