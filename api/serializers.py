"""Input parsing and output shapes of the API. Parsing only: bounds, types and formats; every rule
(phone normalisation, uniqueness, balances, pricing) is in the services the views call.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledger.selectors import member_expiring_lots
from loyalty_site.core import content
from loyalty_site.core.money import MAX_AMOUNT, Money
from loyalty_site.core.strict_input import AMOUNT_MESSAGE, amount_text
from tiers.selectors import member_privileges, member_tier_progress

MAX_POINTS = 1_000_000_000
JSON_POINTS_MESSAGE = _("Use a whole number of points (a JSON integer).")
# A POS clock may run a little ahead of ours; beyond this an occurred_at "in the future" is refused.
CLOCK_SKEW = timedelta(minutes=5)


# --- building blocks -----------------------------------------------------------------------------


class MoneySerializer(serializers.Serializer):
    amount = serializers.CharField(help_text='Decimal string with two places, e.g. "12.50".')
    currency = serializers.CharField(help_text="ISO 4217 code.")


def money(amount: Decimal | int | str, currency: str) -> dict[str, str]:
    return Money(Decimal(amount), currency).as_dict()


class AmountField(serializers.DecimalField):
    """A money amount: > 0, at most 2 decimal places, at most 10^9; a decimal string or a JSON
    number of plain ASCII digits (`core.strict_input`: no "_", exponent or other digits)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            raise serializers.ValidationError(AMOUNT_MESSAGE, code="invalid")
        # a JSON number comes with the text it was written as (`api.parsers`): read that, exactly
        text = getattr(data, "text", None) or (data if isinstance(data, str) else str(data))
        value = amount_text(text)
        if value is None:
            raise serializers.ValidationError(AMOUNT_MESSAGE, code="invalid")
        return super().to_internal_value(str(value))

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", 'Money, a decimal string with at most 2 places, e.g. "100.00".')
        super().__init__(
            max_digits=12,
            decimal_places=2,
            min_value=Decimal("0.01"),
            max_value=MAX_AMOUNT,
            coerce_to_string=True,
            **kwargs,
        )


class CurrencyField(serializers.RegexField):
    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "ISO 4217 code (upper case), e.g. USD.")
        super().__init__(r"^[A-Za-z]{3}$", max_length=3, min_length=3, **kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(data).upper()


class PointsField(serializers.IntegerField):
    """Points: a JSON integer (not a string, a float or a boolean)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError(JSON_POINTS_MESSAGE)
        return super().to_internal_value(data)


def points_field(*, minimum: int = 1, **kwargs) -> serializers.IntegerField:
    return PointsField(min_value=minimum, max_value=MAX_POINTS, **kwargs)


class MemberRefField(serializers.IntegerField):
    """A member id of the calling key's program (another program's id answers 404)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Member id (of this key's program).")
        super().__init__(min_value=1, max_value=2**63 - 1, **kwargs)


class StrictFieldsMixin:
    """Refuse fields the endpoint does not know (a typo must not be silently ignored)."""

    def validate(self, attrs):
        unknown = sorted(set(getattr(self, "initial_data", {}) or {}) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: [gettext("Unknown field; it cannot be set here.")] for name in unknown}
            )
        return super().validate(attrs)


class OccurredAtField(serializers.DateTimeField):
    """When it happened; never in the future (a few minutes of POS clock drift are tolerated and
    counted as now)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "ISO 8601 with offset; default now; never in the future.")
        super().__init__(**kwargs)


def occurred_at_check(value, now):
    if value is None:
        return now
    if value > now + CLOCK_SKEW:
        raise serializers.ValidationError({"occurred_at": [gettext("Cannot be in the future.")]})
    return min(value, now)


# --- members -------------------------------------------------------------------------------------


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class TierProgressSerializer(serializers.Serializer):
    qualifying_points = serializers.IntegerField()
    next_tier = serializers.CharField(allow_null=True, help_text="Code of the next tier, null at the top.")
    points_to_next = serializers.IntegerField(allow_null=True)


class ManagerSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.EmailField(allow_null=True)


class PrivilegesSerializer(serializers.Serializer):
    priority_support = serializers.BooleanField()
    fast_processing = serializers.BooleanField()
    personal_manager = serializers.BooleanField(help_text="The tier includes a personal manager.")
    event_invitations = serializers.BooleanField()
    manager = ManagerSerializer(allow_null=True, help_text="The assigned personal manager, if any.")


class ExpiringSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


def card_url(member, request) -> str:
    try:
        path = reverse("card", args=[member.card_token])
    except NoReverseMatch:
        path = f"/card/{member.card_token}/"
    base = getattr(settings, "PUBLIC_BASE_URL", "")
    if base:
        return base.rstrip("/") + path
    return request.build_absolute_uri(path) if request is not None else path


def validated(serializer_class, data, **kwargs) -> dict:
    """`data` checked by `serializer_class` (400 `invalid` with the fields otherwise): its validated data."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ContentTextField(serializers.CharField):
    """Merchant content (tier, campaign, reward names...; loyalty_site/core/content.py) in the
    language of the request (Accept-Language), else the program's default language, else any: what
    lists of the program's content answer. Answers about one member use `content.text(...,
    member=member)` instead."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return instance

    def to_representation(self, obj):
        program = self.context.get("program")
        return content.text(obj, self.field_name, language=translation.get_language(), program=program)


def tier_ref(tier, member=None) -> dict | None:
    """{"code", "name"}: the name in `member`'s language when given (else the request's)."""
    if tier is None:
        return None
    if member is not None:
        return {"code": tier.code, "name": content.text(tier, "name", member=member, program=member.program)}
    return {"code": tier.code, "name": content.text(tier, "name", language=translation.get_language())}


def tier_progress(member, at) -> dict:
    progress = member_tier_progress(member=member, at=at)
    return {
        "qualifying_points": progress["qualifying_points"],
        "next_tier": progress["next_tier"],
        "points_to_next": progress["points_to_next"],
    }


def expiring_soon(member, at) -> list[dict]:
    """Lots expiring within the program's warning window, soonest first (ledger selector)."""
    lots = member_expiring_lots(member=member, at=at).values_list("remaining", "expires_at")
    return [{"points": remaining, "expires_at": expires_at} for remaining, expires_at in lots]


