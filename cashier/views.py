"""The till page (`/cashier/`) and the member's card page (`/card/<token>/`).

Thin interfaces: each view parses a form, calls one service of the owning app (the same services
the REST API calls) and renders the result. Business errors are LoyaltyError subclasses whose
`message` is shown to the cashier as it is; nothing is retried or second-guessed here.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import Member
from checkout.pricing import purchase_quote
from checkout.purchases import purchase_create
from ledger.models import Purchase
from ledger.services import (
    points_redeem,
    purchase_money_returned,
    purchase_refund_preview,
    purchase_refundable,
)
from ledger.services import purchase_refund as ledger_purchase_refund
from loyalty_site.core import i18n
from loyalty_site.core.errors import LoyaltyError

from . import selectors
from .access import till_member_get, till_program_set, till_programs, till_required
from .forms import EnrolForm, MemberLanguageForm, PurchaseForm, RedeemForm, RefundForm, SearchForm
from .qr import qr_svg
from .throttle import throttled


class TillLoginView(auth_views.LoginView):
    template_name = "cashier/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("cashier:home")


class TillLogoutView(auth_views.LogoutView):
    next_page = "cashier:login"


SEARCH_LIMIT = 8  # names shown for a search by name; more asks the cashier to type more


class TillPasswordChangeView(auth_views.PasswordChangeView):
    """A cashier changes their own password on the till (cashiers have no admin)."""

    template_name = "cashier/password.html"

    def get_success_url(self):
        return reverse("cashier:home")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, gettext("Your password is changed."))
        return response


till_password_change = till_required(TillPasswordChangeView.as_view())


def _new_reference(prefix: str) -> str:
    """A receipt / posting reference drawn when a form is shown: 64 random bits (short enough to
    read on a receipt); the ledger's unique constraint per program backs it."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@till_required
def till_home(request):
    programs = list(till_programs(request.user))
    form = SearchForm(request.GET or None)
    results, more = None, False
    if request.program is not None and form.is_valid():
        query = form.cleaned_data["q"]
        member = account_selectors.member_find(program=request.program, query=query)
        if member is not None:
            return redirect("cashier:member", member_id=member.pk)
        results, more = selectors.member_search(program=request.program, query=query, limit=SEARCH_LIMIT)
        if len(results) == 1 and not more:
            return redirect("cashier:member", member_id=results[0].pk)
        if not results:
            form.add_error("q", gettext("No member found for “%(query)s”.") % {"query": query})
    return render(
        request,
        "cashier/home.html",
        {
            "programs": programs,
            "program": request.program,
            "form": form,
            "results": results,
            "more": more,
            "enrol_form": EnrolForm(),
        },
    )


@till_required
@require_POST
def member_language(request, member_id):
    """The member's preferred language (the card page and messages), changed at the till."""
    if request.program is None:
        return redirect("cashier:home")
    member = till_member_get(request.program, member_id)
    form = MemberLanguageForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("language", [])))
    else:
        try:
            account_services.member_update(member=member, data={"language": form.cleaned_data["language"]})
        except LoyaltyError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, translation.gettext("Language saved."))
    return redirect("cashier:member", member_id=member.pk)


@till_required
@require_POST
def program_choose(request):
    till_program_set(request, request.POST.get("program"))
    return redirect("cashier:home")


@till_required
def member_enrol(request):
    if request.program is None:
        return redirect("cashier:home")
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member = account_services.member_create(
                program=request.program,
                at=timezone.now(),
                phone=data["phone"] or None,
                email=data["email"] or None,
                first_name=data["first_name"],
                last_name=data["last_name"],
                birth_date=data["birth_date"],
                referred_by=data["referred_by"] or None,
                language=data["language"],
            )
        except LoyaltyError as error:
            _form_error(form, error)
        else:
            messages.success(
                request,
                gettext("%(member)s is enrolled. Card number %(card)s.")
                % {"member": member, "card": member.card_number},
            )
            return redirect("cashier:member", member_id=member.pk)
    return render(request, "cashier/enrol.html", {"program": request.program, "form": form})


def _form_error(form, error: LoyaltyError) -> None:
    """A service's refusal on the form, once: on the field it names (with the error's message, the
    most specific sentence), else above the form."""
    fields = [field for field in (error.fields or {}) if field in form.fields]
    if fields:
        form.add_error(fields[0], error.message)
    else:
        form.add_error(None, error.message)


def _member_context(request, member: Member, **extra):
    at = timezone.now()
    context = selectors.member_card(member=member, at=at, entries=8)
    context.update(
        {
            "program": request.program,
            "coupons": selectors.member_usable_coupons(member=member, at=at),
            "purchases": selectors.member_recent_purchases(member=member, limit=5),
            "purchase_form": PurchaseForm(
                initial={
                    "currency": member.program.base_currency,
                    "redeem_points": 0,
                    "external_id": _new_reference("till"),
                }
            ),
            "redeem_form": RedeemForm(initial={"reference": _new_reference("till-redeem")}),
            "refund_reference": _new_reference("till-refund"),
            "search_form": SearchForm(),
            "language_form": MemberLanguageForm(initial={"language": member.language}),
        }
    )
    context.update(extra)
    return context


def _panel(request, member: Member, *, status: int = 200, **extra):
    """The member panel; `extra` replaces parts of its context (a bound form with its errors)."""
    return render(request, "cashier/member.html", _member_context(request, member, **extra), status=status)


def _refused(request, member: Member, error: LoyaltyError, **forms):
    """A service refused the cashier's form: its message once, on the form; panel again (422)."""
    for form in forms.values():
        form.add_error(None, error.message)
    return _panel(request, member, status=422, **forms)


def _pricing_input(data: dict) -> dict:
    """The PurchaseForm's fields that the quote and the purchase price alike."""
    return {
        "amount": data["amount"],
        "currency": data["currency"],
        "coupon_code": data["coupon_code"],
        "redeem_points": data["redeem_points"],
    }


@till_required
def member_panel(request, member_id):
    if request.program is None:
        return redirect("cashier:home")
    member = till_member_get(request.program, member_id)
    return _panel(request, member)


@till_required
@require_POST
def member_quote(request, member_id):
    """Live quote while the cashier types: changes nothing; JSON for the page's script."""
    if request.program is None:
        return JsonResponse(
            {"error": {"code": "invalid", "message": gettext("Choose a program first.")}}, status=400
        )
    member = till_member_get(request.program, member_id)
    form = PurchaseForm(request.POST)
    if not form.is_valid():
        return JsonResponse(
            {"error": {"code": "invalid", "message": gettext("Check the purchase."), "fields": form.errors}},
            status=400,
        )
    try:
        quote = purchase_quote(member=member, at=timezone.now(), **_pricing_input(form.cleaned_data))
    except LoyaltyError as error:
        return JsonResponse(error.as_dict(), status=error.status)
    return JsonResponse(quote.as_dict())  # the API's shape (API.md `POST /purchases/quote/`)


@till_required
@require_POST
def member_purchase(request, member_id):
    if request.program is None:
        return redirect("cashier:home")
    member = till_member_get(request.program, member_id)
    form = PurchaseForm(request.POST)
    if not form.is_valid():
        return _panel(request, member, status=400, purchase_form=form)
    data = form.cleaned_data
    try:
        result = purchase_create(
            member=member,
            external_id=data["external_id"] or _new_reference("till"),
            at=timezone.now(),
            **_pricing_input(data),
        )
    except LoyaltyError as error:
        return _refused(request, member, error, purchase_form=form)
    purchase = result.purchase
    messages.success(
        request,
        gettext(
            "Purchase recorded: %(amount)s %(currency)s due, +%(earned)s points, -%(redeemed)s points. "
            "Balance %(balance)s points."
        )
        % {
            "amount": formats.localize(purchase.amount_due),
            "currency": purchase.currency,
            "earned": purchase.points_earned,
            "redeemed": purchase.points_redeemed,
            "balance": result.member.balance,
        },
    )
    return redirect("cashier:member", member_id=member.pk)


@till_required
@require_POST
def member_redeem(request, member_id):
    if request.program is None:
        return redirect("cashier:home")
    member = till_member_get(request.program, member_id)
    form = RedeemForm(request.POST)
    if not form.is_valid():
        return _panel(request, member, status=400, redeem_form=form)
    description = form.cleaned_data["description"]
    if not description:
        with i18n.for_member(member):  # the member reads it on the card
            description = gettext("Till: %(cashier)s") % {"cashier": request.user}
    try:
        points_redeem(
            member=member,
            points=form.cleaned_data["points"],
            at=timezone.now(),
            reference=form.cleaned_data["reference"],
            description=description,
        )
    except LoyaltyError as error:
        return _refused(request, member, error, redeem_form=form)
    member.refresh_from_db()
    points = form.cleaned_data["points"]
    messages.success(
        request,
        ngettext(
            "%(points)s point redeemed. Balance %(balance)s points.",
            "%(points)s points redeemed. Balance %(balance)s points.",
            points,
        )
        % {"points": points, "balance": member.balance},
    )
    return redirect("cashier:member", member_id=member.pk)


