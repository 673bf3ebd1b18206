from decimal import Decimal

from django import forms

from loyalty_site.core.money import MAX_AMOUNT


class SearchForm(forms.Form):
    q = forms.CharField(
        max_length=300,
        label="Phone, card number or QR",
        help_text="Type, scan with a barcode scanner, or use the camera.",
    )


class PurchaseForm(forms.Form):
    amount = forms.DecimalField(
        min_value=Decimal("0.01"), max_value=MAX_AMOUNT, max_digits=14, decimal_places=2
    )
    currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$", max_length=3, error_messages={"invalid": "Use a 3-letter code."}
    )
    coupon_code = forms.CharField(max_length=64, required=False, label="Coupon")
    redeem_points = forms.IntegerField(
        min_value=0, max_value=10**9, required=False, initial=0, label="Points to redeem"
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
    points = forms.IntegerField(min_value=1, max_value=10**9)
    description = forms.CharField(max_length=200, required=False)
    reference = forms.CharField(max_length=100, widget=forms.HiddenInput)


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        min_value=Decimal("0.01"), max_value=MAX_AMOUNT, max_digits=14, decimal_places=2, required=False
    )
    reference = forms.CharField(max_length=100, widget=forms.HiddenInput)


class EnrolForm(forms.Form):
    phone = forms.CharField(max_length=32, required=False)
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    birth_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    referred_by = forms.CharField(max_length=16, required=False, label="Referral code")

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("phone") or cleaned.get("email")):
            raise forms.ValidationError("Give a phone number or an email.")
        return cleaned
