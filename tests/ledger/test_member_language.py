"""Issue 19: what the ledger stores for a member to read is in the member's language, whoever asked
for the posting; what it answers the caller (errors) is in the caller's language."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation
from django.utils.formats import date_format

from accounts.models import Member
from ledger.models import Posting, Purchase
from ledger.services import points_redeem, purchase_refund
from tests.api.test_acceptance import enrol, seeded_tenant


@pytest.fixture(autouse=True)
def site_language_after():
    """The test client's requests leave their language active in this thread: back to the site's
    for the tests that run next in this worker."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def test_descriptions_follow_the_member_errors_follow_the_caller(db):
    tenant = seeded_tenant(days_ago=2, base_currency="AZN", time_zone="Asia/Baku")
    api = tenant.client
    member_id = enrol(api, phone="+994501230001")["id"]
    Member.objects.filter(pk=member_id).update(language="az")

    # a Russian-speaking integration records the purchase
    created = api.post(
        "/api/v1/purchases/",
        {"member": member_id, "amount": "100.00", "currency": "USD", "external_id": "till-az-1"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert created.status_code == 201, created.content
    purchase = Purchase.objects.get(external_id="till-az-1")
    with translation.override("kk"):  # a job or a Kazakh cashier refunds it
        purchase_refund(purchase=purchase, at=timezone.now() + timedelta(minutes=1), reference="refund-az-1")

    with translation.override("az"):
        day = date_format(purchase.occurred_at.astimezone(tenant.program.tz), "j M Y")
    descriptions = set(Posting.objects.filter(member_id=member_id).values_list("description", flat=True))
    assert f"{day} tarixli alış: 98.00 USD" in descriptions
    assert f"Geri qaytarma: {day} tarixli alış" in descriptions

    # the caller's language for the error, the code unchanged
    member = Member.objects.get(pk=member_id)
    too_many = api.post(
        "/api/v1/purchases/",
        {
            "member": member_id,
            "amount": "100.00",
            "currency": "USD",
            "external_id": "till-az-2",
            "redeem_points": member.balance + 5,
        },
        format="json",
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert too_many.status_code == 422, too_many.content
    error = too_many.json()["error"]
    assert error["code"] == "insufficient_points"
    assert error["message"].startswith("У участника ")
    assert not Purchase.objects.filter(external_id="till-az-2").exists()
    assert Posting.objects.filter(member_id=member_id, kind="redeem").count() == 0


def test_job_postings_use_the_program_language_when_the_member_chose_none(db, member, now):
    member.program.default_language = "kk"
    member.program.save(update_fields=["default_language"])
    Member.objects.filter(pk=member.pk).update(language="")
    from ledger.services import points_adjust

    points_adjust(member=member, points=50, at=now, reference="adj-kk", reason="Opening")
    posting = points_redeem(member=member, points=20, at=now, reference="redeem-kk")

    assert posting.description == "Ұпайлар жұмсалды"
    assert Posting.objects.get(pk=posting.pk).description == "Ұпайлар жұмсалды"


def test_ledger_admin_reads_in_azerbaijani(program, now, django_user_model):
    from ledger.services import rate_set

    rate_set(program=program, currency="USD", points_per_unit=12, at=now)
    admin = django_user_model.objects.create_superuser("root-az", "root@example.com", "pw-az-12345")
    client = Client()
    client.force_login(admin)

    page = client.get("/admin/ledger/posting/", HTTP_ACCEPT_LANGUAGE="az")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Balları düzəlt" in text  # the "Adjust points" button
    assert "Əməliyyatlar" in text or "əməliyyat" in text  # the model's name
    rates = client.get("/admin/ledger/currencyrate/", HTTP_ACCEPT_LANGUAGE="az").content.decode()
    assert "Valyuta məzənnələri" in rates or "valyuta məzənnəsi" in rates
    assert "Yoxlanılmış kimi qeyd et" in rates  # the action
    assert "Adjust points" not in text and "Mark as reviewed" not in rates


def test_tier_and_campaign_admin_read_in_the_staff_language(program, django_user_model):
    admin = django_user_model.objects.create_superuser("root-ru", "root@example.com", "pw-ru-12345")
    client = Client()
    client.force_login(admin)

    tiers = client.get("/admin/tiers/tier/", HTTP_ACCEPT_LANGUAGE="az").content.decode()
    assert "Səviyyələr" in tiers or "səviyyə" in tiers
    campaign_form = client.get("/admin/campaigns/campaign/add/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Период и целевая аудитория" in campaign_form  # the "Window and targets" fieldset
    assert "Сохраните, чтобы прочитать правила одним предложением." in campaign_form
    assert "Window and targets" not in campaign_form
    kk = client.get("/admin/accounts/program/add/", HTTP_ACCEPT_LANGUAGE="kk").content.decode()
    assert "Ұпайлардың өмірлік циклі" in kk and "Points lifecycle" not in kk