def _refund_page(request, purchase: Purchase, form: RefundForm, *, status: int = 200, error=None):
    """The refund's confirmation: what it hands back (money and points) before anything is
    written, from the ledger's own preview of the refund. A refusal is shown once, on the form."""
    preview = None
    if error is not None:
        _form_error(form, error)
    elif form.is_valid():
        try:
            preview = purchase_refund_preview(purchase=purchase, amount=form.cleaned_data["amount"])
        except LoyaltyError as refused:
            _form_error(form, refused)
            status = 422
    context = {
        "program": request.program,
        "purchase": purchase,
        "member": purchase.member,
        "refundable": purchase_refundable(purchase),
        "money_returned": purchase_money_returned(purchase),
        "preview": preview,
        "form": form,
    }
    return render(request, "cashier/refund.html", context, status=status)


@till_required
def purchase_refund(request, purchase_id):
    """GET: the refund's preview (`?amount=`, empty for all that is left) with a Confirm button.
    POST: the refund itself; the member panel then says what was handed back."""
    if request.program is None:
        return redirect("cashier:home")
    purchase = get_object_or_404(
        Purchase.objects.select_related("member", "member__program"), pk=purchase_id, program=request.program
    )
    member = purchase.member
    if request.method != "POST":
        data = {"amount": request.GET.get("amount", ""), "reference": _new_reference("till-refund")}
        return _refund_page(request, purchase, RefundForm(data))
    form = RefundForm(request.POST)
    if not form.is_valid():
        return _refund_page(request, purchase, form, status=400)
    try:
        posting = ledger_purchase_refund(
            purchase=purchase,
            amount=form.cleaned_data["amount"],
            at=timezone.now(),
            reference=form.cleaned_data["reference"],
        )
    except LoyaltyError as error:
        purchase.refresh_from_db()
        return _refund_page(request, purchase, form, status=422, error=error)
    member.refresh_from_db()
    data = posting.data or {}
    money = data.get("money_returned")
    points = {
        "reversed": data.get("points_reversed", 0),
        "returned": data.get("points_returned", 0),
        "balance": member.balance,
    }
    if money is not None:
        text = gettext(
            "Refund recorded: hand back %(money)s %(currency)s. %(reversed)s points reversed, "
            "%(returned)s points returned. Balance %(balance)s points."
        ) % {"money": formats.localize(Decimal(str(money))), "currency": purchase.currency, **points}
    else:
        text = (
            gettext(
                "Refund recorded: %(reversed)s points reversed, %(returned)s points returned. "
                "Balance %(balance)s points."
            )
            % points
        )
    messages.success(request, text)
    return redirect("cashier:member", member_id=member.pk)


# --- the member's card -----------------------------------------------------------------------------


@throttled(scope="card", rate=60, period=60)
def card_page(request, token):
    """A member's card: no login (the 192-bit token is the secret), throttled per client address.
    Unknown token -> 404; the page is never cached by shared caches (it shows a balance)."""
    member = get_object_or_404(Member.objects.select_related("program", "tier"), card_token=token)
    # in the member's language (else the program's), whatever the browser asks for
    with i18n.for_member(member):
        at = timezone.now()
        context = selectors.member_card(member=member, at=at, entries=10)
        context.update(
            {
                "coupons": selectors.member_usable_coupons(member=member, at=at),
                "points_at_risk": selectors.member_points_at_risk(member=member, at=at),
                "next_tier": selectors.member_next_tier(member=member, progress=context["progress"]),
                "ways_to_earn": selectors.program_ways_to_earn(member=member, at=at),
            }
        )
        path = reverse("cashier:card", args=[member.card_token])
        base = getattr(settings, "PUBLIC_BASE_URL", "")
        card_url = f"{base.rstrip('/')}{path}" if base else request.build_absolute_uri(path)
        context["qr_svg"] = qr_svg(card_url)
        response = render(request, "card/card.html", context)
        response["Content-Language"] = translation.get_language()
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


@throttled(scope="card", rate=60, period=60)
def card_manifest(request, token):
    """The card's web app manifest: added to a phone's home screen, the card opens as an app at
    this member's card page. Icons are static files (hashed and served by WhiteNoise in production)."""
    member = get_object_or_404(Member.objects.select_related("program"), card_token=token)
    with i18n.for_member(member):  # the app's name in the member's language
        path = reverse("cashier:card", args=[member.card_token])
        icon = "cashier/icons/{}".format
        manifest = {
            "name": gettext("%(program)s card") % {"program": member.program.name},
            "short_name": member.program.name[:12],
            "start_url": path,
            "scope": path,
            "display": "standalone",
            "background_color": "#f4f6f9",
            "theme_color": "#1f5fbf",
            "icons": [
                {"src": static(icon("icon-192.png")), "sizes": "192x192", "type": "image/png"},
                {"src": static(icon("icon-512.png")), "sizes": "512x512", "type": "image/png"},
                {
                    "src": static(icon("maskable-512.png")),
                    "sizes": "512x512",
                    "type": "image/png",
                    "purpose": "maskable",
                },
            ],
        }
    response = JsonResponse(manifest, content_type="application/manifest+json")
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
