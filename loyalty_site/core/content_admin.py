"""The admin of merchant content per language (loyalty_site/core/content.py): a field's versions are
edited side by side, one row per field (name [az] | name [ru] | name [kk] | name [en]), and the version
in the program's default language is required where the field itself is (a tier's name, a template's
body), whatever the staff member's own language is. Search looks in every version."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from modeltranslation.admin import TranslationAdmin, TranslationTabularInline
from modeltranslation.fields import TranslationField

from loyalty_site.core.content import languages, translated_fields
from loyalty_site.core.i18n import program_language


def _program_from_form(form):
    program = form.cleaned_data.get("program")
    if program is None:
        try:
            program = form.instance.program
        except Exception:  # noqa: BLE001 - no program chosen yet: the program field reports it
            return None
    return program


class ContentForm(forms.ModelForm):
    """Requires the default-language version of each content field the model requires (blank=False)."""

    def clean(self):
        cleaned = super().clean()
        program = _program_from_form(self)
        if program is None:
            return cleaned
        default = program_language(program)
        language_name = dict(settings.LANGUAGES)[default]
        for field in translated_fields(self._meta.model):
            if self._meta.model._meta.get_field(field).blank:
                continue
            name = f"{field}_{default}"
            if name in self.fields and not cleaned.get(name) and name not in self.errors:
                self.add_error(
                    name,
                    gettext("Give the %(language)s version: it is the program's default language.")
                    % {"language": language_name},
                )
        return cleaned


def _side_by_side(names, model) -> list:
    """`names` with the versions of each content field gathered into one row (a tuple)."""
    rows: list = []
    groups: dict[str, list[str]] = {}
    for name in names:
        base = next(
            (field for field in translated_fields(model) if name in {f"{field}_{c}" for c in languages()}),
            None,
        )
        if base is None or isinstance(name, tuple):
            rows.append(name)
            continue
        if base not in groups:
            groups[base] = []
            rows.append(groups[base])
        groups[base].append(name)
    return [tuple(row) if isinstance(row, list) else row for row in rows]


class ContentAdminMixin(TranslationAdmin):
    """Mix into a ScopedAdmin (after it): `class TierAdmin(ScopedAdmin, ContentAdminMixin)`."""

    form = ContentForm

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and isinstance(db_field, TranslationField):
            # modeltranslation requires the site's default language; ours is per program (ContentForm)
            field.required = False
        return field

    def get_fieldsets(self, request, obj=None):
        return [
            (title, {**options, "fields": _side_by_side(list(options.get("fields", ())), self.model)})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def get_search_fields(self, request):
        fields = []
        for name in super().get_search_fields(request):
            if name in translated_fields(self.model):
                fields.extend(f"{name}_{code}" for code in languages())
            else:
                fields.append(name)
        return fields


class ContentTabularInline(TranslationTabularInline):
    """Mix into a ScopedTabularInline: each version is a column."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and isinstance(db_field, TranslationField):
            field.required = False
        return field
