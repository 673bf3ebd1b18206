"""Merchant content per language (issue 19, loyalty_site/core/content.py): a version per language,
the member's text with fallback, the plain column = the program's default language, the migration's
copy into the default-language column, and the admin editing the versions side by side."""

import pytest
from django.apps import apps
from django.db import connection, models
from django.utils import translation

from accounts.models import Member
from campaigns.models import Campaign, CampaignReward, DailyTask
from loyalty_site.core import content
from loyalty_site.core.migration_ops import CopyToDefaultLanguage
from notifications.models import NotificationTemplate
from rewards.models import Reward
from tests.factories import MemberFactory
from tiers.models import Tier

pytestmark = pytest.mark.django_db


def _plain(model, pk, field):
    """The plain column as stored (no modeltranslation rewriting)."""
    return models.QuerySet(model=model).filter(pk=pk).values_list(field, flat=True).get()


@pytest.fixture
def az_program(program):
    program.default_language = "az"
    program.save(update_fields=["default_language"])
    return program


def test_a_member_reads_their_language_else_the_programs_else_any(az_program, now):
    tier = Tier.objects.create(
        program=az_program, code="gold", rank=0, name_az="Qızıl", name_ru="Золото", name_en="", name_kk=""
    )
    az = MemberFactory(program=az_program, language="az")
    ru = MemberFactory(program=az_program, language="ru")
    kk = MemberFactory(program=az_program, language="kk")  # no kk version: the program's (az)
    assert content.text(tier, "name", member=az) == "Qızıl"
    assert content.text(tier, "name", member=ru) == "Золото"
    assert content.text(tier, "name", member=kk) == "Qızıl"
    assert content.text(tier, "name", language="en") == "Qızıl"
    # the default-language version empty too: any version that is not
    Tier.objects.filter(pk=tier.pk).update(name_az="")
    tier.refresh_from_db()
    assert content.text(tier, "name", member=kk) == "Золото"


def test_the_plain_column_holds_the_default_language_version_whoever_saves(az_program):
    with translation.override("ru"):
        tier = Tier.objects.create(program=az_program, code="gold", rank=0, name="Qızıl")
        assert tier.name_az == "Qızıl"  # a write through the plain field is the default version
        tier.name = "Золото"  # a Russian-speaking owner writes the Russian version
        tier.save()
    tier.refresh_from_db()
    assert (tier.name_az, tier.name_ru) == ("Qızıl", "Золото")
    assert _plain(Tier, tier.pk, "name") == "Qızıl"
    with translation.override("ru"):
        assert Tier.objects.get(pk=tier.pk).name == "Золото"  # staff pages: the active language


def test_a_campaign_reward_falls_back_to_its_campaigns_program(az_program):
    campaign = Campaign.objects.create(program=az_program, code="bday", name="Ad günü", trigger="birthday")
    reward = CampaignReward.objects.create(
        campaign=campaign,
        kind="notification",
        message_az="Ad gününüz mübarək!",
        message_kk="Туған күніңіз құтты болсын!",
    )
    assert content.text(reward, "message", language="ru") == "Ad gününüz mübarək!"
    assert content.text(reward, "message", language="kk") == "Туған күніңіз құтты болсын!"
    assert _plain(CampaignReward, reward.pk, "message") == "Ad gününüz mübarək!"


def test_the_migration_copies_todays_text_into_the_default_language_column(az_program, merchant):
    from tests.factories import ProgramFactory

    kk_program = ProgramFactory(merchant=merchant, default_language="kk")
    rows = [
        Tier.objects.create(program=az_program, code="a", rank=0, name="Qızıl", description="Hər alışa 5%"),
        Tier.objects.create(program=kk_program, code="b", rank=0, name="Алтын"),
    ]
    task = DailyTask.objects.create(program=kk_program, code="visit", name="Дүкенге келу")
    # the columns as the migration finds them: only the plain text
    nulls = {f"{f}_{c}": None for f in ("name", "description") for c in content.languages()}
    models.QuerySet(model=Tier).update(**nulls)
    models.QuerySet(model=DailyTask).update(**nulls)
    for operation in (
        CopyToDefaultLanguage("tier", ("name", "description")),
        CopyToDefaultLanguage("dailytask", ("name", "description")),
    ):
        operation.app_label = "tiers" if operation.model_name == "tier" else "campaigns"
        operation.copy(apps, None)
    az_tier, kk_tier = (Tier.objects.get(pk=row.pk) for row in rows)
    assert (az_tier.name_az, az_tier.description_az, az_tier.name_ru, az_tier.name_kk) == (
        "Qızıl",
        "Hər alışa 5%",
        None,
        None,
    )
    assert (kk_tier.name_kk, kk_tier.name_az) == ("Алтын", None)
    assert DailyTask.objects.get(pk=task.pk).name_kk == "Дүкенге келу"


