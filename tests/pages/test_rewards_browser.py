"""Playwright: a cashier redeems rewards at the till (issue 20) and the member's card shows them."""

import re

import pytest
from django.utils import timezone

from accounts.services import staff_user_create
from ledger.services import points_bonus
from rewards.models import Redemption, Reward, RewardCode
from tests.pages.conftest import PASSWORD, screenshot

pytestmark = pytest.mark.browser


def test_cashier_redeems_a_gift_and_a_voucher_at_the_till(page, live_server, seeded):
    program, member = seeded
    points_bonus(member=member, points=1000, at=timezone.now(), reference="fund", description="Welcome gift")
    member.refresh_from_db()
    start = member.balance
    cinema = Reward.objects.create(program=program, name="Cinema ticket", kind="voucher", cost_points=800)
    RewardCode.objects.create(reward=cinema, code="CINEMA-0001")
    cashier = staff_user_create(
        merchant=program.merchant, username="rw-cashier", password=PASSWORD, role="cashier"
    )

    page.goto(f"{live_server.url}/cashier/")
    page.fill("#id_username", cashier.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/cashier/members/{member.pk}/")
    offers = page.locator("#reward-offers")
    # the mug is for Gold and Platinum: this Bronze member is not offered it
    assert "Free coffee" in offers.inner_text() and "Branded mug" not in offers.inner_text()
    coffee = offers.locator("tr", has_text="Free coffee")
    coffee.locator("button.redeem-reward").click()
    page.wait_for_selector(".messages .success")
    assert "Hand over the gift: Free coffee." in page.inner_text(".messages")
    assert "Free coffee" in page.inner_text("#pending-gifts")
    screenshot(page, "till-reward-gift")

    page.locator("#pending-gifts button").click()
    page.wait_for_selector(".messages .success")
    assert "Free coffee handed over." in page.inner_text(".messages")
    assert page.locator("#pending-gifts").count() == 0

    page.locator("#reward-offers tr", has_text="Cinema ticket").locator("button.redeem-reward").click()
    page.wait_for_selector(".messages .success")
    assert "give the member the code CINEMA-0001" in page.inner_text(".messages")
    assert re.search(rf"Balance {start - 900} points", page.inner_text(".messages"))
    screenshot(page, "till-reward-voucher")

    assert [(r.reward.name, r.status, r.channel) for r in Redemption.objects.order_by("id")] == [
        ("Free coffee", "fulfilled", "till"),
        ("Cinema ticket", "issued", "till"),
    ]
    member.refresh_from_db()
    assert member.balance == start - 900


def test_card_shows_the_rewards_catalogue_on_a_phone(phone_page, live_server, seeded):
    program, member = seeded
    points_bonus(member=member, points=300, at=timezone.now(), reference="fund", description="Welcome gift")
    member.refresh_from_db()

    phone_page.goto(f"{live_server.url}/card/{member.card_token}/")

    rewards = phone_page.inner_text("#card-rewards")
    assert "Free coffee" in rewards and "Yours now" in rewards
    assert f"{500 - member.balance} more points for 5 AZN voucher" in phone_page.inner_text(
        "#card-next-reward"
    )
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone_page, "card-rewards-phone")
