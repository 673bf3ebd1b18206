"""Who sees which language (issue 19).

* A member reads the card page and every notification in `Member.language`, else their program's
  `Program.default_language`, else LANGUAGE_CODE: `member_language(member)`, and
  `with for_member(member): ...` around whatever renders text for them (e-mail, chat, webhook texts
  meant for humans, the card page).
* Staff (admin, till) see the language they chose (`StaffMember.language`, set by the switcher and
  remembered), else their browser's (Accept-Language) — `StaffLanguageMiddleware`.
* API clients get the error `message` in the language of `Accept-Language` (LocaleMiddleware); the
  `code` never changes.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.conf import settings
from django.utils import translation


def language_choices() -> list[tuple[str, str]]:
    """The languages a program, a member or a staff member may choose (settings.LANGUAGES)."""
    return list(settings.LANGUAGES)


def default_language() -> str:
    """A new program's default language: the site's LANGUAGE_CODE (a callable, so migrations don't
    freeze the setting's value)."""
    return settings.LANGUAGE_CODE


def supported(code: str | None) -> str | None:
    """`code` when it is one of our languages (a regional variant like ru-RU maps to ru), else None."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def program_language(program) -> str:
    return supported(getattr(program, "default_language", None)) or settings.LANGUAGE_CODE


def member_language(member) -> str:
    """The member's preferred language, else the program's default, else the site's."""
    return supported(getattr(member, "language", None)) or program_language(member.program)


@contextmanager
def for_member(member):
    """Renders the block in the member's language (translation.override)."""
    with translation.override(member_language(member)):
        yield
