"""Merchant A's staff never see or touch merchant B's rows in the admin."""

import pytest
from django.urls import reverse

from accounts.models import ApiKey, Member, Program
from accounts.services import api_key_create, member_create
from tests.factories import ProgramFactory


@pytest.fixture
def two_merchants(db, now):
    program_a = ProgramFactory(name="Program A")
    program_b = ProgramFactory(name="Program B")
    member_a = member_create(program=program_a, at=now, external_id="a-1", first_name="Alice")
    member_b = member_create(program=program_b, at=now, external_id="b-1", first_name="Bob")
    key_a, _ = api_key_create(program=program_a, name="key-a")
    key_b, _ = api_key_create(program=program_b, name="key-b")
    return {
        "a": {"program": program_a, "member": member_a, "key": key_a, "merchant": program_a.merchant},
        "b": {"program": program_b, "member": member_b, "key": key_b, "merchant": program_b.merchant},
    }


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize("role", ["owner", "manager", "analyst"])
def test_other_merchants_rows_are_404_and_absent_from_lists(client, staff_user, two_merchants, role):
    a, b = two_merchants["a"], two_merchants["b"]
    client.force_login(staff_user(a["merchant"], role))
    for model, key in ((Program, "program"), (Member, "member"), (ApiKey, "key")):
        listing = client.get(admin_url(model, "changelist"))
        assert listing.status_code == 200
        assert listing.context["cl"].result_count == 1
        assert list(listing.context["cl"].result_list) == [a[key]]
        response = client.get(admin_url(model, "change", b[key].pk))
        # Django's admin redirects a missing object to the index with a message: no data shown
        assert response.status_code in (302, 404)
        if response.status_code == 302:
            assert response.url == reverse("admin:index")
        history = client.get(admin_url(model, "history", b[key].pk))
        assert history.status_code in (302, 404)
        assert client.get(admin_url(model, "change", a[key].pk)).status_code == 200


def test_dropdowns_only_offer_own_programs(client, staff_user, two_merchants):
    a, _b = two_merchants["a"], two_merchants["b"]
    client.force_login(staff_user(a["merchant"], "manager"))
    response = client.get(admin_url(Member, "add"))
    field = response.context["adminform"].form.fields["program"]
    assert list(field.queryset) == [a["program"]]
    key_form = client.get(admin_url(ApiKey, "add")).context["adminform"].form
    assert list(key_form.fields["program"].queryset) == [a["program"]]


def test_posting_another_merchants_program_is_rejected(client, staff_user, two_merchants):
    a, b = two_merchants["a"], two_merchants["b"]
    client.force_login(staff_user(a["merchant"], "manager"))
    response = client.post(
        admin_url(Member, "add"),
        {"program": b["program"].pk, "external_id": "sneaky", "status": "active"},
    )
    assert response.status_code == 200  # the form is shown again with an error
    assert "program" in response.context["adminform"].form.errors
    assert not Member.objects.filter(external_id="sneaky").exists()


def test_autocomplete_only_returns_own_rows(client, staff_user, two_merchants):
    a, _b = two_merchants["a"], two_merchants["b"]
    client.force_login(staff_user(a["merchant"], "manager"))
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "accounts", "model_name": "member", "field_name": "referred_by", "term": ""},
    )
    assert response.status_code == 200
    ids = {int(row["id"]) for row in response.json()["results"]}
    assert ids == {a["member"].pk}
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "accounts", "model_name": "member", "field_name": "program", "term": "Program"},
    )
    ids = {int(row["id"]) for row in response.json()["results"]}
    assert ids == {a["program"].pk}


def test_actions_cannot_reach_other_merchants_rows(client, staff_user, two_merchants):
    a, b = two_merchants["a"], two_merchants["b"]
    client.force_login(staff_user(a["merchant"], "manager"))
    client.post(
        admin_url(Member, "changelist"),
        {"action": "block_members", "_selected_action": [a["member"].pk, b["member"].pk]},
    )
    a["member"].refresh_from_db()
    b["member"].refresh_from_db()
    assert a["member"].status == "blocked"
    assert b["member"].status == "active"


def test_analyst_is_read_only(client, staff_user, two_merchants):
    a = two_merchants["a"]
    client.force_login(staff_user(a["merchant"], "analyst"))
    response = client.post(
        admin_url(Member, "change", a["member"].pk),
        {"first_name": "Changed", "external_id": "a-1", "status": "active"},
    )
    assert response.status_code == 403
    a["member"].refresh_from_db()
    assert a["member"].first_name == "Alice"
    assert client.get(admin_url(Member, "add")).status_code == 403


def test_cashier_has_no_admin_access(client, staff_user, two_merchants):
    a = two_merchants["a"]
    user = staff_user(a["merchant"], "cashier")
    assert user.is_staff is False
    client.force_login(user)
    response = client.get(admin_url(Member, "changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_superuser_sees_everything(admin_client, two_merchants):
    listing = admin_client.get(admin_url(Member, "changelist"))
    assert listing.context["cl"].result_count == 2


def test_manager_adds_a_member_through_the_admin(client, staff_user, two_merchants):
    a = two_merchants["a"]
    client.force_login(staff_user(a["merchant"], "manager"))
    response = client.post(
        admin_url(Member, "add"),
        {"program": a["program"].pk, "phone": "050 765 43 21", "first_name": "New", "status": "active"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    member = Member.objects.get(phone="+994507654321")
    assert member.program == a["program"]
    assert len(member.card_number) == 13


def test_member_page_shows_lots_entries_and_tier_history(client, staff_user, two_merchants):
    from django.utils import timezone

    from ledger.services import points_bonus

    a = two_merchants["a"]
    # the page lists the last 90 days by the real clock, so the entry is posted now
    points_bonus(
        member=a["member"], points=120, at=timezone.now(), reference="admin-page-1", description="welcome"
    )
    client.force_login(staff_user(a["merchant"], "manager"))
    response = client.get(admin_url(Member, "change", a["member"].pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Points lots (pending and active)" in page
    assert "Recent ledger entries (90 days)" in page
    assert "Tier history" in page
    assert "adjust points" in page
    inline_sets = {fs.formset.prefix: fs.formset for fs in response.context["inline_admin_formsets"]}
    assert set(inline_sets) == {"lots", "entries", "tier_changes"}
    assert [form.instance.remaining for form in inline_sets["lots"].forms] == [120]
    assert [form.instance.points for form in inline_sets["entries"].forms] == [120]
