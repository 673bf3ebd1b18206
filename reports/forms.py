from datetime import UTC, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Program

MAX_RANGE_DAYS = 366


class ReportFilterForm(forms.Form):
    program = forms.ModelChoiceField(
        label=_("Program"), queryset=Program.objects.none(), required=False, empty_label=_("All my programs")
    )
    since = forms.DateField(label=_("Since"), widget=forms.DateInput(attrs={"type": "date"}), required=False)
    until = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}), required=False)

    def __init__(self, *args, programs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs

    def clean(self):
        cleaned = super().clean()
        programs = (
            [cleaned["program"]] if cleaned.get("program") else list(self.fields["program"].queryset[:2])
        )
        # "today" in the zone the report counts days in: the program's, or UTC across programs
        zone = programs[0].tz if len(programs) == 1 else UTC
        today = timezone.localdate(timezone=zone)
        until = cleaned.get("until") or today
        since = cleaned.get("since") or until - timedelta(days=29)
        if since > until:
            raise forms.ValidationError(_("The start must not be after the end."))
        if (until - since).days >= MAX_RANGE_DAYS:
            raise forms.ValidationError(
                ngettext("Choose at most %(days)s day.", "Choose at most %(days)s days.", MAX_RANGE_DAYS)
                % {"days": MAX_RANGE_DAYS}
            )
        cleaned["since"], cleaned["until"] = since, until
        return cleaned


class EventLogFilterForm(ReportFilterForm):
    type = forms.CharField(label=_("Type"), required=False, max_length=32)
    member = forms.CharField(
        label=_("Member"), required=False, max_length=100, help_text=_("Id, card number, phone or email.")
    )
    campaign = forms.CharField(
        label=_("Campaign"), required=False, max_length=48, help_text=_("Campaign id or code.")
    )


class ImportForm(forms.Form):
    program = forms.ModelChoiceField(label=_("Program"), queryset=Program.objects.none())
    file = forms.FileField(label=_("File"), help_text=_("CSV with a header row; UTF-8."))

    def __init__(self, *args, programs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs
