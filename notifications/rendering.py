"""A strict rendering of notification templates: the same text as `services.template_render`, but
a variable the context does not have is an error instead of an empty string. The admin preview
shows what a template would miss; the tests render every seeded template with a real event of its
type under it (a tier-change e-mail once read `new_tier` where the event says `to_name`, and every
member got "You are now ")."""

from __future__ import annotations

import re
from typing import Any

from django.template import Context, Engine
from django.utils.translation import gettext

MISSING = "\x00missing:%s\x00"
MISSING_RE = re.compile("\x00missing:(.*?)\x00")

_engine: Engine | None = None


class TemplateVariableMissing(Exception):
    def __init__(self, names: list[str]):
        self.names = names
        super().__init__(gettext("The event has no %(names)s.") % {"names": ", ".join(names)})


def strict_engine() -> Engine:
    """Django's template language with the project's libraries, missing variables marked."""
    global _engine
    if _engine is None:
        _engine = Engine(string_if_invalid=MISSING, autoescape=False)
    return _engine


def missing_variables(text: str, context: dict[str, Any]) -> list[str]:
    """The variables `text` reads that `context` does not have (in order, once each)."""
    rendered = strict_engine().from_string(text).render(Context(context, autoescape=False))
    return list(dict.fromkeys(MISSING_RE.findall(rendered)))


def template_render_strict(*, template, context: dict[str, Any]) -> tuple[str, str]:
    """`services.template_render`, raising TemplateVariableMissing when the subject or the body
    reads a variable `context` does not have."""
    from .services import template_render, template_texts

    subject, body = template_texts(template=template, program=context.get("program"))
    names = missing_variables(subject, context) + missing_variables(body, context)
    if names:
        raise TemplateVariableMissing(list(dict.fromkeys(names)))
    return template_render(template=template, context=context)
