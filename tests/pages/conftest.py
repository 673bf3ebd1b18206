"""Fixtures of the page tests: till users, a Playwright browser on Debian's Chromium, screenshots."""

import os
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "pw-12345!x"


@pytest.fixture
def cashier_user(staff_user, merchant):
    return staff_user(merchant, "cashier")


@pytest.fixture(scope="module")
def playwright_session():
    """One Playwright driver per browser test module (a second one in the same thread is refused).
    Its sync API keeps an event loop running in this thread, so Django must allow synchronous ORM
    calls from the test body meanwhile; the variable is removed again when the driver stops, so it
    never leaks into other tests or their subprocesses (`check --deploy` rejects it)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(playwright_session):
    chromium = playwright_session.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def moment():
    """The real current time, taken once per test. Pages read the clock themselves (the till, the
    card, the dashboard's default range), so their fixtures live at the real time, not the fixed NOW
    of the service tests: a seed preset applied at a fixed date would age out of its rates' validity,
    and a history split between the two clocks lands on different days."""
    from django.utils import timezone

    return timezone.now()


@pytest.fixture
def seeded(db, moment):
    """A program with PRODUCT.md §2's seed rules (rates, tiers, campaigns...) and one member."""
    from loyalty_site.core.presets import preset_apply
    from tests.factories import MemberFactory, ProgramFactory

    program = ProgramFactory(name="Seeded")
    preset_apply(program=program, preset="seed", at=moment)
    member = MemberFactory(program=program, at=moment, first_name="Aysel", last_name="Mammadova")
    member.refresh_from_db()
    return program, member
