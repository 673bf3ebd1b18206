"""Playwright driving Debian's Chromium against the live server: the pages a person uses."""

import re

import pytest

from accounts.services import staff_user_create
from tests.pages.conftest import PASSWORD, screenshot

pytestmark = pytest.mark.browser


def _till_login(page, live_server, user):
    page.goto(f"{live_server.url}/cashier/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/cashier/")


@pytest.fixture
def till(seeded):
    program, member = seeded
    cashier = staff_user_create(
        merchant=program.merchant, username="till-cashier", password=PASSWORD, role="cashier"
    )
    return program, member, cashier


def test_cashier_finds_member_by_phone_records_purchase_and_sees_balance(page, live_server, till):
    program, member, cashier = till
    start = member.balance
    _till_login(page, live_server, cashier)
    screenshot(page, "till-home")
    page.fill("#id_q", member.phone.replace("+994", "0"))
    page.press("#id_q", "Enter")
    page.wait_for_url(re.compile(rf"/cashier/members/{member.pk}/$"))
    assert page.inner_text("#member-balance") == str(start)
    page.fill("#id_amount", "100.00")
    page.fill("#id_currency", "USD")
    page.wait_for_selector("#quote[data-state=ok]")
    quote = page.inner_text("#quote")
    assert "98.00 USD" in quote and "+1176" in quote
    screenshot(page, "till-quote")
    page.click("#confirm-purchase")
    page.wait_for_selector(".messages .success")
    assert page.inner_text("#member-balance") == str(start + 1176)
    assert f"Balance {start + 1176} points." in page.inner_text(".messages")
    member.refresh_from_db()
    assert member.balance == start + 1176
    screenshot(page, "till-after-purchase")
    # the same page on a phone: one column, nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    wide = page.evaluate(
        "Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 391)"
        ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
    assert page.locator("#confirm-purchase").is_visible()
    screenshot(page, "till-phone")


def test_failed_redemption_shows_its_message(page, live_server, till):
    program, member, cashier = till
    start = member.balance
    _till_login(page, live_server, cashier)
    page.goto(f"{live_server.url}/cashier/members/{member.pk}/")
    page.fill("#id_points", str(start + 500))
    page.click("#redeem-button")
    page.wait_for_selector("#redeem-errors")
    message = page.inner_text("#redeem-errors")
    assert "points" in message and str(start) in message
    assert page.inner_text("#member-balance") == str(start)
    # a live quote redeeming too much explains itself before anything is recorded
    page.fill("#id_amount", "10.00")
    page.fill("#id_currency", "USD")
    page.fill("#id_redeem_points", str(start + 500))
    page.wait_for_selector("#quote[data-state=error]")
    assert page.inner_text("#quote").strip() != ""
    screenshot(page, "till-failed-redemption")
    member.refresh_from_db()
    assert member.balance == start


def test_card_page_shows_qr_and_progress_on_a_phone(phone_page, live_server, till):
    program, member, _cashier = till
    from decimal import Decimal

    from django.utils import timezone

    from checkout.purchases import purchase_create

    purchase_create(
        member=member, external_id="card-1", amount=Decimal("100.00"), currency="USD", at=timezone.now()
    )
    member.refresh_from_db()
    phone_page.goto(f"{live_server.url}/card/{member.card_token}/")
    assert phone_page.locator("#card-qr svg").is_visible()
    box = phone_page.locator("#card-qr svg").bounding_box()
    assert box["width"] >= 150
    assert phone_page.inner_text("#card-number") == member.card_number
    assert phone_page.inner_text("#card-tier") == "Silver"
    assert (
        phone_page.get_attribute("#card-progress", "aria-valuenow") == "13"
    )  # 276 of the 2000 from Silver to Gold
    assert "1724 points to Gold" in phone_page.inner_text("#card-progress-text")
    assert phone_page.inner_text("#card-balance").startswith(str(member.balance))
    # the page fits the phone: no horizontal scrolling
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone_page, "card-phone")


def test_dashboard_renders_its_charts(page, live_server, till):
    program, member, _cashier = till
    from decimal import Decimal

    from django.utils import timezone

    from checkout.purchases import purchase_create

    purchase_create(
        member=member, external_id="dash-1", amount=Decimal("100.00"), currency="USD", at=timezone.now()
    )
    owner = staff_user_create(
        merchant=program.merchant, username="dash-owner", password=PASSWORD, role="owner"
    )
    page.goto(f"{live_server.url}/admin/login/?next=/admin/reports/")
    page.fill("#id_username", owner.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/reports/")
    page.wait_for_function("document.body.dataset.chartsReady === '4'")
    assert (
        page.evaluate("window.loyaltyCharts['chart-flow'].data.datasets[0].data.reduce((a, b) => a + b, 0)")
        == 1276
    )
    assert page.inner_text("#kpi-earned") == "1276"
    for chart in ("chart-flow", "chart-tiers", "chart-segments", "chart-nps"):
        size = page.locator(f"#{chart}").bounding_box()
        assert size["width"] > 100 and size["height"] > 100
    screenshot(page, "dashboard")
    page.goto(f"{live_server.url}/admin/")
    assert page.locator("#reports-module a", has_text="Analytics dashboard").is_visible()


def _qr_y4m(path, text: str, size: int = 480) -> None:
    """A still video (YUV4MPEG2, grey) of the QR code of `text`, for Chromium's fake camera."""
    import segno

    matrix = [list(row) for row in segno.make(text, error="m", micro=False).matrix]
    modules = len(matrix) + 8  # a quiet zone of 4 modules each side
    scale = size // modules
    offset = (size - scale * len(matrix)) // 2
    luma = bytearray(b"\xff" * size * size)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (offset + y * scale + dy) * size + offset + x * scale
                    luma[start : start + scale] = b"\x00" * scale
    chroma = b"\x80" * (size // 2) * (size // 2)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _frame in range(3):
            out.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


def test_cashier_scans_the_members_qr_with_the_camera(playwright_session, live_server, till, tmp_path):
    """Chromium's fake camera shows the card's QR; the page decodes it (BarcodeDetector where the
    browser has it, else the vendored jsQR) and opens the member."""
    from tests.pages.conftest import CHROMIUM, CHROMIUM_ARGS

    program, member, cashier = till
    video = tmp_path / "qr.y4m"
    _qr_y4m(video, f"{live_server.url}/card/{member.card_token}/")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    browser = playwright_session.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        context = browser.new_context(viewport={"width": 1024, "height": 900})
        context.grant_permissions(["camera"], origin=live_server.url)
        page = context.new_page()
        page.set_default_timeout(20000)
        _till_login(page, live_server, cashier)
        page.click("#scan-button")
        page.wait_for_url(re.compile(rf"/cashier/members/{member.pk}/$"))
        assert page.inner_text("#member-balance") == str(member.balance)
        decoder = page.evaluate("sessionStorage.getItem('tillDecoder')")
        has_detector = page.evaluate("'BarcodeDetector' in window")
        assert decoder in ("BarcodeDetector", "jsQR")
        if not has_detector:  # Linux Chromium has none: the vendored jsQR decoded it
            assert decoder == "jsQR"
        screenshot(page, "till-after-camera-scan")
    finally:
        browser.close()
