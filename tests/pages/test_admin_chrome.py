"""The admin as a merchant reads it: JSON as tables, rules as a sentence, View site, an icon."""

import re
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Campaign
from campaigns.sentences import campaign_sentence
from checkout.purchases import purchase_create
from ledger.services import purchase_refund
from notifications.models import Event


def _owner(client, staff_user, program):
    client.force_login(staff_user(program.merchant, "owner"))


def test_purchase_applied_lines_and_posting_data_are_tables(client, staff_user, seeded):
    program, member = seeded
    purchase = purchase_create(
        member=member, external_id="adm-1", amount=Decimal("100.00"), currency="USD", at=timezone.now()
    ).purchase
    _owner(client, staff_user, program)

    body = client.get(f"/admin/ledger/purchase/{purchase.pk}/change/").content.decode()

    table = re.search(r'<table class="data-table">.*?</table>', body, re.S).group(0)
    assert "<th>description</th>" in table
    for line in purchase.applied:
        assert f"<td>{line['description']}</td>" in table
    assert "[{" not in body  # no raw JSON left
    refund = purchase_refund(purchase=purchase, at=timezone.now(), reference="adm-refund")
    posting_body = client.get(f"/admin/ledger/posting/{refund.pk}/change/").content.decode()
    assert '<tr><th scope="row">money returned</th><td>98.00</td></tr>' in posting_body


def test_event_data_is_a_table_in_the_admin_and_the_event_log(client, staff_user, seeded):
    program, member = seeded
    event = Event.objects.filter(program=program, member=member).first()
    _owner(client, staff_user, program)

    admin_body = client.get(f"/admin/notifications/event/{event.pk}/change/").content.decode()
    log_body = client.get("/admin/reports/events/").content.decode()

    first_key = next(iter(event.data)).replace("_", " ")
    for body in (admin_body, log_body):
        assert f'<th scope="row">{first_key}</th>' in body
    assert '<pre class="event-data">' not in log_body


def test_campaign_editor_reads_the_rules_as_a_sentence(client, staff_user, seeded):
    program, member = seeded
    campaign = Campaign.objects.get(program=program, name="Weekly double bonus")
    _owner(client, staff_user, program)

    body = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()

    sentence = campaign_sentence(campaign)
    assert sentence == (
        "Every Monday, if the member logged in on 2 days in a row and the member made at least 2 purchases "
        "in the period, give 400 points, at most once a week per member."
    )
    assert f'<p class="rules-sentence" id="rules-sentence">{sentence}</p>' in body
    assert "If: all of these hold" in body and "Then give: all of these" in body
    assert 'id="nav-sidebar"' not in body  # the editor takes the full width


def test_view_site_leads_to_the_dashboard_and_pages_have_an_icon(client, staff_user, seeded):
    program, member = seeded
    _owner(client, staff_user, program)

    body = client.get("/admin/").content.decode()

    assert '<a href="/admin/reports/">View site</a>' in body
    assert re.search(r'<link rel="icon" href="/static/cashier/icons/icon[^"]*\.svg"', body)
    assert client.get("/admin/reports/").status_code == 200
    client.logout()
    till = client.get("/cashier/login/").content.decode()
    assert '<link rel="icon"' in till


def test_admin_enrolment_of_a_duplicate_phone_is_a_clear_form_error(client, staff_user, program, member):
    from accounts.models import Member

    _owner(client, staff_user, program)
    response = client.post(
        "/admin/accounts/member/add/",
        {"program": program.pk, "phone": member.phone, "status": "active", "first_name": "Again"},
    )

    assert response.status_code == 200
    assert "A member with this phone already exists in this program." in response.content.decode()
    assert "member_unique_phone" not in response.content.decode()
    assert Member.objects.filter(program=program).count() == 1
