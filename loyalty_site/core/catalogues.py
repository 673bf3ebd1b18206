"""Translation catalogues: where they live, compiling them, and the gettext tooling around makemessages.

Layout (docs: /README.md "Languages"):

* every app of ours keeps its strings in ``<app>/locale/<lang>/LC_MESSAGES/django.po`` (and
  ``djangojs.po`` for the app's JavaScript under ``<app>/static/``);
* the project-level ``templates/`` and ``loyalty_site/`` (core) use the root ``locale/`` (LOCALE_PATHS);
* the ``.po`` files are committed, the compiled ``.mo`` files are not (``.gitignore``).

Compiling is pure Python (Babel), so a fresh machine needs no GNU gettext to *run* the platform:
``make install`` / ``make install-test`` run ``python -P loyalty_site/core/catalogues.py`` (by path: the
package would load the Django settings) and the test
session compiles stale catalogues itself (tests/conftest.py). This module imports no Django settings
for that reason. Extracting strings (``manage.py update_catalogues``) uses Django's makemessages,
which needs GNU gettext (xgettext, msgmerge); ``make gettext`` installs it, as ``make chromium`` does
the browser.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent

#: The languages we translate into. English is the source language: its strings are the msgids, so
#: it has no catalogue of its own (a missing English msgstr would show the msgid anyway).
TRANSLATED_LANGUAGES = ("az", "ru", "kk")

#: Folders never scanned for strings (relative names or fnmatch patterns, makemessages' semantics).
IGNORE_PATTERNS = [
    "tests",
    "bench",
    "docs",
    "artifacts",
    "staticfiles",
    "migrations",
    "vendor",
    "node_modules",
    "manage.py",
    "gunicorn.conf.py",
]


#: Translations of Django's own strings that Django's catalogue of a language lacks (its Kazakh admin,
#: auth and contenttypes catalogues leave about a hundred strings untranslated): a LOCALE_PATHS folder
#: outside the ones `update_catalogues` extracts into (nothing of ours to extract there), compiled
#: with them. Only strings Django leaves untranslated belong here.
SUPPLEMENT_DIR = "locale_django"


def catalogue_dirs(base: Path = BASE_DIR) -> list[Path]:
    """Every ``locale/`` folder of the project: the root one and one per app (top-level folders)."""
    dirs = [base / "locale"] if (base / "locale").is_dir() else []
    for child in sorted(base.iterdir()):
        if child.is_dir() and not child.name.startswith(".") and (child / "locale").is_dir():
            dirs.append(child / "locale")
    return dirs


def po_files(base: Path = BASE_DIR) -> Iterator[Path]:
    for locale_dir in catalogue_dirs(base):
        yield from sorted(locale_dir.glob("*/LC_MESSAGES/*.po"))


def _stale(po: Path, mo: Path) -> bool:
    try:
        return mo.stat().st_mtime < po.stat().st_mtime
    except FileNotFoundError:
        return True


def compile_po(po: Path, mo: Path | None = None) -> Path:
    """Compile one catalogue with Babel; fuzzy entries are left out (as msgfmt does). The .mo is
    written next to a temporary name and renamed, so concurrent compilers (xdist workers) never
    read a half-written file."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    mo = mo or po.with_suffix(".mo")
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=None, abort_invalid=True)
    fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=".", suffix=".mo.tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog, use_fuzzy=False)
        os.replace(tmp, mo)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return mo


def supplement_po_files(base: Path = BASE_DIR) -> Iterator[Path]:
    yield from sorted((base / SUPPLEMENT_DIR).glob("*/LC_MESSAGES/*.po"))


def compile_all(base: Path = BASE_DIR, force: bool = False) -> list[Path]:
    """Compile every catalogue (ours and the supplement to Django's) whose .mo is missing or older
    than its .po; returns those compiled."""
    files = [*po_files(base), *supplement_po_files(base)]
    return [compile_po(po) for po in files if force or _stale(po, po.with_suffix(".mo"))]


# --- gettext tooling (needs GNU gettext) --------------------------------------------------------------


def _run(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise RuntimeError(
            f"{args[0]} not found: the catalogue tools need GNU gettext (`make gettext` installs it)"
        ) from error
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def build_compendium(files: Iterable[Path], out: Path) -> bool:
    """One .po of every translated, non-fuzzy entry of ``files`` (obsolete ones included: a string
    that left an app lives on there as ``#~``), first translation winning. False when there is none."""
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, po in enumerate(files):
            part = Path(tmp) / f"{index}.po"
            _run(["msgattrib", "--translated", "--no-fuzzy", "--clear-obsolete", "-o", str(part), str(po)])
            if part.exists() and part.stat().st_size:
                parts.append(str(part))
        if not parts:
            return False
        _merge_first_wins(parts, out)
    return out.exists()


def _merge_first_wins(parts: Iterable[str], out: Path) -> None:
    """msgcat --use-first, except that a msgid used with a plural in one catalogue and without in
    another (Django's admin has "entry"/"entries", the ledger a singular "entry") keeps the first
    instead of failing the whole merge."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    merged = Catalog(fuzzy=False)
    for part in parts:
        with open(part, "rb") as handle:
            catalog = read_po(handle)
        for message in catalog:
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, tuple | list) else message.id
            if merged.get(key, context=message.context) is not None:
                continue
            merged[message.id] = message
    with out.open("wb") as handle:
        write_po(handle, merged, omit_header=False, width=0)


def fill_from_compendium(po: Path, compendium: Path) -> None:
    """Give the untranslated entries of ``po`` the translation the compendium has for the same
    msgid (and context); exact matches only, nothing is guessed or marked fuzzy."""
    _run(
        [
            "msgmerge",
            "-q",
            "--update",
            "--backup=none",
            "--previous",
            "--no-fuzzy-matching",
            "--compendium",
            str(compendium),
            str(po),
            str(po),
        ]
    )


def untranslated(po: Path) -> list[str]:
    """The msgids of ``po`` that have no translation or a fuzzy one (obsolete entries ignored)."""
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        catalog = read_po(handle)
    missing = []
    for message in catalog:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if message.fuzzy or not all(strings):
            msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
            missing.append(msgid + (" (fuzzy)" if message.fuzzy else ""))
    return missing


def main(argv: list[str]) -> int:
    force = "--force" in argv
    compiled = compile_all(force=force)
    if "-q" not in argv:
        print(f"compiled {len(compiled)} translation catalogue(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
