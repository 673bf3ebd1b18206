"""The translation catalogues (issue 19): every string we mark has a real translation in az, ru and
kk (a fresh extraction, so a newly marked string without one fails), none is fuzzy; and the tool that
keeps them (manage.py update_catalogues): strings land in their app's catalogue, a moved string keeps
its translation, the check finds a newly marked string without translation and fuzzy ones.

Needs GNU gettext (xgettext, msgmerge): `make test` installs it (`make gettext`)."""

import gettext as gnu_gettext
import shutil
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

from loyalty_site.core import catalogues
from ops.management.commands.update_catalogues import missing_translations, update

LANGUAGES = list(catalogues.TRANSLATED_LANGUAGES)


@pytest.fixture(autouse=True)
def gettext_tools():
    missing = [tool for tool in ("xgettext", "msgmerge", "msgattrib", "msgcat") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"GNU gettext is needed for the catalogue checks (make gettext): {missing} not found")


def test_every_marked_string_has_a_translation_in_az_ru_kk():
    """The CI check: extract every string of our code afresh and find its translation in the
    committed catalogue of its app (or the root one), in each language, not fuzzy."""
    missing = missing_translations(Path(settings.BASE_DIR), LANGUAGES)
    report = "\n".join(
        f"{catalogue}: "
        + "; ".join(repr(msgid) for msgid in msgids[:15])
        + (" ..." if len(msgids) > 15 else "")
        for catalogue, msgids in sorted(missing.items())
    )
    assert not missing, (
        "Strings without a translation (or fuzzy); run `make messages` and translate them:\n" + report
    )


def test_the_catalogues_exist_for_every_app_and_compile():
    found = {po.relative_to(settings.BASE_DIR).parts[0] for po in catalogues.po_files()}
    for app in ("accounts", "api", "cashier", "ledger", "notifications", "locale"):
        assert app in found, f"{app} has no catalogue"
    for po in catalogues.po_files():
        mo = po.with_suffix(".mo")
        catalogues.compile_po(po, mo)
        with mo.open("rb") as handle:
            gnu_gettext.GNUTranslations(handle)  # a valid .mo


# --- the tool, on a small project of its own -----------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def translate(po: Path, msgid: str, msgstr: str, *, fuzzy: bool = False) -> None:
    text = po.read_text(encoding="utf-8")
    entry = f'msgid "{msgid}"\nmsgstr ""\n'
    assert entry in text, f"{msgid!r} is not untranslated in {po}"
    po.write_text(
        text.replace(entry, ("#, fuzzy\n" if fuzzy else "") + f'msgid "{msgid}"\nmsgstr "{msgstr}"\n')
    )


@pytest.fixture
def project(tmp_path):
    """Two apps and a project template, as the real tree is laid out."""
    write(
        tmp_path / "accounts" / "models.py",
        """
        from django.utils.translation import gettext_lazy as _

        LABEL = _("Points balance")
        """,
    )
    write(
        tmp_path / "ledger" / "services.py",
        """
        from django.utils.translation import gettext as _

        def done():
            return _("Refund recorded")
        """,
    )
    write(tmp_path / "templates" / "page.html", '{% load i18n %}<p>{% translate "Welcome back" %}</p>\n')
    write(tmp_path / "cashier" / "static" / "cashier" / "till.js", 'alert(gettext("Scan the card"));\n')
    return tmp_path


def po(project: Path, where: str, language: str = "az", domain: str = "django") -> Path:
    return project / where / "locale" / language / "LC_MESSAGES" / f"{domain}.po"


def test_strings_land_in_their_apps_catalogue_and_the_root_one(project):
    update(project, ["az"])
    assert 'msgid "Points balance"' in po(project, "accounts").read_text()
    assert 'msgid "Refund recorded"' in po(project, "ledger").read_text()
    assert 'msgid "Welcome back"' in (project / "locale/az/LC_MESSAGES/django.po").read_text()
    assert 'msgid "Scan the card"' in po(project, "cashier", domain="djangojs").read_text()
    missing = missing_translations(project, ["az"])
    assert missing == {
        "accounts/locale/az/LC_MESSAGES/django.po": ["Points balance"],
        "cashier/locale/az/LC_MESSAGES/djangojs.po": ["Scan the card"],
        "ledger/locale/az/LC_MESSAGES/django.po": ["Refund recorded"],
        "locale/az/LC_MESSAGES/django.po": ["Welcome back"],
    }