class MemberSerializer(serializers.Serializer):
    """The API's member object (see the OpenAPI schema). Context: `request`, `at`; lists add
    `tier_progress` and `expiring_soon` maps (member id -> value) computed for the whole page at once."""

    id = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True, help_text="E.164.")
    email = serializers.EmailField(allow_null=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    birth_date = serializers.DateField(allow_null=True)
    language = serializers.CharField(
        allow_blank=True,
        help_text="Preferred language of the card page and messages (az, ru, kk, en); empty: the "
        "program's default language.",
    )
    card_number = serializers.CharField(help_text="13 digits, Luhn-checked.")
    card_url = serializers.SerializerMethodField(help_text="The member's card page.")
    referral_code = serializers.CharField()
    status = serializers.ChoiceField(choices=["active", "blocked"])
    balance = serializers.IntegerField(help_text="Spendable points.")
    pending_points = serializers.IntegerField(help_text="Points waiting for the return window.")
    balance_value = serializers.SerializerMethodField(help_text="Balance x point value, base currency.")
    tier = serializers.SerializerMethodField()
    tier_progress = serializers.SerializerMethodField()
    expiring_soon = serializers.SerializerMethodField(
        help_text="Lots expiring within the program's warning window (48 h by default)."
    )
    privileges = serializers.SerializerMethodField(help_text="What the member's tier gives them.")
    last_activity_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(PrivilegesSerializer)
    def get_privileges(self, member) -> dict:
        return member_privileges(member=member)

    @extend_schema_field(OpenApiTypes.URI)
    def get_card_url(self, member) -> str:
        return card_url(member, self.context.get("request"))

    @extend_schema_field(MoneySerializer)
    def get_balance_value(self, member) -> dict:
        program = member.program
        return money(program.points_value(member.balance), program.base_currency)

    @extend_schema_field(TierRefSerializer(allow_null=True))
    def get_tier(self, member):
        return tier_ref(member.tier, member=member)

    @extend_schema_field(TierProgressSerializer(allow_null=True))
    def get_tier_progress(self, member):
        bulk = self.context.get("tier_progress")  # lists compute every member's at once
        if bulk is not None:
            return bulk.get(member.pk)
        return tier_progress(member, self.context["at"])

    @extend_schema_field(ExpiringSerializer(many=True))
    def get_expiring_soon(self, member):
        bulk = self.context.get("expiring_soon")
        if bulk is not None:
            return [
                {"points": lot.remaining, "expires_at": lot.expires_at} for lot in bulk.get(member.pk, [])
            ]
        return expiring_soon(member, self.context["at"])


MEMBER_LANGUAGES = [code for code, _name in settings.LANGUAGES]


class MemberInputSerializer(StrictFieldsMixin, serializers.Serializer):
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    phone = serializers.CharField(
        max_length=32, required=False, allow_null=True, allow_blank=True, help_text="Normalised to E.164."
    )
    email = serializers.EmailField(max_length=254, required=False, allow_null=True, allow_blank=True)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    language = serializers.ChoiceField(
        choices=MEMBER_LANGUAGES,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Preferred language of the card page and messages; empty: the program's default.",
    )

    def validate_birth_date(self, value):
        if value is not None and not (date(1900, 1, 1) <= value <= date.today()):
            raise serializers.ValidationError(gettext("Must be between 1900-01-01 and today."))
        return value


class MemberCreateSerializer(MemberInputSerializer):
    referred_by = serializers.CharField(
        max_length=16, required=False, allow_null=True, allow_blank=True, help_text="A referral code."
    )


class MemberUpdateSerializer(MemberInputSerializer):
    """PATCH: profile fields only; balance, tier and status are never changed here."""
