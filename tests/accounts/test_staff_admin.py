"""Owners manage their merchant's staff in one form; nobody reaches another merchant's users."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from accounts.models import StaffMember
from tests.factories import MerchantFactory

User = get_user_model()
ADD = reverse("admin:accounts_staffmember_add")
LIST = reverse("admin:accounts_staffmember_changelist")


def change_url(profile):
    return reverse("admin:accounts_staffmember_change", args=[profile.pk])


@pytest.fixture
def shop(db, staff_user):
    merchant, other = MerchantFactory(), MerchantFactory()
    return {
        "merchant": merchant,
        "owner": staff_user(merchant, "owner"),
        "cashier": staff_user(merchant, "cashier"),
        "foreign": staff_user(other, "manager"),
        "loner": User.objects.create_user("loner", password="pw-12345!x"),
    }


def test_owner_creates_a_cashier_with_a_password_who_then_uses_the_till(client, shop):
    client.force_login(shop["owner"])
    response = client.post(
        ADD,
        {
            "username": "till-anna",
            "email": "anna@example.com",
            "first_name": "Anna",
            "role": "cashier",
            "password1": "Till-pass-2026!",
            "password2": "Till-pass-2026!",
            # a merchant smuggled in is ignored: staff always join the owner's merchant
            "merchant": shop["foreign"].staff_profile.merchant_id,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="till-anna")
    assert user.staff_profile.merchant == shop["merchant"]
    assert user.staff_profile.role == "cashier" and user.is_staff is False
    client.logout()
    login = client.post(reverse("cashier:login"), {"username": "till-anna", "password": "Till-pass-2026!"})
    assert login.status_code == 302
    assert client.get(reverse("cashier:home")).status_code == 200


def test_owner_creates_a_manager_with_a_reset_link(client, shop):
    client.force_login(shop["owner"])
    response = client.post(
        ADD,
        {"username": "boss2", "email": "b2@example.com", "role": "manager", "send_reset_link": "on"},
        follow=True,
    )
    assert response.status_code == 200
    user = User.objects.get(username="boss2")
    assert not user.has_usable_password() and user.is_staff
    assert len(mail.outbox) == 1 and "/password/reset/" in mail.outbox[0].body
    link = next(line for line in mail.outbox[0].body.split() if "/password/reset/" in line)
    page = client.get(link, follow=True)
    assert page.status_code == 200
    done = client.post(
        page.redirect_chain[-1][0], {"new_password1": "Chosen-2026!x", "new_password2": "Chosen-2026!x"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Chosen-2026!x")


def test_a_new_staff_member_needs_a_password_or_a_link(client, shop):
    client.force_login(shop["owner"])
    response = client.post(ADD, {"username": "nopass", "role": "cashier"})
    assert response.status_code == 200 and "password1" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="nopass").exists()
    taken = client.post(ADD, {"username": "loner", "role": "cashier", "send_reset_link": "on"})
    assert "username" in taken.context["adminform"].form.errors
    assert not hasattr(User.objects.get(username="loner"), "staff_profile")


def test_owner_sees_only_their_merchants_staff_and_no_user_picker(client, shop):
    client.force_login(shop["owner"])
    listing = client.get(LIST)
    shown = {profile.user.username for profile in listing.context["cl"].result_list}
    assert shown == {shop["owner"].username, shop["cashier"].username}
    form = client.get(ADD).context["adminform"].form
    assert "user" not in form.fields and "merchant" not in form.fields
    page = client.get(ADD).content.decode()
    assert shop["foreign"].username not in page and "loner" not in page
    foreign = client.get(change_url(shop["foreign"].staff_profile))
    assert foreign.status_code in (302, 404)


def test_owner_suspends_and_reactivates_a_cashier(client, shop):
    client.force_login(shop["owner"])
    profile = shop["cashier"].staff_profile
    response = client.post(change_url(profile), {"role": "cashier"})  # is_active unticked
    assert response.status_code == 302
    profile.refresh_from_db()
    shop["cashier"].refresh_from_db()
    assert profile.is_active is False and shop["cashier"].is_active is False
    client.post(
        change_url(profile),
        {"role": "cashier", "is_active": "on", "password1": "New-pass-77!", "password2": "New-pass-77!"},
    )
    shop["cashier"].refresh_from_db()
    assert shop["cashier"].is_active and shop["cashier"].check_password("New-pass-77!")


def test_owner_cannot_suspend_or_demote_themselves(client, shop):
    client.force_login(shop["owner"])
    profile = shop["owner"].staff_profile
    client.post(change_url(profile), {"role": "manager", "is_active": "on"})
    client.post(change_url(profile), {"role": "owner"})
    profile.refresh_from_db()
    assert profile.role == "owner" and profile.is_active


@pytest.mark.parametrize("role", ["manager", "analyst"])
def test_only_owners_manage_staff(client, shop, staff_user, role):
    client.force_login(staff_user(shop["merchant"], role))
    assert client.get(ADD).status_code == 403
    response = client.post(change_url(shop["cashier"].staff_profile), {"role": "owner", "is_active": "on"})
    assert response.status_code == 403
    assert StaffMember.objects.get(user=shop["cashier"]).role == "cashier"


def test_cashier_changes_their_password_on_the_till(client, shop):
    client.force_login(shop["cashier"])
    url = reverse("cashier:password")
    assert client.get(url).status_code == 200
    bad = client.post(
        url, {"old_password": "wrong", "new_password1": "Fresh-2026!x", "new_password2": "Fresh-2026!x"}
    )
    assert bad.status_code == 200 and "old_password" in bad.context["form"].errors
    good = client.post(
        url, {"old_password": "pw-12345!x", "new_password1": "Fresh-2026!x", "new_password2": "Fresh-2026!x"}
    )
    assert good.status_code == 302
    shop["cashier"].refresh_from_db()
    assert shop["cashier"].check_password("Fresh-2026!x")
    client.logout()
    assert client.get(url).status_code == 302  # the till's login first
