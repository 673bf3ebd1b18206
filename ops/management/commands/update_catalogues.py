"""`manage.py update_catalogues`: extract every translatable string of the project into its catalogue
and fill what it can from the translations the project already has; `--check` lists what is missing.

* Django's makemessages for az, ru, kk, run once from the project root for the `django` domain
  (Python and templates) and once for `djangojs` (our apps' JavaScript, vendor code left out). Every
  app of ours gets `<app>/locale/` first, so its strings land there; `templates/` and `loyalty_site/`
  land in the root `locale/` (LOCALE_PATHS).
* msgmerge runs without fuzzy matching: a new or changed string stays untranslated (and fails the
  catalogue test) instead of borrowing a near miss marked fuzzy.
* Then every untranslated entry takes the exact translation any catalogue of the project has for
  the same msgid (a compendium of all of them, obsolete `#~` entries included, as they were before
  the run and after, and Django's own catalogues last), so a string that moves between apps keeps
  its translation and one we share with Django takes Django's.
* Last, the catalogues are compiled (Babel, loyalty_site/core/catalogues.py).

`--check` does the extraction in a temporary copy of the sources, leaves the project alone, and
exits 1 listing every string that has no translation or a fuzzy one, per catalogue.
Needs GNU gettext (xgettext, msgmerge, msgattrib, msgcat): `make gettext`.
"""

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import django
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands.makemessages import Command as MakeMessages
from django.test.utils import override_settings

from loyalty_site.core import catalogues


@contextmanager
def _cwd(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def project_apps(base: Path) -> list[str]:
    """Folder names of our installed apps (top-level folders of the project)."""
    names = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.parent == base.resolve() and path.name != "loyalty_site":
            names.append(path.name)
    return sorted(names)


def extract(base: Path, languages: list[str], verbosity: int = 0) -> None:
    """makemessages for both domains over the project at `base`."""
    for app in project_apps(settings.BASE_DIR):
        if (base / app).is_dir():
            (base / app / "locale").mkdir(exist_ok=True)
    (base / "locale").mkdir(exist_ok=True)
    with (
        _cwd(base),
        override_settings(LOCALE_PATHS=[str(base / "locale")], STATIC_ROOT=str(base / "staticfiles")),
    ):
        for domain in ("django", "djangojs"):
            command = MakeMessages()
            command.msgmerge_options = [*MakeMessages.msgmerge_options, "--no-fuzzy-matching"]
            call_command(
                command,
                locale=languages,
                domain=domain,
                ignore_patterns=list(catalogues.IGNORE_PATTERNS),
                verbosity=verbosity,
            )
            # makemessages leaves no .pot behind (keep_pot is off); nothing else to clean


def django_catalogues(language: str) -> list[Path]:
    """Django's own catalogues of `language` (core and contrib): last in the compendium, so a string
    we share with Django ("Django administration", language names) takes Django's translation."""
    root = Path(django.__file__).parent
    found = [*root.glob(f"conf/locale/{language}/LC_MESSAGES/*.po")]
    found += sorted(root.glob(f"contrib/*/locale/{language}/LC_MESSAGES/*.po"))
    return found


def fill(base: Path, languages: list[str], snapshots: dict[str, Path]) -> int:
    """Fill untranslated entries from the project's compendium; returns how many were filled."""
    filled = 0
    with tempfile.TemporaryDirectory() as tmp:
        for language in languages:
            files = [po for po in catalogues.po_files(base) if po.parent.parent.name == language]
            sources = files + ([snapshots[language]] if language in snapshots else [])
            sources += django_catalogues(language)
            compendium = Path(tmp) / f"{language}.po"
            if not files or not catalogues.build_compendium(sources, compendium):
                continue
            for po in files:
                before = len(catalogues.untranslated(po))
                catalogues.fill_from_compendium(po, compendium)
                filled += before - len(catalogues.untranslated(po))
    return filled


def update(base: Path, languages: list[str], *, fill_missing: bool = True, verbosity: int = 0) -> int:
    """Extract, fill from the compendium and compile the catalogues of the project at `base`;
    returns how many entries the compendium filled. Raises RuntimeError when gettext is missing."""
    with tempfile.TemporaryDirectory() as tmp:
        snapshots = {}
        for language in languages:
            files = [po for po in catalogues.po_files(base) if po.parent.parent.name == language]
            snapshot = Path(tmp) / f"before-{language}.po"
            if files and catalogues.build_compendium(files, snapshot):
                snapshots[language] = snapshot
        extract(base, languages, verbosity=verbosity)
        filled = fill(base, languages, snapshots) if fill_missing else 0
    catalogues.compile_all(base)
    return filled


def missing_translations(base: Path, languages: list[str]) -> dict[str, list[str]]:
    """A fresh extraction of the sources at `base` into a temporary copy, merged with the committed
    catalogues (nothing filled, nothing guessed): {catalogue: [msgids without a translation or with a
    fuzzy one]}. `base` itself is left alone."""
    ignore = shutil.ignore_patterns("__pycache__", "*.mo", "*.pyc", *catalogues.IGNORE_PATTERNS)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        for child in base.iterdir():
            if (
                child.is_dir()
                and not child.name.startswith(".")
                and child.name not in catalogues.IGNORE_PATTERNS
            ):
                shutil.copytree(child, copy / child.name, ignore=ignore, symlinks=True)
        extract(copy, languages)
        missing = {}
        for po in catalogues.po_files(copy):
            if po.parent.parent.name in languages:
                ids = catalogues.untranslated(po)
                if ids:
                    missing[str(po.relative_to(copy))] = ids
        return missing


class Command(BaseCommand):
    requires_system_checks = []
    help = (
        "Extract the project's translatable strings into <app>/locale/ and locale/ for az, ru, kk, fill "
        "untranslated entries from the translations the project already has, compile. --check: list "
        "what is untranslated or fuzzy (in a temporary copy) and fail if anything is."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="report missing translations, change nothing"
        )
        parser.add_argument(
            "-l",
            "--language",
            action="append",
            dest="languages",
            help="only these languages (repeatable); default az, ru, kk",
        )
        parser.add_argument("--no-fill", action="store_true", help="do not fill from the compendium")

    def handle(self, *args, check=False, languages=None, no_fill=False, verbosity=1, **options):
        languages = languages or list(catalogues.TRANSLATED_LANGUAGES)
        base = Path(settings.BASE_DIR)
        try:
            if check:
                missing = missing_translations(base, languages)
            else:
                filled = update(base, languages, fill_missing=not no_fill, verbosity=max(0, verbosity - 1))
        except RuntimeError as error:
            raise CommandError(str(error)) from error
        if check:
            if missing:
                lines = [
                    f"{po}: {len(ids)} untranslated or fuzzy" + "".join(f"\n    {m!r}" for m in ids)
                    for po, ids in missing.items()
                ]
                raise CommandError("Missing translations:\n" + "\n".join(lines))
            if verbosity:
                self.stdout.write("Every string has a translation in " + ", ".join(languages) + ".")
            return
        if verbosity:
            for po in catalogues.po_files(base):
                if po.parent.parent.name in languages:
                    left = catalogues.untranslated(po)
                    if left:
                        self.stdout.write(f"{po.relative_to(base)}: {len(left)} untranslated or fuzzy")
            self.stdout.write(f"Filled {filled} from the compendium; catalogues compiled.")
