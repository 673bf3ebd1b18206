"""Who sees which language (issue 19): staff choose theirs, members read theirs (else the program's
default), the API follows Accept-Language, numbers and dates follow the locale."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import formats, translation

from accounts.models import Member, StaffMember
from accounts.services import member_update
from loyalty_site.core.events import event_emit
from loyalty_site.core.i18n import member_language
from notifications.models import Channel, Notification, NotificationTemplate
from tests.api.conftest import make_tenant
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


# --- staff ---------------------------------------------------------------------------------------


def test_staff_language_beats_the_browser_in_the_admin_and_at_the_till(client, staff_user, merchant, program):
    owner = staff_user(merchant, "owner")
    StaffMember.objects.filter(user=owner).update(language="ru")
    client.force_login(owner)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<html lang="ru"' in html
    assert "Изменить пароль" in html  # Django's own Russian admin
    cashier = staff_user(merchant, "cashier")
    StaffMember.objects.filter(user=cashier).update(language="kk")
    client.force_login(cashier)
    till = client.get("/cashier/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="kk"' in till.content.decode()
    assert till["Content-Language"] == "kk"


def test_without_a_choice_staff_get_their_browsers_language(client, staff_user, merchant, program):
    client.force_login(staff_user(merchant, "owner"))
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="az,en;q=0.5")
    assert '<html lang="az"' in page.content.decode()
    assert page["Content-Language"] == "az"


def test_the_switcher_remembers_the_choice_on_the_profile_and_in_a_cookie(
    client, staff_user, merchant, program
):
    owner = staff_user(merchant, "owner")
    client.force_login(owner)
    page = client.get("/admin/")
    assert 'action="/i18n/setlang/"' in page.content.decode()  # the header's switcher
    response = client.post(reverse("set_language"), {"language": "kk", "next": "/admin/"})
    assert response.status_code == 302 and response.url == "/admin/"
    assert response.cookies["django_language"].value == "kk"
    assert StaffMember.objects.get(user=owner).language == "kk"
    # another browser (no cookie) sends English: the profile wins
    client.cookies.clear()
    client.force_login(owner)
    assert '<html lang="kk"' in client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # an unknown language changes nothing
    client.post(reverse("set_language"), {"language": "xx", "next": "/admin/"})
    assert StaffMember.objects.get(user=owner).language == "kk"


def test_the_till_has_the_switcher(client, staff_user, merchant, program):
    client.force_login(staff_user(merchant, "cashier"))
    html = client.get("/cashier/").content.decode()
    assert 'class="language-switcher"' in html
    for name in ("Azərbaycanca", "Русский", "Қазақ", "English"):
        assert name in html


# --- members -------------------------------------------------------------------------------------


def test_member_language_falls_back_to_the_program_default(program, now):
    program.default_language = "kk"
    program.save(update_fields=["default_language"])
    chosen = MemberFactory(program=program, at=now, language="az")
    unset = MemberFactory(program=program, at=now)
    assert (chosen.language, unset.language) == ("az", "")
    assert member_language(chosen) == "az"
    assert member_language(unset) == "kk"


def test_the_card_page_is_in_the_members_language_whatever_the_browser_asks(client, program, now):
    member = MemberFactory(program=program, at=now, language="az")
    response = client.get(f"/card/{member.card_token}/", HTTP_ACCEPT_LANGUAGE="ru")
    assert response["Content-Language"] == "az"
    assert '<html lang="az"' in response.content.decode()
    program.default_language = "ru"
    program.save(update_fields=["default_language"])
    plain = MemberFactory(program=program, at=now)
    response = client.get(f"/card/{plain.card_token}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "ru"
    assert '<html lang="ru"' in response.content.decode()


def test_a_notification_is_rendered_in_the_members_language(program, now):
    NotificationTemplate.objects.create(
        program=program,
        event_type="points.earned",
        channel=Channel.EMAIL,
        subject="{{ event.at|date:'F' }}",
        body="{{ data.amount }} · {{ event.at|date:'SHORT_DATE_FORMAT' }}",
    )
    program.default_language = "ru"
    program.save(update_fields=["default_language"])
    kk = MemberFactory(program=program, at=now, email="kk@example.com", language="kk")
    ru = MemberFactory(program=program, at=now, email="ru@example.com")
    for member in (kk, ru):
        event_emit(program=program, type="points.earned", at=now, member=member, data={"amount": 1234.5})
    kk_note = Notification.objects.get(member=kk)
    ru_note = Notification.objects.get(member=ru)
    assert kk_note.subject == "Қараша"  # November
    assert ru_note.subject == "Ноябрь"
    assert kk_note.body == "1234,5 · 22.11.2026"
    assert translation.get_language() == "en"  # the override ends with the rendering


def test_the_till_enrols_with_a_language_and_changes_it(client, staff_user, merchant, program, member):
    client.force_login(staff_user(merchant, "cashier"))
    response = client.post(
        reverse("cashier:enrol"), {"phone": "+994501112233", "first_name": "Leyla", "language": "az"}
    )
    assert response.status_code == 302
    enrolled = Member.objects.get(phone="+994501112233")
    assert enrolled.language == "az"
    panel = client.get(reverse("cashier:member", args=[enrolled.pk])).content.decode()
    assert 'id="member-language"' in panel and '<option value="az" selected>' in panel
    client.post(reverse("cashier:member-language", args=[enrolled.pk]), {"language": "kk"})
    enrolled.refresh_from_db()
    assert enrolled.language == "kk"
    client.post(reverse("cashier:member-language", args=[enrolled.pk]), {"language": ""})
    enrolled.refresh_from_db()
    assert enrolled.language == ""
    # not a language: refused, nothing changes
    client.post(reverse("cashier:member-language", args=[enrolled.pk]), {"language": "de"})
    enrolled.refresh_from_db()
    assert enrolled.language == ""


def test_the_admin_edits_program_and_member_languages(client, staff_user, merchant, program, member):
    client.force_login(staff_user(merchant, "owner"))
    program_page = client.get(reverse("admin:accounts_program_change", args=[program.pk])).content.decode()
    assert 'name="default_language"' in program_page
    member_page = client.get(reverse("admin:accounts_member_change", args=[member.pk])).content.decode()
    assert 'name="language"' in member_page


# --- API -----------------------------------------------------------------------------------------


def test_api_member_language_on_create_update_and_read():
    tenant = make_tenant()
    created = tenant.client.post(
        "/api/v1/members/", {"phone": "+994501234567", "language": "kk"}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["language"] == "kk"
    member_id = created.json()["id"]
    updated = tenant.client.patch(f"/api/v1/members/{member_id}/", {"language": "ru"}, format="json")
    assert updated.status_code == 200 and updated.json()["language"] == "ru"
    cleared = tenant.client.patch(f"/api/v1/members/{member_id}/", {"language": ""}, format="json")
    assert cleared.json()["language"] == ""
    assert tenant.client.get(f"/api/v1/members/{member_id}/").json()["language"] == ""
    wrong = tenant.client.patch(f"/api/v1/members/{member_id}/", {"language": "de"}, format="json")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "invalid" and "language" in wrong.json()["error"]["fields"]


def test_the_openapi_schema_has_the_member_language():
    tenant = make_tenant()
    schema = tenant.client.get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    assert "language" in components["Member"]["properties"]
    assert "language" in components["MemberCreateRequest"]["properties"]


def test_the_member_service_refuses_an_unknown_language(member):
    from loyalty_site.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        member_update(member=member, data={"language": "fr"})
    assert "language" in refused.value.fields


# --- formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "number", "short_date", "long_date"),
    [
        ("az", "12\xa0345,50", "08.03.2026", "8 Mart 2026"),
        ("ru", "12\xa0345,50", "08.03.2026", "8 марта 2026 г."),
        ("kk", "12\xa0345,50", "08.03.2026", "8 Наурыз 2026 ж."),
        ("en", "12,345.50", "03/08/2026", "March 8, 2026"),
    ],
)
def test_numbers_and_dates_follow_the_locale(language, number, short_date, long_date):
    day = date(2026, 3, 8)
    with translation.override(language):
        assert formats.number_format(Decimal("12345.5"), 2, force_grouping=True) == number
        assert formats.date_format(day, "SHORT_DATE_FORMAT") == short_date
        assert formats.date_format(day) == long_date
