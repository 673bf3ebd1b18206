"""The API's error `message` follows `Accept-Language` (issue 19); the `code` and the field names never
change, and a request without the header gets English."""

import pytest

from tests.api.conftest import client_with_key

pytestmark = pytest.mark.django_db

NOT_FOUND = {
    "az": "Üzv tapılmadı.",
    "ru": "Участник не найден.",
    "kk": "Қатысушы табылмады.",
    "en": "Member not found.",
}


@pytest.mark.parametrize("language", ["az", "ru", "kk", "en"])
def test_not_found_message_in_the_requested_language(api, language):
    response = api.get("/api/v1/members/999999999/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": NOT_FOUND[language]}}


def test_regional_variant_and_weights_pick_the_language(api):
    response = api.get("/api/v1/members/999999999/", HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9,en;q=0.5")
    assert response.json()["error"]["message"] == NOT_FOUND["ru"]


def test_no_header_is_english(api):
    assert api.get("/api/v1/members/999999999/").json()["error"]["message"] == NOT_FOUND["en"]


def test_validation_message_translated_field_name_kept(api, tenant):
    from tests.factories import MemberFactory

    member = MemberFactory(program=tenant.program)
    body = {"member": member.pk, "points": "100"}  # a string: points are a JSON integer
    response = api.post("/api/v1/redemptions/", body, format="json", HTTP_ACCEPT_LANGUAGE="az")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {"points": ["Balları tam ədədlə yazın (JSON tam ədədi)."]}
    assert error["message"] == "points: Balları tam ədədlə yazın (JSON tam ədədi)."


def test_auth_and_service_errors_in_the_active_language(api, tenant):
    """A LoyaltyError's default message is translated where the error is raised (the request's
    language), not when its class was defined."""
    response = client_with_key("not-a-key").get("/api/v1/program/", HTTP_ACCEPT_LANGUAGE="kk")
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "not_authenticated",
        "message": "API кілті белгісіз немесе кері қайтарылған, не бағдарлама тоқтатылған.",
    }
    from django.utils import translation

    from loyalty_site.core.errors import InsufficientPoints

    with translation.override("ru"):
        assert InsufficientPoints().as_dict() == {
            "error": {"code": "insufficient_points", "message": "У участника недостаточно баллов."}
        }
    with translation.override("az"):
        assert InsufficientPoints().message == "Üzvün kifayət qədər balı yoxdur."
