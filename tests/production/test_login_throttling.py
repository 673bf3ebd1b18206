"""Login throttling on the admin and the till (django-axes): a username and address pair is locked
out after AXES_FAILURE_LIMIT wrong passwords, with a clear 429 page; a superuser unlocks it in the admin."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings

PASSWORD = "pw-12345!x"


def _fail(client, url, username, times, address="10.1.1.1"):
    statuses = []
    for _ in range(times):
        response = client.post(url, {"username": username, "password": "wrong"}, REMOTE_ADDR=address)
        statuses.append(response.status_code)
    return statuses


@pytest.mark.parametrize("url", ["/admin/login/", "/cashier/login/"])
def test_lockout_after_repeated_failures_per_user_and_address(client, db, staff_user, merchant, url):
    role = "owner" if url.startswith("/admin/") else "cashier"
    user = staff_user(merchant, role)
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 10

    statuses = _fail(client, url, user.username, limit)
    assert statuses[: limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert statuses[-1] == 429

    # Locked: even the right password is refused, with the lockout page in the page's own look.
    response = client.post(url, {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins" in body
    assert user.username in body
    assert "30 minutes" in body
    assert response["Retry-After"] == "1800"
    assert ("till login" in body) if role == "cashier" else ("Access attempts" in body)

    # The same user from another address, and another user from the same address, still log in.
    response = client.post(url, {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="10.1.1.2")
    assert response.status_code == 302
    client.logout()
    other = staff_user(merchant, role)
    response = client.post(url, {"username": other.username, "password": PASSWORD}, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, db, staff_user, merchant):
    user = staff_user(merchant, "cashier")
    _fail(client, "/cashier/login/", user.username, settings.AXES_FAILURE_LIMIT - 1)
    response = client.post(
        "/cashier/login/", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="10.1.1.1"
    )
    assert response.status_code == 302
    client.logout()
    assert _fail(client, "/cashier/login/", user.username, 2) == [200, 200]


def test_a_superuser_unlocks_from_the_admin(client, db, staff_user, merchant, django_user_model):
    user = staff_user(merchant, "cashier")
    _fail(client, "/cashier/login/", user.username, settings.AXES_FAILURE_LIMIT)
    attempt = AccessAttempt.objects.get(username=user.username)

    # A merchant's owner does not see lockouts (they name users of every merchant).
    client.force_login(staff_user(merchant, "owner"))
    assert client.get("/admin/axes/accessattempt/").status_code == 403
    assert b"Access attempts" not in client.get("/admin/").content

    root = django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(root)
    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert user.username in listing.content.decode()
    response = client.post(
        "/admin/axes/accessattempt/",
        {"action": "unlock", "_selected_action": [attempt.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert not AccessAttempt.objects.filter(username=user.username).exists()
    client.logout()

    response = client.post(
        "/cashier/login/", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="10.1.1.1"
    )
    assert response.status_code == 302
