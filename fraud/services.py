"""Fraud rules applied in real time (the ledger's `posting_check` hook) and by the 10-minute
monitor, and the review of the flags it raises.

What counts. Postings of the rule's kinds (earn, redeem, cash-out by default) recorded for the
member in the window `(end - window, end]`, after the member's last review (a cleared flag starts a
clean slate, otherwise an unblocked member would be blocked again by the same history). A posting's amount is
its money amount in the base currency, or its points at the program's point value when it has
none (a redemption). A posting counts at the moment it was recorded (`Posting.recorded_at`), not
the moment it is about: a purchase back-dated by the client counts now, in every window.

Real time. Under the member lock the ledger asks `posting_check`; a posting that would breach a
rule with `enforce_in_real_time` is refused with `LimitExceeded` (422 limit_exceeded) and nothing
is written. The window ends at the moment of the check (the clock read under the lock, see
`ledger.engine.recorded_moment`), not at the request's start: a request that waited for the lock
counts everything committed meanwhile, so parallel requests cannot pass a limit together.

Monitor. Every 10 minutes, one grouped query per rule finds the members over a limit; each is
blocked with an open flag and a `member.blocked` event, in one transaction under the member lock.
A member with an open flag is skipped, so a repeated run, a second beat or a second worker adds
nothing (and at most one open flag per member is also a database constraint).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Abs, Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.locks import member_lock
from accounts.models import Member, Program
from accounts.services import member_set_status
from ledger.engine import recorded_moment
from ledger.models import Posting
from loyalty_site.core.config_cache import program_config, program_of
from loyalty_site.core.errors import InvalidInput, LimitExceeded
from loyalty_site.core.events import event_emit
from loyalty_site.core.memo import memoized
from loyalty_site.core.money import money_round

from .models import FraudFlag, FraudRule

logger = logging.getLogger("loyalty.fraud")
MONEY = DecimalField(max_digits=20, decimal_places=6)


def _amount_expression(program: Program):
    """The posting's money in the base currency: its amount, else its purchase's amount due when
    that is in the base currency (what the ledger passes to `posting_check`), else its points at
    the point value."""
    return Coalesce(
        "amount",
        Case(
            When(purchase__currency=program.base_currency, then=F("purchase__amount_due")), output_field=MONEY
        ),
        ExpressionWrapper(Abs("points") * Value(program.point_value, output_field=MONEY), output_field=MONEY),
        output_field=MONEY,
    )


def _last_review(member_id) -> Subquery:
    return Subquery(
        FraudFlag.objects.filter(member_id=member_id, reviewed_at__isnull=False)
        .values("member_id")
        .annotate(last=Max("reviewed_at"))
        .values("last")[:1]
    )


def _window_postings(*, rule: FraudRule, at: datetime):
    start = at - timedelta(minutes=rule.window_minutes)
    return (
        Posting.objects.filter(program_id=rule.program_id, kind__in=rule.kinds, recorded_at__gt=start)
        .filter(recorded_at__lte=at)
        .annotate(last_review=_last_review(OuterRef("member_id")))
        .filter(Q(last_review__isnull=True) | Q(recorded_at__gt=F("last_review")))
    )


def rules_active(*, program_id: int) -> list[FraudRule]:
    return list(FraudRule.objects.filter(program_id=program_id, is_active=True).order_by("pk"))


def posting_check(
    *, member: Member, kind: str, points: int, amount: Decimal | None, at: datetime, **_kwargs: object
) -> None:
    """The `posting_check` hook (the member is locked by the caller). Raises LimitExceeded when this
    posting would breach a real-time rule. (Blocked members are refused by the ledger itself, which
    still lets bonuses and corrections through.)

    Cost: the program's rules come from the configuration cache (`core.config_cache`); when some
    apply, one aggregate query counts the member's postings for all of them (a filtered count and
    sum per rule over the widest window)."""

    program_id = member.program_id
    active = memoized(
        ("fraud_rules", program_id),
        lambda: program_config(
            program_of(member), "fraud_rules", lambda: rules_active(program_id=program_id)
        ),
    )
    rules = [r for r in active if r.enforce_in_real_time and kind in r.kinds]
    if not rules:
        return
    program = member.program
    this_amount = amount if amount is not None else Decimal(abs(points)) * program.point_value
    # the clock is read here, under the member lock: what committed while this request waited counts
    end = recorded_moment(at)
    totals = _member_window_totals(member=member, program=program, rules=rules, at=end)
    for index, rule in enumerate(rules):
        count = totals[f"n{index}"] + 1
        total = (totals[f"total{index}"] or Decimal(0)) + this_amount
        if rule.max_count is not None and count > rule.max_count:
            raise LimitExceeded(
                ngettext(
                    "Limit reached: %(rule)s (at most %(count)s transaction in %(minutes)s minutes).",
                    "Limit reached: %(rule)s (at most %(count)s transactions in %(minutes)s minutes).",
                    rule.max_count,
                )
                % {"rule": rule.name, "count": rule.max_count, "minutes": rule.window_minutes}
            )
        if rule.max_amount is not None and total > rule.max_amount:
            raise LimitExceeded(
                _("Limit reached: %(rule)s (at most %(amount)s %(currency)s in %(minutes)s minutes).")
                % {
                    "rule": rule.name,
                    "amount": rule.max_amount,
                    "currency": program.base_currency,
                    "minutes": rule.window_minutes,
                }
            )


def _member_window_totals(*, member: Member, program: Program, rules: list[FraudRule], at: datetime) -> dict:
    """One statement for all real-time rules: per rule, the member's postings of its kinds recorded
    in its window ending at `at` (after the member's last reviewed flag; no upper bound, so a
    posting a web server with a clock slightly ahead recorded still counts) and their money, as
    n<i>, total<i>.
    Written in SQL: it runs on every posting, and building it with the ORM cost more than running it.
    The money of a posting is `_amount_expression`'s: its amount, else its purchase's amount due in
    the base currency, else its points at the point value."""
    columns, params = [], []
    for index, rule in enumerate(rules):
        inside = "p.kind = ANY(%s) AND p.recorded_at > %s"
        start = at - timedelta(minutes=rule.window_minutes)
        columns.append(f"count(*) FILTER (WHERE {inside}) AS n{index}")
        columns.append(
            "sum(coalesce(p.amount, CASE WHEN pu.currency = %s THEN pu.amount_due END, abs(p.points) * %s)) "
            f"FILTER (WHERE {inside}) AS total{index}"
        )
        params += [
            list(rule.kinds),
            start,
            program.base_currency,
            program.point_value,
            list(rule.kinds),
            start,
        ]
    earliest = at - timedelta(minutes=max(rule.window_minutes for rule in rules))
    sql = (
        f"SELECT {', '.join(columns)} FROM ledger_posting p "
        "LEFT JOIN ledger_purchase pu ON pu.id = p.purchase_id "
        "WHERE p.program_id = %s AND p.member_id = %s AND p.recorded_at > %s "
        "AND p.recorded_at > coalesce((SELECT max(f.reviewed_at) FROM fraud_fraudflag f "
        "WHERE f.member_id = %s AND f.reviewed_at IS NOT NULL), '-infinity'::timestamptz)"
    )
    params += [program.pk, member.pk, earliest, member.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return {column.name: value for column, value in zip(cursor.description, row, strict=True)}


def _member_window_totals_orm(
    *, member: Member, program: Program, rules: list[FraudRule], at: datetime
) -> dict:
    """`_member_window_totals` through the ORM: the monitor's definition (`_amount_expression`,
    `_last_review`), kept as the reference a test holds the statement to."""
    earliest = at - timedelta(minutes=max(rule.window_minutes for rule in rules))
    postings = (
        Posting.objects.filter(program_id=program.pk, member_id=member.pk, recorded_at__gt=earliest)
        .annotate(last_review=_last_review(OuterRef("member_id")))
        .filter(Q(last_review__isnull=True) | Q(recorded_at__gt=F("last_review")))
    )
    money = _amount_expression(program)
    aggregates = {}
    for index, rule in enumerate(rules):
        inside = Q(kind__in=rule.kinds, recorded_at__gt=at - timedelta(minutes=rule.window_minutes))
        aggregates[f"n{index}"] = Count("id", filter=inside)
        aggregates[f"total{index}"] = Sum(money, filter=inside)
    return postings.aggregate(**aggregates)


def rule_breaches(*, rule: FraudRule, at: datetime) -> list[dict]:
    """Members of the rule's program over its limits in the window ending at `at`, not already
    blocked: [{"member_id", "n", "total"}], by member id."""
    program = rule.program
    limits = Q()
    if rule.max_count is not None:
        limits |= Q(n__gt=rule.max_count)
    if rule.max_amount is not None:
        limits |= Q(total__gt=rule.max_amount)
    return list(
        _window_postings(rule=rule, at=at)
        .filter(member__status=Member.Status.ACTIVE)
        .values("member_id")
        .annotate(
            n=Count("id"), total=Coalesce(Sum(_amount_expression(program)), Value(0, output_field=MONEY))
        )
        .filter(limits)
        .order_by("member_id")
    )


def member_flag_and_block(
    *, member_id: int, rule: FraudRule, transactions: int, amount: Decimal, at: datetime
):
    """Block the member for review with an open flag and emit `member.blocked`, in one transaction.
    Returns the flag, or None when the member is already blocked (nothing changes)."""
    with transaction.atomic():
        member = member_lock(member_id)
        if member.status == Member.Status.BLOCKED:
            return None
        try:
            with transaction.atomic():
                flag = FraudFlag.objects.create(
                    program_id=member.program_id,
                    member=member,
                    rule=rule,
                    rule_name=rule.name,
                    window_start=at - timedelta(minutes=rule.window_minutes),
                    window_end=at,
                    transactions=transactions,
                    amount=money_round(amount),
                    detected_at=at,
                )
        except IntegrityError:  # an open flag exists (blocked, then unblocked by hand meanwhile)
            return None
        member_set_status(
            member=member,
            status=Member.Status.BLOCKED,
            reason=_("Fraud monitor: %(rule)s") % {"rule": rule.name},
        )
        event_emit(
            program=member.program,
            type="member.blocked",
            at=at,
            member=member,
            data={
                "member_id": member.pk,
                "external_id": member.external_id,
                "rule": rule.name,
                "transactions": transactions,
                "amount": flag.amount,
                "window_minutes": rule.window_minutes,
            },
            key=f"member.blocked:flag:{flag.pk}",
        )
    return flag


def fraud_monitor_run(*, at: datetime) -> dict:
    summary = {"rules": 0, "breaches": 0, "blocked": 0}
    for rule in FraudRule.objects.filter(is_active=True, program__is_active=True).select_related("program"):
        summary["rules"] += 1
        for row in rule_breaches(rule=rule, at=at):
            summary["breaches"] += 1
            flag = member_flag_and_block(
                member_id=row["member_id"], rule=rule, transactions=row["n"], amount=row["total"], at=at
            )
            if flag is not None:
                summary["blocked"] += 1
                logger.warning("fraud_monitor blocked member %s (%s)", row["member_id"], rule.name)
    return summary


def fraud_flag_review(
    *, flag: FraudFlag, decision: str, at: datetime, user=None, note: str = ""
) -> FraudFlag:
    """Close an open flag. `decision` "cleared" unblocks the member (their earlier transactions no
    longer count against the rules); "confirmed" keeps them blocked. Raises InvalidInput when the
    flag is not open or the decision is unknown."""
    if decision not in (FraudFlag.Status.CLEARED, FraudFlag.Status.CONFIRMED):
        raise InvalidInput(_("Decide cleared or confirmed."))
    with transaction.atomic():
        member = member_lock(flag.member_id)
        locked = FraudFlag.objects.select_for_update().get(pk=flag.pk)
        if locked.status != FraudFlag.Status.OPEN:
            raise InvalidInput(_("This flag was already reviewed."))
        locked.status, locked.reviewed_at, locked.reviewed_by, locked.note = decision, at, user, note[:255]
        locked.save(update_fields=["status", "reviewed_at", "reviewed_by", "note"])
        if decision == FraudFlag.Status.CLEARED:
            member_set_status(member=member, status=Member.Status.ACTIVE)
    flag.refresh_from_db()
    return flag
