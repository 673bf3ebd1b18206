"""Issue 16 item 3: member-facing descriptions (card, API entries) in human words: campaign names,
the purchase's date, never the till's reference or a campaign's code."""

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import Member
from ledger.models import Purchase
from ledger.services import purchase_refund
from tests.api.test_acceptance import enrol, seeded_tenant


def test_entries_read_as_words(db):
    tenant = seeded_tenant(days_ago=2, base_currency="AZN", time_zone="Asia/Baku")
    api = tenant.client
    member = enrol(api, phone="+994501230000")
    created = api.post(
        "/api/v1/purchases/",
        {"member": member["id"], "amount": "100.00", "currency": "USD", "external_id": "till-f9c6e2a1b7"},
        format="json",
    )
    assert created.status_code == 201, created.content
    purchase = Purchase.objects.get(external_id="till-f9c6e2a1b7")
    purchase_refund(purchase=purchase, at=timezone.now() + timedelta(minutes=1), reference="refund-1")

    day = purchase.occurred_at.astimezone(tenant.program.tz)
    on = f"{day.day} {day:%b %Y}"
    entries = api.get(f"/api/v1/members/{member['id']}/entries/").json()["results"]
    descriptions = [entry["description"] for entry in entries]
    assert f"Refund of purchase of {on}" in descriptions
    assert f"Purchase of {on}: 98.00 USD" in descriptions
    assert "Welcome bonus" in descriptions  # the seeded registration campaign, by name
    for text in descriptions:
        assert "till-" not in text and "registration_bonus" not in text
    page = Client().get(f"/card/{Member.objects.get(pk=member['id']).card_token}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"Refund of purchase of {on}" in text and "till-f9c6" not in text
