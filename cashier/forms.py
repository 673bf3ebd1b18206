from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from loyalty_site.core.money import MAX_AMOUNT
from loyalty_site.core.strict_input import AMOUNT_MESSAGE, POINTS_MESSAGE, amount_text, points_text


class AmountField(forms.DecimalField):
    """Money typed at the till: plain ASCII digits (Decimal alone also reads "1_000" and "1e3")."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if amount_text(str(value)) is None:
            raise forms.ValidationError(AMOUNT_MESSAGE, code="invalid")
        return super().to_python(value)


class PointsField(forms.IntegerField):
    """Points typed at the till: plain ASCII digits (int alone also reads "1_000" and "١٠")."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if points_text(str(value)) is None:
            raise forms.ValidationError(POINTS_MESSAGE, code="invalid")
        return super().to_python(value)


class SearchForm(forms.Form):
    q = forms.CharField(
        max_length=300,
        label=_("Phone, card number or QR"),
        help_text=_("Type, scan with a barcode scanner, or use the camera."),
    )


class PurchaseForm(forms.Form):
    amount = AmountField(
        min_value=Decimal("0.01"), max_value=MAX_AMOUNT, max_digits=14, decimal_places=2, label=_("Amount")
    )
    currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$",
        max_length=3,
        label=_("Currency"),
        error_messages={"invalid": _("Use a 3-letter currency code.")},
    )
    coupon_code = forms.CharField(max_length=64, required=False, label=_("Coupon"))
    redeem_points = PointsField(
        min_value=0, max_value=10**9, required=False, initial=0, label=_("Points to redeem")
    )
    # Drawn when the form is shown: a double click or a resubmitted page repeats the same receipt,
    # which purchase_create answers with the original purchase instead of a second one.
    external_id = forms.CharField(max_length=100, widget=forms.HiddenInput, required=False)

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()

    def clean_coupon_code(self):
        return (self.cleaned_data.get("coupon_code") or "").strip() or None

    def clean_redeem_points(self):
        return self.cleaned_data.get("redeem_points") or 0


class RedeemForm(forms.Form):
    points = PointsField(min_value=1, max_value=10**9, label=_("Points"))
    description = forms.CharField(max_length=200, required=False, label=_("What for"))
    reference = forms.CharField(max_length=100, widget=forms.HiddenInput)


class RefundForm(forms.Form):
    amount = AmountField(
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        max_digits=14,
        decimal_places=2,
        required=False,
        label=_("Refund amount"),
    )
    reference = forms.CharField(max_length=100, widget=forms.HiddenInput)


def member_language_choices():
    """A member's language at the till: one of ours, or the program's default (empty)."""
    return [("", gettext_lazy("Program default")), *settings.LANGUAGES]


class MemberLanguageForm(forms.Form):
    language = forms.ChoiceField(
        choices=member_language_choices, required=False, label=gettext_lazy("Language")
    )


class EnrolForm(forms.Form):
    phone = forms.CharField(max_length=32, required=False, label=_("Phone"))
    email = forms.EmailField(required=False, label=_("Email"))
    first_name = forms.CharField(max_length=100, required=False, label=_("First name"))
    last_name = forms.CharField(max_length=100, required=False, label=_("Last name"))
    birth_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label=_("Birth date")
    )
    referred_by = forms.CharField(max_length=16, required=False, label=_("Referral code"))
    language = forms.ChoiceField(
        choices=member_language_choices, required=False, label=gettext_lazy("Language")
    )

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("phone") or cleaned.get("email")):
            raise forms.ValidationError(_("Give a phone number or an email."))
        return cleaned