def test_every_content_field_has_its_four_columns():
    expected = {
        Tier: ("name", "description"),
        Reward: ("name", "description"),
        Campaign: ("name", "description"),
        CampaignReward: ("message",),
        DailyTask: ("name", "description"),
        NotificationTemplate: ("subject", "body"),
    }
    for model, fields in expected.items():
        assert content.translated_fields(model) == fields
        with connection.cursor() as cursor:
            columns = {
                c.name for c in connection.introspection.get_table_description(cursor, model._meta.db_table)
            }
        assert {f"{f}_{c}" for f in fields for c in ("az", "ru", "kk", "en")} <= columns
    assert content.translated_fields(Member) == ()


# --- admin ---------------------------------------------------------------------------------------


def test_the_admin_edits_the_versions_side_by_side_and_saves_them(client, staff_user, merchant, az_program):
    owner = staff_user(merchant, "owner")
    client.force_login(owner)
    page = client.get("/admin/tiers/tier/add/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # one row per field: its four versions in one fieldset line
    row = page[page.index("field-name_az") - 200 : page.index("field-name_en") + 20]
    assert "form-row" in row and all(f"field-name_{c}" in row for c in ("az", "ru", "kk"))
    assert 'name="name"' not in page  # the plain field is not edited: it is the default version
    data = {
        "program": az_program.pk,
        "code": "gold",
        "rank": 0,
        "threshold": 0,
        "discount_percent": "0",
        "earn_multiplier": "1",
        "gift_points": 0,
        "gift_period": "",
        "name_az": "Qızıl",
        "name_ru": "Золото",
        "name_kk": "Алтын",
        "name_en": "Gold",
        "description_az": "Hər alışa endirim",
        "description_ru": "",
        "description_kk": "",
        "description_en": "",
    }
    response = client.post("/admin/tiers/tier/add/", data, HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 302, response.content.decode()[:2000]
    tier = Tier.objects.get(program=az_program, code="gold")
    assert [tier.name_az, tier.name_ru, tier.name_kk, tier.name_en] == ["Qızıl", "Золото", "Алтын", "Gold"]
    assert _plain(Tier, tier.pk, "name") == "Qızıl"
    assert Tier.objects.filter(pk=tier.pk, description_az="Hər alışa endirim").exists()


def test_the_admin_requires_the_program_default_language_version(client, staff_user, merchant, az_program):
    client.force_login(staff_user(merchant, "owner"))
    data = {
        "program": az_program.pk,
        "name_az": "",
        "name_ru": "Кофе",
        "name_kk": "",
        "name_en": "Coffee",
        "kind": "gift",
        "cost_points": 100,
        "channel": "both",
        "limit_period": "ever",
        "display_order": 0,
        "is_active": "on",
        "coupon_valid_days": 30,
        "coupon_min_purchase": "0",
    }
    response = client.post("/admin/rewards/reward/add/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert (
        "Give the Azerbaijani version: it is the program&#x27;s default language."
        in response.content.decode()
    )
    assert not Reward.objects.exists()
    data["name_az"] = "Qəhvə"
    response = client.post("/admin/rewards/reward/add/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302, response.context["errors"]
    reward = Reward.objects.get()
    assert (reward.name_az, reward.name_ru, reward.name_en) == ("Qəhvə", "Кофе", "Coffee")


def test_admin_search_finds_any_version(client, staff_user, merchant, az_program):
    Tier.objects.create(program=az_program, code="gold", rank=0, name_az="Qızıl", name_ru="Золото")
    client.force_login(staff_user(merchant, "owner"))
    page = client.get("/admin/tiers/tier/", {"q": "Золото"}, HTTP_ACCEPT_LANGUAGE="az").content.decode()
    assert "gold" in page and "Qızıl" in page  # found by its Russian name, listed in az


def test_changing_the_default_language_moves_the_plain_columns(client, staff_user, merchant, az_program):
    tier = Tier.objects.create(program=az_program, code="gold", rank=0, name_az="Qızıl", name_ru="Золото")
    task = DailyTask.objects.create(program=az_program, code="visit", name_az="Gəlin")  # no ru version
    assert _plain(Tier, tier.pk, "name") == "Qızıl"
    client.force_login(staff_user(merchant, "owner"))
    url = f"/admin/accounts/program/{az_program.pk}/change/"
    page = client.get(url).context
    form = page["adminform"].form
    data = {}
    for formset in page["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    data["default_language"] = "ru"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    assert _plain(Tier, tier.pk, "name") == "Золото"
    assert _plain(DailyTask, task.pk, "name") == "Gəlin"  # kept: no version in the new language
