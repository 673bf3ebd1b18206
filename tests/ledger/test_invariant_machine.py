"""Hypothesis state machine over the ledger: whatever the sequence of earn, redeem, refund, expire,
renew, extend, decay and clock moves, balance == member entries == active lots after every step."""

import contextlib
import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from accounts.models import Member, Program
from ledger import jobs, services
from ledger.models import Entry, Purchase
from loyalty_site.core.errors import InsufficientPoints, RefundExceedsPurchase
from tests.conftest import NOW
from tests.factories import MemberFactory, ProgramFactory

from .conftest import assert_invariant

pytestmark = pytest.mark.slow


class LedgerMachine(RuleBasedStateMachine):
    @initialize(pending_days=st.sampled_from([0, 0, 3]))
    def setup(self, pending_days):
        self.program = ProgramFactory(points_lifetime_days=20, inactivity_days=10, pending_days=pending_days)
        self.member = MemberFactory(program=self.program, at=NOW)
        self.at = NOW
        self.n = 0
        self.purchases: list[Purchase] = []

    def _ref(self, kind):
        self.n += 1
        return f"{kind}:{self.n}"

    @property
    def fresh(self):
        return Member.objects.get(pk=self.member.pk)

    @rule(points=st.integers(1, 500), amount=st.integers(1, 300))
    def earn(self, points, amount):
        ref = self._ref("purchase")
        purchase = Purchase.objects.create(
            program=self.program,
            member=self.member,
            external_id=ref,
            amount=Decimal(amount),
            currency="AZN",
            amount_due=Decimal(amount),
            points_earned=points,
            occurred_at=self.at,
        )
        services.points_earn(member=self.fresh, points=points, at=self.at, reference=ref, purchase=purchase)
        self.purchases.append(purchase)

    @rule(points=st.integers(1, 300))
    def bonus(self, points):
        services.points_bonus(
            member=self.fresh, points=points, at=self.at, reference=self._ref("bonus"), description="b"
        )

    @rule(points=st.integers(1, 400))
    def redeem(self, points):
        with contextlib.suppress(InsufficientPoints):
            services.points_redeem(
                member=self.fresh, points=points, at=self.at, reference=self._ref("redeem")
            )

    @rule(data=st.data())
    def refund(self, data):
        if not self.purchases:
            return
        purchase = data.draw(st.sampled_from(self.purchases))
        share = data.draw(st.sampled_from([None, Decimal("0.25"), Decimal("0.5")]))
        purchase.refresh_from_db()
        amount = None if share is None else (purchase.amount * share).quantize(Decimal("0.01"))
        with contextlib.suppress(RefundExceedsPurchase):
            services.purchase_refund(
                purchase=purchase, amount=amount, at=self.at, reference=self._ref("refund")
            )

    @rule()
    def expire(self):
        jobs.expire_points(at=self.at)

    @rule()
    def renew(self):
        services.member_activity_record(member=self.fresh, at=self.at, kind="login")

    @rule()
    def extend(self):
        services.points_extend(member=self.fresh, days=5, at=self.at, reference=self._ref("extend"))

    @rule()
    def decay(self):
        jobs.decay_inactive(at=self.at)

    @rule()
    def activate(self):
        jobs.activate_pending(at=self.at)

    @rule(hours=st.sampled_from([1, 12, 23, 25, 24 * 5, 24 * 11]))
    def advance(self, hours):
        self.at += timedelta(hours=hours)

    @invariant()
    def ledger_balances(self):
        if not hasattr(self, "member"):
            return
        assert_invariant(self.member)
        assert Entry.objects.filter(program=self.program).aggregate(s=Sum("points"))["s"] in (None, 0)


def test_ledger_state_machine(db):
    Program.objects.all()  # the db fixture keeps every example inside the test's transaction
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=int(os.environ.get("LEDGER_MACHINE_EXAMPLES", "12")),  # more: a deeper soak
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
