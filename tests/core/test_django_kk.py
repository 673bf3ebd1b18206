"""Issue 19: Django's own Kazakh catalogues leave about a hundred admin, auth and contenttypes strings
in English; locale_django/kk supplies them, so the admin reads Kazakh throughout."""

import re
from pathlib import Path

import django
import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils import translation

from loyalty_site.core import catalogues

pytestmark = pytest.mark.django_db


def _untranslated_by_django(app: str) -> set[str]:
    path = Path(django.__file__).parent / "contrib" / app / "locale" / "kk" / "LC_MESSAGES" / "django.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    missing = set()
    for message in catalogue:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and not all(strings):
            missing.add(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def test_every_string_django_leaves_in_english_has_our_kazakh():
    missing = set().union(*(_untranslated_by_django(app) for app in ("admin", "auth", "contenttypes")))
    assert len(missing) >= 90
    with translation.override("kk"):
        left = sorted(
            msgid
            for msgid in missing
            if translation.gettext(msgid) == msgid and re.sub(r"%\(\w+\)s", "", msgid).strip()
        )
    assert left == []


def test_the_supplement_only_fills_gaps_and_is_compiled():
    (po,) = catalogues.supplement_po_files(Path(settings.BASE_DIR))
    with po.open("rb") as handle:
        ours = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    missing = set().union(*(_untranslated_by_django(app) for app in ("admin", "auth", "contenttypes")))
    assert ours <= missing  # never overrides a translation Django has
    assert po.with_suffix(".mo").exists()


def test_the_kazakh_admin_shows_no_english_django_strings(client, staff_user, merchant, program):
    client.force_login(staff_user(merchant, "owner"))
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="kk").content.decode()
    assert '<html lang="kk"' in page
    assert "Соңғы әрекеттер" in page and "Менің әрекеттерім" in page
    assert "Recent actions" not in page and "My actions" not in page