def test_a_newly_marked_string_without_translation_fails_the_check(project):
    update(project, ["az"])
    translate(po(project, "accounts"), "Points balance", "Bal balansı")
    translate(po(project, "ledger"), "Refund recorded", "Geri qaytarma qeydə alındı")
    translate(project / "locale/az/LC_MESSAGES/django.po", "Welcome back", "Yenidən xoş gəldiniz")
    translate(po(project, "cashier", domain="djangojs"), "Scan the card", "Kartı skan edin")
    assert missing_translations(project, ["az"]) == {}
    # a developer marks a new string and forgets its translation: the fresh extraction finds it
    with (project / "ledger" / "services.py").open("a") as source:
        source.write('\n\ndef more():\n    return _("Points reversed")\n')
    assert missing_translations(project, ["az"]) == {
        "ledger/locale/az/LC_MESSAGES/django.po": ["Points reversed"]
    }
    # ... and the check changed nothing in the project
    assert "Points reversed" not in po(project, "ledger").read_text()


def test_a_fuzzy_translation_fails_the_check(project):
    update(project, ["az"])
    translate(po(project, "accounts"), "Points balance", "Bal balansı", fuzzy=True)
    assert missing_translations(project, ["az"])["accounts/locale/az/LC_MESSAGES/django.po"] == [
        "Points balance (fuzzy)"
    ]


def test_a_string_moved_to_another_app_keeps_its_translation(project):
    update(project, ["az", "ru"])
    translate(po(project, "accounts"), "Points balance", "Bal balansı")
    translate(po(project, "accounts", "ru"), "Points balance", "Баланс баллов")
    # the string moves from accounts to ledger
    write(
        project / "accounts" / "models.py",
        'from django.utils.translation import gettext_lazy as _\n\nLABEL = _("Member")\n',
    )
    with (project / "ledger" / "services.py").open("a") as source:
        source.write('\n\nLABEL = _("Points balance")\n')
    filled = update(project, ["az", "ru"])
    assert filled >= 2
    assert 'msgid "Points balance"\nmsgstr "Bal balansı"' in po(project, "ledger").read_text()
    assert 'msgid "Points balance"\nmsgstr "Баланс баллов"' in po(project, "ledger", "ru").read_text()
    # and it is only an obsolete entry of accounts now
    accounts = po(project, "accounts").read_text()
    assert '#~ msgid "Points balance"' in accounts
    assert '\nmsgid "Points balance"' not in accounts


def test_a_string_we_share_with_django_takes_djangos_translation(project):
    write(project / "templates" / "admin.html", '{% load i18n %}{% translate "Log out" %}\n')
    update(project, ["ru"])
    assert 'msgid "Log out"\nmsgstr "Выйти"' in (project / "locale/ru/LC_MESSAGES/django.po").read_text()


def test_compiled_catalogues_leave_fuzzy_entries_out(project):
    update(project, ["az"])
    translate(po(project, "accounts"), "Points balance", "Bal balansı")
    translate(po(project, "ledger"), "Refund recorded", "Şübhəli", fuzzy=True)
    compiled = catalogues.compile_all(project, force=True)
    assert po(project, "accounts").with_suffix(".mo") in compiled
    with po(project, "accounts").with_suffix(".mo").open("rb") as handle:
        assert gnu_gettext.GNUTranslations(handle).gettext("Points balance") == "Bal balansı"
    with po(project, "ledger").with_suffix(".mo").open("rb") as handle:
        assert gnu_gettext.GNUTranslations(handle).gettext("Refund recorded") == "Refund recorded"
    # up to date: nothing compiled again
    assert catalogues.compile_all(project) == []
