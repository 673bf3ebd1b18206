"""The member's card page: coupons, points at risk, the next tier, ways to earn, home screen."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from campaigns.models import Coupon
from ledger.services import points_adjust


def test_card_lists_the_members_active_coupons(client, seeded):
    program, member = seeded
    at = timezone.now()
    Coupon.objects.create(
        program=program,
        member=member,
        code="BDAY-7Q2X",
        kind="fixed",
        value=Decimal("5.00"),
        currency="AZN",
        ends_at=at + timedelta(days=10),
    )
    Coupon.objects.create(
        program=program,
        member=member,
        code="OLD-1",
        kind="percent",
        value=Decimal("10"),
        ends_at=at - timedelta(days=1),
    )

    response = client.get(f"/card/{member.card_token}/")

    section = re.search(r'id="card-coupons".*?</section>', response.content.decode(), re.S).group(0)
    assert "BDAY-7Q2X" in section and "5.00 AZN off" in section
    assert f"until {(at + timedelta(days=10)):%-d %b %Y}" in section
    assert "OLD-1" not in section


def test_card_shows_points_at_risk_with_their_date_beyond_the_warning_window(client, seeded):
    program, member = seeded
    now = timezone.now()
    # 365-day lifetime: credited 200 days ago, expires in 165 days (far outside the 48-hour warning)
    points_adjust(member=member, points=300, at=now - timedelta(days=200), reference="lot-a", reason="test")
    points_adjust(member=member, points=40, at=now - timedelta(days=100), reference="lot-b", reason="test")

    response = client.get(f"/card/{member.card_token}/")

    at_risk = response.context["points_at_risk"]
    assert [row["points"] for row in at_risk][:2] == [300, 40]
    assert at_risk[0]["soon"] is False
    expiry = (now - timedelta(days=200) + timedelta(days=365)).astimezone(program.tz)
    assert f"<strong>300</strong> points expire on {expiry:%-d %b %Y}" in response.content.decode()


def test_card_says_how_to_reach_the_next_tier_and_what_it_gives(client, seeded):
    program, member = seeded

    response = client.get(f"/card/{member.card_token}/")

    next_tier = response.context["next_tier"]
    assert next_tier["name"] == "Silver"
    assert next_tier["how"].startswith("Earn ") and "more points" in next_tier["how"]
    assert next_tier["privileges"]  # the seed's Silver gives something
    body = response.content.decode()
    section = re.search(r'id="card-next-tier".*?</div>', body, re.S).group(0)
    assert next_tier["how"] in section and next_tier["privileges"][0] in section


def test_card_lists_the_programs_ways_to_earn(client, seeded):
    program, member = seeded

    ways = client.get(f"/card/{member.card_token}/").context["ways_to_earn"]

    assert ways[0] == "8 points for every 1 AZN you spend"  # the base currency first
    assert "12 points for every 1 USD you spend" in ways
    assert ways[-1] == f"Invite friends with your code {member.referral_code}"
    assert not any("_" in way for way in ways)  # names and sentences, no internal codes


def test_card_offers_the_home_screen_with_a_manifest_for_this_card(client, seeded):
    program, member = seeded
    body = client.get(f"/card/{member.card_token}/").content.decode()
    assert f'<link rel="manifest" href="/card/{member.card_token}/manifest.webmanifest">' in body
    assert 'id="card-home-screen"' in body

    manifest = client.get(f"/card/{member.card_token}/manifest.webmanifest")
    assert manifest["Content-Type"] == "application/manifest+json"
    data = json.loads(manifest.content)
    assert data["start_url"] == f"/card/{member.card_token}/"
    assert data["display"] == "standalone"
    assert {icon["sizes"] for icon in data["icons"]} == {"192x192", "512x512"}
    assert client.get("/card/nope/manifest.webmanifest").status_code == 404


@pytest.fixture
def production_static(tmp_path):
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    with override_settings(
        DEBUG=False, STATIC_ROOT=str(tmp_path / "static"), STORAGES=storages, WHITENOISE_AUTOREFRESH=False
    ):
        call_command("collectstatic", "--noinput", "-v0")
        yield


def test_manifest_icons_are_served_by_static_files_with_debug_off(production_static, client, member):
    manifest = json.loads(client.get(f"/card/{member.card_token}/manifest.webmanifest").content)
    body = client.get(f"/card/{member.card_token}/").content.decode()
    icons = [icon["src"] for icon in manifest["icons"]]
    icons.append(re.search(r'rel="apple-touch-icon" href="([^"]+)"', body).group(1))
    icons.append(re.search(r'rel="icon" href="([^"]+)"', body).group(1))
    for src in icons:
        assert re.search(r"\.[0-9a-f]{12}\.(png|svg)$", src), src  # hashed: cached for good
        response = client.get(src)
        assert response.status_code == 200, src
        assert response["Content-Type"] in ("image/png", "image/svg+xml"), src
