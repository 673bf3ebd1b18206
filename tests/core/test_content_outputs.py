"""Merchant content in the member's language on every member-facing output (issue 19): the card
page, the till's member panel (whatever the cashier's own language), the API's answers about one
member; the API's lists in the request's language; the program's default language where a version
is empty."""

import pytest
from django.urls import reverse

from accounts.models import Member, StaffMember
from loyalty_site.core.presets import preset_apply
from rewards.models import Reward
from tests.api.conftest import make_tenant
from tests.factories import MemberFactory
from tiers.models import Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(now):
    """A seeded program whose default language is Russian, with an API key."""
    tenant = make_tenant(default_language="ru", base_currency="AZN")
    preset_apply(program=tenant.program, preset="seed", at=now)
    return tenant


def _member(program, now, language, **fields):
    member = MemberFactory(program=program, at=now, language=language, **fields)
    bronze = Tier.objects.get(program=program, code="bronze")
    Member.objects.filter(pk=member.pk).update(tier=bronze, balance=150)
    return Member.objects.select_related("program", "tier").get(pk=member.pk)


def test_an_az_member_reads_az_names_on_the_card(client, seeded, now):
    member = _member(seeded.program, now, "az")
    page = client.get(f"/card/{member.card_token}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<span id="card-tier">Bürünc</span>' in page
    assert "Pulsuz qəhvə" in page and "Menyudan istənilən qəhvə — bizdən hədiyyə." in page
    assert "Gəlişinizi qeyd edin" in page  # a daily task
    assert "Gümüş" in page  # the next tier
    for other in ("Bronze", "Бронзовый", "Free coffee", "Бесплатный кофе", "Check in"):
        assert other not in page


def test_the_till_shows_the_members_names_in_the_members_language(client, staff_user, seeded, now):
    member = _member(seeded.program, now, "az")
    cashier = staff_user(seeded.program.merchant, "cashier")
    StaffMember.objects.filter(user=cashier).update(language="ru")
    client.force_login(cashier)
    page = client.get(reverse("cashier:member", args=[member.pk])).content.decode()
    assert '<html lang="ru"' in page  # the till itself is in the cashier's language
    assert 'id="member-tier">Bürünc</div>' in page
    assert "Pulsuz qəhvə" in page
    assert "Бронзовый" not in page and "Бесплатный кофе" not in page


def test_api_answers_about_a_member_in_the_members_language(seeded, now):
    member = _member(seeded.program, now, "az")
    api = seeded.client
    detail = api.get(f"/api/v1/members/{member.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert detail["tier"] == {"code": "bronze", "name": "Bürünc"}
    rewards = api.get("/api/v1/rewards/", {"member": member.pk}, HTTP_ACCEPT_LANGUAGE="en").json()
    names = {row["name"] for row in rewards["results"]}
    assert "Pulsuz qəhvə" in names and "Free coffee" not in names
    tasks = api.get("/api/v1/tasks/", {"member": member.pk}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert [row["name"] for row in tasks["results"]][:1] == ["Gəlişinizi qeyd edin"]


def test_api_lists_follow_accept_language_and_fall_back_to_the_programs(seeded):
    api = seeded.client
    tiers = api.get("/api/v1/tiers/", HTTP_ACCEPT_LANGUAGE="kk").json()["results"]
    assert [row["name"] for row in tiers] == ["Қола", "Күміс", "Алтын", "Платина"]
    assert tiers[0]["description"] == "Негізгі жеңілдік; күн сайын 50 ұпай сыйлық."
    campaigns = api.get("/api/v1/campaigns/", HTTP_ACCEPT_LANGUAGE="az").json()["results"]
    assert "Xoş gəldin bonusu" in {row["name"] for row in campaigns}
    # no kk version: the program's default language (ru), not English
    Tier.objects.filter(program=seeded.program, code="silver").update(name_kk="")
    tiers = api.get("/api/v1/tiers/", HTTP_ACCEPT_LANGUAGE="kk").json()["results"]
    assert tiers[1]["name"] == "Серебряный"


def test_an_empty_version_falls_back_to_the_programs_default_on_the_card(client, seeded, now):
    Tier.objects.filter(program=seeded.program, code="bronze").update(name_az=None)
    Reward.objects.filter(program=seeded.program, name_en="Free coffee").update(name_az="", description_az="")
    member = _member(seeded.program, now, "az")
    page = client.get(f"/card/{member.card_token}/").content.decode()
    assert '<span id="card-tier">Бронзовый</span>' in page  # ru: the program's default
    assert "Бесплатный кофе" in page and "Любой кофе из меню — за наш счёт." in page
    assert "Gümüş" in page  # the versions that exist stay az
