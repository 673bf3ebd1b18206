"""Condition and reward kinds are a registry (campaigns.kinds): a new condition kind is one class,
and the model's validation, the admin's form, the engine, the rules sentence and the simulation
all pick it up with no other edit."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.forms import modelform_factory

from accounts.models import Member
from campaigns.kinds import ConditionKind, condition_kinds, reward_kinds
from campaigns.models import Campaign, CampaignCondition, CampaignReward
from campaigns.reports import campaign_simulate
from campaigns.sentences import campaign_sentence
from tests.campaigns.conftest import T0, grants


class BornInMonth(ConditionKind):
    """Defined here only: nothing else in the project knows this kind."""

    code = "born_in_month"
    label = "Member was born in month (count: 1-12)"
    fields = ("count",)
    queries = False

    def validate(self, condition):
        errors = super().validate(condition)
        if condition.count is not None and not 1 <= condition.count <= 12:
            errors["count"] = "A month is 1 to 12."
        return errors

    def evaluate(self, condition, campaign, ctx):
        birth = ctx.member.birth_date
        return birth is not None and birth.month == condition.count

    def describe(self, condition, *, currency=""):
        return f"the member was born in month {condition.count}"


@pytest.fixture
def born_in_month():
    condition_kinds.register(BornInMonth)
    yield BornInMonth
    condition_kinds.unregister(BornInMonth.code)


def _march_campaign(program) -> Campaign:
    campaign = Campaign.objects.create(
        program=program, code="march_babies", name="March babies", trigger="purchase", is_active=False
    )
    CampaignCondition.objects.create(campaign=campaign, kind="born_in_month", count=3)
    CampaignReward.objects.create(campaign=campaign, kind="points", points=70)
    return campaign


def test_a_condition_kind_defined_in_a_test_is_validated(seeded, born_in_month):
    campaign = Campaign.objects.create(program=seeded, code="c", name="C", trigger="purchase")
    missing = CampaignCondition(campaign=campaign, kind="born_in_month")
    with pytest.raises(ValidationError) as error:
        missing.full_clean()
    assert error.value.message_dict == {"count": ["Required for “Member was born in month (count: 1-12)”."]}
    with pytest.raises(ValidationError) as error:
        CampaignCondition(campaign=campaign, kind="born_in_month", count=13).full_clean()
    assert error.value.message_dict == {"count": ["A month is 1 to 12."]}
    CampaignCondition(campaign=campaign, kind="born_in_month", count=3).full_clean()  # valid

    # the admin's form (built per request, as the admin does) offers it and validates it
    form_class = modelform_factory(CampaignCondition, fields=["kind", "count", "amount", "days", "value"])
    assert ("born_in_month", "Member was born in month (count: 1-12)") in form_class().fields["kind"].choices
    form = form_class(
        data={"kind": "born_in_month", "count": "13"}, instance=CampaignCondition(campaign=campaign)
    )
    assert not form.is_valid()
    assert form.errors["count"] == ["A month is 1 to 12."]
    assert form_class(
        data={"kind": "born_in_month", "count": "3"}, instance=CampaignCondition(campaign=campaign)
    ).is_valid()


def test_an_unregistered_kind_is_refused_by_validation(seeded):
    campaign = Campaign.objects.create(program=seeded, code="c", name="C", trigger="purchase")
    with pytest.raises(ValidationError) as error:
        CampaignCondition(campaign=campaign, kind="born_in_month", count=3).full_clean()
    assert list(error.value.message_dict) == ["kind"]


def test_a_condition_kind_defined_in_a_test_is_described_simulated_and_evaluated(
    seeded, make_member, buy, born_in_month
):
    march = make_member(birth_date=date(1990, 3, 14))
    may = make_member(birth_date=date(1991, 5, 2))
    unknown = make_member()
    for member in (march, may, unknown):
        buy(member, "20.00", T0 - timedelta(days=3))
    campaign = _march_campaign(seeded)

    # described: the sentence reads the kind's own words
    assert campaign_sentence(campaign) == (
        "When a purchase is made, if the member was born in month 3, give 70 points, once per member."
    )

    # simulated: the engine's plan on the replayed purchases, before the campaign is active
    result = campaign_simulate(campaign=campaign, at=T0)
    assert (result["members_evaluated"], result["occurrences_replayed"]) == (3, 3)
    assert (result["qualifying_now"], result["grants"], result["estimated_points"]) == (1, 1, 70)

    # evaluated: once active, a purchase grants to the member born in March only
    Campaign.objects.filter(pk=campaign.pk).update(is_active=True)
    balances = {m.pk: Member.objects.get(pk=m.pk).balance for m in (march, may, unknown)}
    for member in (march, may, unknown):
        buy(member, "20.00", T0)
    assert list(grants("march_babies").values_list("member_id", "points")) == [(march.pk, 70)]
    earned = {m.pk: Member.objects.get(pk=m.pk).balance - balances[m.pk] for m in (march, may, unknown)}
    assert earned[march.pk] == earned[may.pk] + 70 == earned[unknown.pk] + 70


def test_every_built_in_kind_is_registered_with_its_words(seeded):
    conditions = {kind.code for kind in condition_kinds}
    rewards = {kind.code for kind in reward_kinds}
    assert conditions == {str(code) for code in CampaignCondition.Kind}
    assert rewards == {str(code) for code in CampaignReward.Kind}
    field = CampaignCondition._meta.get_field("kind")
    assert dict(field.choices)["min_amount"] == "Purchase amount paid ≥ amount"
    assert CampaignReward(kind="coupon").get_kind_display() == "A personal one-time coupon"
