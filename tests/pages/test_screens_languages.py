"""The card (a member's language) and the till (the cashier's browser language) in az, ru and kk on a
phone: kept as screenshots in artifacts/screenshots/ (card-phone-az.png, till-phone-ru.png, ...), and
each fails when the longer words make the page scroll sideways or a text lose its contrast."""

import re

import pytest

from tests.pages.test_screens import _till_login, assert_screen, shop  # noqa: F401 - fixture

pytestmark = pytest.mark.browser

#: words of our catalogue each screen must show in the language (and English words it must not)
CARD = {
    "az": ("Son əməliyyatlar", "Bu kodu kassada göstərin", "Kuponlarınız"),
    "ru": ("Последние операции", "Покажите этот код на кассе", "Ваши купоны"),
    "kk": ("Соңғы операциялар", "Бұл кодты кассада көрсетіңіз", "Сіздің купондарыңыз"),
}
TILL = {
    "az": ("Alışı təsdiqlə", "Bal xərclə", "Son alışlar"),
    "ru": ("Подтвердить покупку", "Списать баллы", "Последние покупки"),
    "kk": ("Сатып алуды растау", "Ұпай жұмсау", "Соңғы сатып алулар"),
}
ENGLISH = (
    "Recent activity",
    "Show this code at the till",
    "Confirm purchase",
    "Redeem points",
    "Recent purchases",
)


def _phone(browser, language):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=language,  # Accept-Language
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


@pytest.mark.parametrize("language", ["az", "ru", "kk"])
def test_card_phone_in_the_members_language(browser, live_server, shop, language):  # noqa: F811
    program, member, _cashier, _owner = shop
    member.language = language
    member.save(update_fields=["language"])
    context, page = _phone(browser, "en")  # the member's language wins over the browser's
    try:
        page.goto(f"{live_server.url}/card/{member.card_token}/")
        assert page.get_attribute("html", "lang") == language
        text = page.inner_text("body")
        for words in CARD[language]:
            assert words in text, words
        for words in ENGLISH:
            assert words not in text, words
        assert_screen(page, f"card-phone-{language}")
    finally:
        context.close()


@pytest.mark.parametrize("language", ["az", "ru", "kk"])
def test_till_phone_in_the_cashiers_language(browser, live_server, shop, language):  # noqa: F811
    program, member, cashier, _owner = shop
    context, page = _phone(browser, language)
    try:
        _till_login(page, live_server, cashier)
        page.goto(f"{live_server.url}/cashier/members/{member.pk}/")
        page.fill("#id_amount", "12.50")
        page.wait_for_selector("#quote[data-state=ok]")  # the quote's labels come from the JS catalogue
        text = page.inner_text("body")
        for words in TILL[language]:
            assert words in text, words
        for words in ENGLISH:
            assert words not in text, words
        assert not re.search(r"\bTo pay\b|\bPoints earned\b", page.inner_text("#quote"))
        assert_screen(page, f"till-phone-{language}")
    finally:
        context.close()
