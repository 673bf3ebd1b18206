"""Rates in force and their review cadence (issue 16 item 1).

A rate stays in force until a newer rate of its currency starts (`services.rate_in_force`), so a
program never stops earning because nobody renewed it. Instead the merchant is reminded to review
the rate in force every `review_every_days` (the seed: GBP every 14 days, the others 30), counted
from when it was last marked reviewed (`reviewed_at`), or from its start:

- due periods: the n-th falls due at `base + n x review_every_days` (n >= 1); a rate is due while
  the latest of them has passed and nobody marked it reviewed since;
- the daily job `rate_review_reminders` reminds once per due period: a conditional UPDATE of
  `review_reminded_at` claims the period (so two runs never remind twice), then the event
  `rate.review_due` (key per rate and period; webhooks) and an e-mail to the merchant's owners
  (after commit);
- the admin shows a notice on the program and rates pages while a rate is due, and its action
  "Mark as reviewed" (`rate_review_mark`) starts a new period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Program, StaffMember
from loyalty_site.core.config_cache import config_refresh
from loyalty_site.core.events import event_emit
from loyalty_site.core.i18n import program_language

from .models import CurrencyRate
from .services import program_rates, rate_in_force

logger = logging.getLogger("loyalty.ledger")


@dataclass(frozen=True)
class ReviewDue:
    rate: CurrencyRate
    due_at: datetime  # the start of the due period the rate is in


def rates_in_force(*, program: Program, at: datetime) -> list[CurrencyRate]:
    """The rate in force at `at` of each currency the program has rates for, by currency."""
    rates = program_rates(program)
    found = (rate_in_force(rates, currency=code, at=at) for code in sorted({r.currency for r in rates}))
    return [rate for rate in found if rate is not None]


def rate_review_due_at(rate: CurrencyRate, *, at: datetime) -> datetime | None:
    """The start of the due period `rate` is in at `at`, or None when its review is not due."""
    base = rate.reviewed_at or rate.valid_from
    period = timedelta(days=max(int(rate.review_every_days), 1))
    periods = (at - base) // period
    if periods < 1:
        return None
    return base + periods * period


def rates_review_due(*, program: Program, at: datetime) -> list[ReviewDue]:
    """The program's rates in force at `at` whose review is due, by currency."""
    due = []
    for rate in rates_in_force(program=program, at=at):
        due_at = rate_review_due_at(rate, at=at)
        if due_at is not None:
            due.append(ReviewDue(rate=rate, due_at=due_at))
    return due


def rate_review_notice(*, program: Program, at: datetime) -> str:
    """The admin's notice for the program's rates due for review, or ""."""
    due = rates_review_due(program=program, at=at)
    if not due:
        return ""
    names = ", ".join(
        _("%(currency)s (due %(date)s)") % {"currency": item.rate.currency, "date": f"{item.due_at:%Y-%m-%d}"}
        for item in due
    )
    return _(
        "%(program)s: review the currency rates %(rates)s. They stay in force until you set new "
        "ones; select them under Currency rates and run “Mark as reviewed”."
    ) % {"program": program.name, "rates": names}


def rate_review_mark(*, rate: CurrencyRate, at: datetime) -> CurrencyRate:
    """Mark `rate` reviewed at `at`: its next review falls due `review_every_days` later."""
    CurrencyRate.objects.filter(pk=rate.pk).update(reviewed_at=at)
    rate.reviewed_at = at
    config_refresh(rate.program)
    return rate


def _owner_emails(program: Program) -> list[str]:
    emails = sorted(
        {
            email
            for email in StaffMember.objects.filter(
                merchant_id=program.merchant_id, role=StaffMember.Role.OWNER, user__is_active=True
            ).values_list("user__email", flat=True)
            if email
        }
    )
    if not emails and program.merchant.contact_email:
        emails = [program.merchant.contact_email]
    return emails


def _send_owner_mail(*, program: Program, items: list[ReviewDue]) -> None:
    """The reminder to the merchant's owners, in the program's default language (the job runs in
    no one's)."""
    recipients = _owner_emails(program)
    if not recipients:
        return
    with translation.override(program_language(program)):
        lines = [
            "- "
            + _("%(currency)s: %(points)s points per unit since %(since)s, review due %(due)s")
            % {
                "currency": item.rate.currency,
                "points": f"{item.rate.points_per_unit.normalize():f}",
                "since": f"{item.rate.valid_from:%Y-%m-%d}",
                "due": f"{item.due_at:%Y-%m-%d}",
            }
            for item in items
        ]
        body = (
            _("The currency rates of %(program)s are due for review:") % {"program": program.name}
            + "\n"
            + "\n".join(lines)
            + "\n\n"
            + _(
                "They stay in force until you set new ones. Change them under Currency rates in the "
                "admin, or mark them as reviewed there."
            )
        )
        subject = _("%(program)s: currency rates to review") % {"program": program.name}
    try:
        send_mail(
            subject,
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    except Exception:  # the reminder is recorded; the event and the admin notice still tell
        logger.exception("rate review e-mail to %s failed", recipients)


def _program_reminders(program: Program, *, at: datetime) -> int:
    with transaction.atomic():
        claimed = []
        for item in rates_review_due(program=program, at=at):
            # claims the period: a concurrent or repeated run updates nothing and reminds nothing
            won = (
                CurrencyRate.objects.filter(pk=item.rate.pk)
                .filter(Q(review_reminded_at__isnull=True) | Q(review_reminded_at__lt=item.due_at))
                .update(review_reminded_at=at)
            )
            if not won:
                continue
            claimed.append(item)
            rate = item.rate
            event_emit(
                program=program,
                type="rate.review_due",
                at=at,
                key=f"rate.review_due:{rate.pk}:{int(item.due_at.timestamp())}",
                data={
                    "rate_id": rate.pk,
                    "currency": rate.currency,
                    "points_per_unit": str(rate.points_per_unit),
                    "valid_from": rate.valid_from.isoformat(),
                    "review_every_days": rate.review_every_days,
                    "due_at": item.due_at.isoformat(),
                },
            )
        if claimed:
            config_refresh(program)
            transaction.on_commit(lambda: _send_owner_mail(program=program, items=claimed))
    return len(claimed)


def rate_review_reminders(*, at: datetime) -> dict:
    """Remind each live program's merchant of its rates due for review, once per due period."""
    reminded = 0
    for program in Program.objects.live().select_related("merchant").order_by("pk"):
        reminded += _program_reminders(program, at=at)
    return {"reminded": reminded}
