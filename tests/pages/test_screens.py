"""Each main screen in Chromium, kept as a screenshot in artifacts/screenshots/: the till (desktop and
phone), the card (phone), the admin dashboard and the campaign rules editor. Every screen fails the
test when it scrolls sideways at its width or when a text's colour equals its background."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.services import staff_user_create
from tests.pages.conftest import PASSWORD, screenshot

pytestmark = pytest.mark.browser

# Text nodes whose colour has (almost) no contrast with the background they are drawn on: the first
# ancestor with an opaque background colour; texts over a background image (gradients) are skipped.
# Contrast by WCAG's relative luminance; 1.25 catches "equal" and near-equal, nothing readable.
UNREADABLE_TEXTS = """
() => {
  const rgb = s => { const m = s.match(/[\\d.]+/g) || []; return m.map(Number); };
  const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = c => 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.backgroundImage && style.backgroundImage !== 'none') return null;
      const c = rgb(style.backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] >= 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const el = node.parentElement;
    if (!text || !el || ['SCRIPT', 'STYLE', 'NOSCRIPT', 'OPTION', 'TEMPLATE'].includes(el.tagName)) continue;
    const range = document.createRange(); range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (box.width === 0 || box.height === 0) continue;
    if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
    const bg = background(el);
    if (bg === null) continue;
    const fg = rgb(style.color);
    if (fg.length === 4 && fg[3] < 0.1) { found.push(text.slice(0, 40) + ' (transparent)'); continue; }
    const [a, b] = [lum(fg.slice(0, 3)), lum(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 1.25) found.push(text.slice(0, 40) + ' (' + style.color + ' on rgb(' + bg.join(', ') + '))');
  }
  return found;
}
"""


def assert_screen(page, name: str) -> None:
    """Keep the screenshot, then: no sideways scrolling at the page's width, every text readable."""
    screenshot(page, name)
    width = page.viewport_size["width"]
    wide = page.evaluate(
        "width => Array.from(document.querySelectorAll('body *'))"
        ".filter(e => e.getBoundingClientRect().right > width + 1)"
        ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 8)",
        width,
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways: {wide}"
    unreadable = page.evaluate(UNREADABLE_TEXTS)
    assert unreadable == [], f"{name}: text in its background's colour: {unreadable}"


@pytest.fixture
def shop(seeded):
    """The seeded program with a till cashier, an owner, a member coupon and some history."""
    from campaigns.models import Coupon
    from checkout.purchases import purchase_create
    from ledger.services import points_adjust

    program, member = seeded
    at = timezone.now()
    points_adjust(member=member, points=300, at=at - timedelta(days=200), reference="lot-old", reason="test")
    purchase_create(member=member, external_id="screen-1", amount=Decimal("40.00"), currency="AZN", at=at)
    Coupon.objects.create(
        program=program,
        member=member,
        code="WELCOME10",
        kind="percent",
        value=Decimal("10"),
        ends_at=at + timedelta(days=30),
    )
    member.refresh_from_db()
    cashier = staff_user_create(
        merchant=program.merchant, username="screen-cashier", password=PASSWORD, role="cashier"
    )
    owner = staff_user_create(
        merchant=program.merchant, username="screen-owner", password=PASSWORD, role="owner"
    )
    return program, member, cashier, owner


def _till_login(page, live_server, user):
    page.goto(f"{live_server.url}/cashier/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/cashier/")


def _admin_login(page, live_server, user, next_url):
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{next_url}")


