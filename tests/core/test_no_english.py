"""Issue 19: what an Azerbaijani member reads on the card, what a Russian cashier reads at the till
and an e-mail a Kazakh member gets carry no English from our catalogues.

The English phrases are the msgids of our catalogues (every app's and the root one) that the
language's catalogue translates into something else, cut at their placeholders (`%(name)s`, `{{ x }}`,
`%s`, tags) into fragments of three words or more: a fragment found in the rendered text is a string
that was left untranslated on that page (or rendered outside the reader's language)."""

import re
from html import unescape

import pytest
from babel.messages.pofile import read_po
from django.core import mail
from django.urls import reverse

from accounts.models import Member, StaffMember
from accounts.services import member_create
from checkout.purchases import purchase_create
from loyalty_site.core import catalogues
from loyalty_site.core.presets import preset_apply
from notifications.models import Notification
from notifications.services import outbox_deliver
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

PLACEHOLDER = re.compile(r"%\([^)]*\)[sd]|%[sd]|\{\{.*?\}\}|\{%.*?%\}|<[^>]+>|\{[a-z_]*\}")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def english_phrases(language: str) -> set[str]:
    """Fragments (3+ words) of our msgids whose `language` translation differs from them."""
    phrases = set()
    for po in catalogues.po_files():
        if po.parts[-3] != language:
            continue
        with po.open("rb") as handle:
            catalogue = read_po(handle)
        for message in catalogue:
            if not message.id or message.fuzzy:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for msgid in ids:
                if not any(strings) or msgid in strings:
                    continue
                for fragment in PLACEHOLDER.split(msgid):
                    fragment = " ".join(fragment.split()).strip(" .,:;!?()«»\"'—–-·")
                    if len(WORD.findall(fragment)) >= 3 and len(WORD.findall(fragment)) == len(
                        fragment.split()
                    ):
                        phrases.add(fragment)
    return phrases


def page_text(html: str) -> str:
    """The text a reader sees: no tags, scripts or styles, entities decoded, spaces collapsed."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def english_in(text: str, language: str) -> list[str]:
    return sorted(phrase for phrase in english_phrases(language) if phrase in text)


def test_the_phrase_list_is_real():
    phrases = english_phrases("az")
    assert len(phrases) > 300
    assert "You are in the top tier" in phrases
    assert english_in("Balance: 5. You are in the top tier.", "az") == ["You are in the top tier"]


@pytest.fixture
def seeded(now):
    program = ProgramFactory(name="Çay evi", default_language="en", base_currency="AZN")
    preset_apply(program=program, preset="seed", at=now)
    return program


def _busy_member(program, now, language):
    """A member with a tier, points, a purchase and a welcome bonus (their card and panel full)."""
    member = member_create(
        program=program, at=now, email=f"{language}@example.com", first_name="Aygün", language=language
    )
    purchase_create(
        member=Member.objects.get(pk=member.pk),
        external_id=f"p-{language}",
        amount="40.00",
        currency="AZN",
        at=now,
    )
    return Member.objects.select_related("program", "tier").get(pk=member.pk)


def test_the_card_of_an_az_member_has_no_english(client, seeded, now):
    member = _busy_member(seeded, now, "az")
    response = client.get(f"/card/{member.card_token}/", HTTP_ACCEPT_LANGUAGE="en")
    text = page_text(response.content.decode())
    assert "Bürünc" in text and "Pulsuz qəhvə" in text  # the page is full: tier, rewards
    assert english_in(text, "az") == []
    # the check sees English where there is some: the same card for an English-speaking member
    english = _busy_member(seeded, now, "en")
    english_text = page_text(client.get(f"/card/{english.card_token}/").content.decode())
    assert len(english_in(english_text, "az")) >= 5


def test_the_till_of_a_ru_cashier_has_no_english(client, staff_user, seeded, now):
    member = _busy_member(seeded, now, "ru")
    cashier = staff_user(seeded.merchant, "cashier")
    StaffMember.objects.filter(user=cashier).update(language="ru")
    client.force_login(cashier)
    home = page_text(client.get(reverse("cashier:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode())
    panel = page_text(
        client.get(reverse("cashier:member", args=[member.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )
    assert "Бронзовый" in panel and "Бесплатный кофе" in panel
    assert english_in(home, "ru") == []
    assert english_in(panel, "ru") == []


def test_an_email_to_a_kk_member_has_no_english(seeded, now):
    seeded.default_language = "az"  # neither the program's language nor the site's
    seeded.save(update_fields=["default_language"])
    member = _busy_member(seeded, now, "kk")
    assert Notification.objects.filter(member=member, channel="email").count() >= 2  # tier, welcome bonus
    mail.outbox.clear()
    outbox_deliver(at=now)
    sent = [message for message in mail.outbox if message.to == [member.email]]
    assert sent
    for message in sent:
        text = f"{message.subject}\n{message.body}"
        assert "Сәлеметсіз бе, Aygün!" in message.body
        assert english_in(text, "kk") == [], text
    assert any("Қола" in message.body for message in sent)  # the tier's name in Kazakh
