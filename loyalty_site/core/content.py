"""Merchant content per language (issue 19): tier, reward and campaign names and descriptions,
campaign reward messages, daily task names and notification templates.

Storage: django-modeltranslation (each app's `translation.py`) adds one column per language next to
the plain one: `name_az`, `name_ru`, `name_kk`, `name_en` beside `name`. The plain column holds the
version in the program's default language (`Program.default_language`, a code of settings.LANGUAGES),
so whatever reads it without knowing of languages (search, exports, SQL) reads the program's own text:
`content_fill_default` / `content_sync_plain` keep it so on every save, and
`plain_columns_sync` when the program's default language changes (the program admin). Code that
writes only the plain field (`Tier(name="Gold")`, an API that knows one language) writes the
default-language version.

Reading: `text(obj, "name", member=member)` is what a member reads: their language, else the
program's default, else any version that is not empty. `text(obj, "name", language="ru")` is the same
for a reader of a language (API lists by Accept-Language). On a model instance, the plain attribute
(`tier.name`) is modeltranslation's: the active language's version, else any (staff pages).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from modeltranslation.translator import NotRegistered, translator

from loyalty_site.core.i18n import member_language, program_language, supported


def languages() -> list[str]:
    return [code for code, _label in settings.LANGUAGES]


def translated_fields(model) -> tuple[str, ...]:
    """The fields of `model` that have a version per language (empty when it has none)."""
    try:
        registered = translator.get_options_for_model(model).fields
    except NotRegistered:
        return ()
    return tuple(field.name for field in model._meta.fields if field.name in registered)


def program_of(obj):
    """The program whose default language `obj`'s content falls back to (a campaign reward's is its
    campaign's), or None when it has none yet."""
    if hasattr(obj, "program_id"):
        return obj.program if obj.program_id else None
    if hasattr(obj, "campaign_id"):
        return program_of(obj.campaign) if obj.campaign_id else None
    return None


def version(obj, field: str, language: str) -> str:
    """`obj`'s version of `field` in `language`, "" when it has none."""
    return getattr(obj, f"{field}_{language}", None) or ""


def versions(obj, field: str) -> dict[str, str]:
    return {language: version(obj, field, language) for language in languages()}


def _order(first: str | None, default: str) -> list[str]:
    order = [first] if first else []
    order.append(default)
    order.extend(languages())
    return list(dict.fromkeys(order))


def first_language(obj, field: str, *, language: str | None = None, program=None) -> str | None:
    """The language `text` would read `field` in for a reader of `language`: that one, else the
    program's default, else the first with a version; None when no version has text."""
    program = program if program is not None else program_of(obj)
    for code in _order(supported(language), program_language(program)):
        if version(obj, field, code):
            return code
    return None


def text(obj, field: str, *, member=None, language: str | None = None, program=None) -> str:
    """The text of `obj`'s `field` for `member` (their language) or for a reader of `language`: that
    version, else the version in the program's default language, else the first other non-empty one
    (settings.LANGUAGES order), else the plain column. `program`: obj's program when the caller has
    it loaded (saves a query)."""
    if obj is None:
        return ""
    if program is None and member is not None:
        program = member.program  # the member's content is their program's (no query per row)
    program = program if program is not None else program_of(obj)
    default = program_language(program)
    if member is not None:
        language = member_language(member, program=program)
    for code in _order(supported(language), default):
        value = version(obj, field, code)
        if value:
            return value
    return obj.__dict__.get(field) or ""


def content_fill_default(sender, instance, raw=False, **kwargs) -> None:
    """pre_save of a model with content per language: a version written only through the plain
    field (in whatever language was active) becomes the program's default-language version when that
    one is empty; the plain column is then written from the default-language version."""
    fields = translated_fields(sender)
    if not fields or raw:
        return
    default = program_language(program_of(instance))
    for field in fields:
        if not version(instance, field, default):
            written = instance.__dict__.get(field)
            if written:
                setattr(instance, f"{field}_{default}", written)
    instance._content_default = default


def content_sync_plain(sender, instance, created=False, raw=False, update_fields=None, **kwargs) -> None:
    """post_save: the plain column holds the default-language version. Saving writes the plain
    column from modeltranslation's descriptor (the active language's version); when that differs
    from the default-language version, one UPDATE puts the right text there."""
    fields = translated_fields(sender)
    default = getattr(instance, "_content_default", None)
    if not fields or raw or default is None:
        return
    wrong = {}
    for field in fields:
        if update_fields is not None and not (
            {field, *(f"{field}_{c}" for c in languages())} & update_fields
        ):
            continue
        wanted = text(instance, field, language=default)
        stored = getattr(instance, field)  # what the save wrote: same language, same descriptor
        if stored != wanted:
            wrong[field] = wanted
    if wrong:
        # a plain QuerySet: modeltranslation's manager would rewrite `name` to the active language
        models.QuerySet(model=sender).filter(pk=instance.pk).update(**wrong)
    for field in fields:
        instance.__dict__[field] = text(instance, field, language=default)


def content_signals_connect() -> None:
    """Connects the two receivers to every model registered with modeltranslation."""
    from django.db.models.signals import post_save, pre_save

    for model in translator.get_registered_models(abstract=False):
        pre_save.connect(content_fill_default, sender=model, dispatch_uid=f"content_fill_{model._meta.label}")
        post_save.connect(content_sync_plain, sender=model, dispatch_uid=f"content_sync_{model._meta.label}")


def localized(values: dict, **format_args) -> dict:
    """Model keyword arguments from preset values: a value given as `{language: text}` becomes one
    column per language (`name_az`, ...; formatted with `format_args` when given), others pass as
    they are."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict) and value and set(value) <= set(languages()):
            for code, text_ in value.items():
                out[f"{key}_{code}"] = text_.format(**format_args) if format_args else text_
        else:
            out[key] = value
    return out


def plain_columns_sync(*, program) -> int:
    """After `program`'s default language changed: every plain column of its content takes the
    version in the new default language (where it has one), so the rule "the plain column is the
    default-language version" holds again. Returns the rows updated. One UPDATE per model and field,
    plain QuerySets (no rewriting of field names)."""
    from django.db.models import F

    default = program_language(program)
    updated = 0
    for model in translator.get_registered_models(abstract=False):
        lookup = "program" if hasattr(model, "program_id") else "campaign__program"
        for field in translated_fields(model):
            column = f"{field}_{default}"
            updated += (
                models.QuerySet(model=model)
                .filter(**{lookup: program})
                .exclude(**{f"{column}__isnull": True})
                .exclude(**{column: ""})
                .update(**{field: F(column)})
            )
    return updated