def test_till_desktop_scanner_flow_and_coupon(page, live_server, shop):
    """A scanner types the card number and presses Enter; the amount has the focus; a coupon is one
    tap; Enter confirms the purchase."""
    program, member, cashier, _owner = shop
    _till_login(page, live_server, cashier)
    page.keyboard.type(member.card_number)  # the search field has the focus
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/cashier/members/{member.pk}/$"))
    assert page.evaluate("document.activeElement.id") == "id_amount"
    page.keyboard.type("50.00")
    page.click("button.use-coupon[data-code=WELCOME10]")
    assert page.input_value("#id_coupon_code") == "WELCOME10"
    assert page.get_attribute("button.use-coupon[data-code=WELCOME10]", "aria-pressed") == "true"
    page.wait_for_selector("#quote[data-state=ok]")
    assert "Coupon WELCOME10: 10% off" in page.inner_text("#quote")
    assert_screen(page, "till-desktop")
    page.keyboard.press("Enter")  # the amount field has the focus again: Enter confirms
    page.wait_for_selector(".messages .success")
    assert "Purchase recorded" in page.inner_text(".messages")
    # Esc goes back to the search field, ready for the next scan
    page.keyboard.press("Escape")
    # waits (up to 5 s) for the focus to land: Esc may reload the page first; fails if it never does
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_q'", timeout=5000)
    assert page.evaluate("document.activeElement.id") == "id_q"


def test_till_phone(phone_page, live_server, shop):
    program, member, cashier, _owner = shop
    _till_login(phone_page, live_server, cashier)
    phone_page.goto(f"{live_server.url}/cashier/members/{member.pk}/")
    assert phone_page.locator("#confirm-purchase").is_visible()
    assert_screen(phone_page, "till-phone")


def test_till_refund_preview_phone(phone_page, live_server, shop):
    from ledger.models import Purchase

    program, member, cashier, _owner = shop
    purchase = Purchase.objects.get(external_id="screen-1")
    _till_login(phone_page, live_server, cashier)
    phone_page.goto(f"{live_server.url}/cashier/members/{member.pk}/")
    phone_page.click(f"#purchase-{purchase.pk} button[type=submit]")
    phone_page.wait_for_selector("#refund-preview")
    assert phone_page.inner_text("#refund-money") == f"{purchase.amount_due} AZN"
    assert_screen(phone_page, "till-refund-phone")
    phone_page.keyboard.press("Enter")  # the Confirm button has the focus
    phone_page.wait_for_selector(".messages .success")
    assert f"hand back {purchase.amount_due} AZN" in phone_page.inner_text(".messages")
    assert phone_page.locator(f"#purchase-{purchase.pk} .badge.refunded").is_visible()


def test_card_phone(phone_page, live_server, shop):
    program, member, _cashier, _owner = shop
    phone_page.goto(f"{live_server.url}/card/{member.card_token}/")
    for section in ("#card-coupons", "#card-expiring", "#card-next-tier", "#card-ways", "#card-home-screen"):
        assert phone_page.locator(section).is_visible(), section
    assert "WELCOME10" in phone_page.inner_text("#card-coupons")
    manifest = phone_page.evaluate("document.querySelector('link[rel=manifest]').href")
    assert phone_page.request.get(manifest).json()["start_url"] == f"/card/{member.card_token}/"
    assert_screen(phone_page, "card-phone")


def test_admin_dashboard(page, live_server, shop):
    program, member, _cashier, owner = shop
    _admin_login(page, live_server, owner, "/admin/reports/")
    page.wait_for_function("document.body.dataset.chartsReady === '4'")
    assert_screen(page, "admin-dashboard")
    # "View site" leads to the dashboard, and the admin has an icon
    page.goto(f"{live_server.url}/admin/")
    assert page.get_attribute("#user-tools a[href='/admin/reports/']", "href") == "/admin/reports/"
    icon = page.evaluate("document.querySelector('link[rel=icon]').href")
    assert page.request.get(icon).status == 200


def test_rules_editor_fits_1280_and_reads_as_a_sentence(page, live_server, shop):
    from campaigns.models import Campaign

    program, member, _cashier, owner = shop
    campaign = Campaign.objects.get(program=program, name="Frequent buyer 20% coupon")
    _admin_login(page, live_server, owner, f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert page.viewport_size["width"] == 1280
    assert page.inner_text("#rules-sentence") == (
        "When a purchase is made, if the member made at least 3 purchases in the last 90 days, "
        "give a coupon for 20% off, valid 30 days, once per member."
    )
    assert_screen(page, "rules-editor")
