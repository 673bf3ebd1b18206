"""Writes for merchants, programs, staff, members and API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime
from typing import Any

import phonenumbers
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from loyalty_site.core.bulk import rows_insert
from loyalty_site.core.errors import Duplicate, InvalidInput, NotFound
from loyalty_site.core.hooks import run_hooks

from .models import ApiKey, Member, Merchant, Program, StaffMember

# No 0/O, 1/I/L: codes read aloud at a till or typed from a screenshot stay unambiguous.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CARD_PREFIX = "700"
CARD_LENGTH = 13
DEFAULT_PHONE_REGION = "AZ"


# --- identifiers -------------------------------------------------------------------------------


def luhn_check_digit(digits: str) -> str:
    """The Luhn digit that, appended to `digits`, makes a valid number."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled positions, counting from the right of the final number
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_is_valid(number: str) -> bool:
    return number.isdigit() and len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


def card_number_generate() -> str:
    # one uniform draw of all the random digits (a million-row import draws a million of them)
    digits = CARD_LENGTH - 4
    body = CARD_PREFIX + f"{secrets.randbelow(10**digits):0{digits}d}"
    return body + luhn_check_digit(body)


def card_token_generate() -> str:
    """192 random bits, URL-safe: not derivable from the id, the card number or anything else."""
    return secrets.token_urlsafe(24)


def code_generate(length: int = 8) -> str:
    # one uniform draw, written in base len(CODE_ALPHABET): the same distribution as a choice per
    # character, one call instead of `length`
    base = len(CODE_ALPHABET)
    value = secrets.randbelow(base**length)
    chars = []
    for _digit in range(length):
        value, index = divmod(value, base)
        chars.append(CODE_ALPHABET[index])
    return "".join(chars)


def phone_normalize(raw: str, *, region: str = DEFAULT_PHONE_REGION) -> str:
    """E.164 form of a phone number. Raises InvalidInput when it is not a possible, valid number."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(_("Enter a valid phone number."), fields={"phone": [_("Not a phone number.")]})
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(_("Enter a valid phone number."), fields={"phone": [_("Not a valid number.")]})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def email_normalize(raw: str) -> str:
    return raw.strip().lower()


# --- merchants, programs, staff ----------------------------------------------------------------


def merchant_create(*, name: str, contact_email: str = "") -> Merchant:
    return Merchant.objects.create(name=name, contact_email=contact_email)


def program_create(*, merchant: Merchant, name: str, base_currency: str = "AZN", **settings: Any) -> Program:
    program = Program(merchant=merchant, name=name, base_currency=base_currency.upper(), **settings)
    program.full_clean()
    program.save()
    return program


def staff_member_set(*, user, merchant: Merchant, role: str) -> StaffMember:
    """Give `user` a role at `merchant`. Admin roles get `is_staff` (admin login); cashiers don't."""
    if role not in StaffMember.Role.values:
        raise InvalidInput(
            _("Unknown role '%(role)s'.") % {"role": role}, fields={"role": [_("Unknown role.")]}
        )
    profile, _created = StaffMember.objects.update_or_create(
        user=user, defaults={"merchant": merchant, "role": role, "is_active": True}
    )
    should_be_staff = role != StaffMember.Role.CASHIER or user.is_superuser
    if user.is_staff != should_be_staff:
        user.is_staff = should_be_staff
        user.save(update_fields=["is_staff"])
    return profile


def staff_user_create(
    *,
    merchant: Merchant,
    username: str,
    password: str | None,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
):
    """A new user with `role` at `merchant` in one transaction; `password=None` leaves the password
    unusable until the user follows a reset link."""
    with transaction.atomic():
        user = get_user_model().objects.create_user(
            username=username, password=password, email=email, first_name=first_name, last_name=last_name
        )
        staff_member_set(user=user, merchant=merchant, role=role)
    return user


def staff_member_activate(*, profile: StaffMember, is_active: bool) -> StaffMember:
    """Suspend (or reactivate) a merchant's staff member: the role and the login together, so a
    suspended cashier cannot open the till either. A superuser's login is left alone."""
    with transaction.atomic():
        StaffMember.objects.filter(pk=profile.pk).update(is_active=is_active)
        profile.is_active = is_active
        user = profile.user
        if user.is_active != is_active and not user.is_superuser:
            user.is_active = is_active
            user.save(update_fields=["is_active"])
    return profile


# --- members ----------------------------------------------------------------------------------

_UNIQUE_FIELDS = {
    "member_unique_phone": "phone",
    "member_unique_email": "email",
    "member_unique_external_id": "external_id",
}


_DUPLICATE_MESSAGES = {
    "phone": lambda: _("A member with this phone already exists."),
    "email": lambda: _("A member with this email already exists."),
    "external_id": lambda: _("A member with this external id already exists."),
}


def _duplicate_from(error: IntegrityError) -> Duplicate | None:
    """The Duplicate a member insert's unique violation means, or None (a random card number,
    token or referral code collided): PostgreSQL names the constraint."""
    text = str(error)
    for constraint, field in _UNIQUE_FIELDS.items():
        if constraint in text:
            return Duplicate(
                _DUPLICATE_MESSAGES[field](),
                fields={field: [_("Already used by another member of this program.")]},
            )
    return None


def _clean_profile(data: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(data)
    for field in ("external_id", "phone", "email"):
        if field in cleaned and (cleaned[field] is None or str(cleaned[field]).strip() == ""):
            cleaned[field] = None
    if cleaned.get("phone"):
        cleaned["phone"] = phone_normalize(cleaned["phone"])
    if cleaned.get("email"):
        cleaned["email"] = email_normalize(cleaned["email"])
    if cleaned.get("external_id"):
        cleaned["external_id"] = str(cleaned["external_id"]).strip()
    if "language" in cleaned:  # "" or None: the program's default language
        cleaned["language"] = str(cleaned["language"] or "").strip()
        if cleaned["language"] and cleaned["language"] not in dict(django_settings.LANGUAGES):
            choices = ", ".join(dict(django_settings.LANGUAGES))
            raise InvalidInput(
                gettext("Unknown language; use one of %(choices)s.") % {"choices": choices},
                fields={
                    "language": [
                        gettext("Use one of %(choices)s, or empty for the program's default.")
                        % {"choices": choices}
                    ]
                },
            )
    return cleaned


def member_create(
    *,
    program: Program,
    at: datetime | None = None,
    external_id: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    first_name: str = "",
    last_name: str = "",
    birth_date: date | None = None,
    referred_by: str | Member | None = None,
    language: str | None = "",
) -> Member:
    """Enrol a member. Raises InvalidInput (no identifier, bad phone, unknown referral code) and
    Duplicate (phone, email or external id already used in this program)."""
    at = at or timezone.now()
    profile = _clean_profile({"external_id": external_id, "phone": phone, "email": email})
    preferred = _clean_profile({"language": language})["language"]
    if not any(profile.values()):
        raise InvalidInput(
            _("Give at least one of external_id, phone or email."),
            fields={"non_field_errors": [_("Give at least one of external_id, phone or email.")]},
        )
    referrer = None
    if isinstance(referred_by, Member):
        referrer = referred_by
    elif referred_by:
        referrer = Member.objects.filter(
            program=program, referral_code=str(referred_by).strip().upper()
        ).first()
        if referrer is None:
            raise InvalidInput(
                _("Unknown referral code."), fields={"referred_by": [_("No member has this referral code.")]}
            )
    for _attempt in range(5):
        member = Member(
            program=program,
            first_name=first_name or "",
            last_name=last_name or "",
            birth_date=birth_date,
            language=preferred,
            referred_by=referrer,
            card_number=card_number_generate(),
            card_token=card_token_generate(),
            referral_code=code_generate(8),
            created_at=at,
            last_activity_at=at,
            **profile,
        )
        try:
            with transaction.atomic():
                member.save()
        except IntegrityError as error:
            duplicate = _duplicate_from(error)
            if duplicate is not None:
                raise duplicate
            continue  # a random card number, token or referral code collided: draw again
        _after_member_created(member=member, at=at)
        return member
    raise RuntimeError("Could not allocate unique card identifiers")  # pragma: no cover


def _after_member_created(*, member: Member, at: datetime) -> None:
    """Hooks other apps attach to enrolment (entry tier, registration campaigns, notifications)."""

    run_hooks("member_created", member=member, at=at)


MEMBER_KEYS = ("external_id", "phone", "email")


def members_bulk_create(*, program: Program, rows: list[dict[str, Any]], at: datetime) -> list[Member]:
    """Enrol many members at once (an import: members moving from another program). `rows` are
    validated, normalised profiles (`external_id`, `phone` in E.164, `email` in lower case,
    `first_name`, `last_name`, `birth_date`, optional `tier_id`); each has at least one identifier.
    A row's optional `balance` becomes the new member's cached balance: only for a caller that
    posts exactly those points to it in the same transaction (the import's opening balances).

    One `bulk.rows_insert` (INSERT ... ON CONFLICT DO NOTHING RETURNING) per call: a row whose
    phone, email or external id already belongs to a member of the program (an earlier run, a till
    enrolment, a concurrent import, or an earlier row of the same call) is not created and not
    returned, so re-runs and races are safe. A row that lost only on a random card number, card
    token or referral code is drawn again. Returns the members created, in the order of `rows`.

    Decision: imported members are migrations, not sign-ups. The `member_created` hooks do NOT run:
    no registration campaign bonus, no referral link, no entry-tier evaluation per member, no
    `member.created` event (a million-row migration must not fire a million webhooks). The caller
    gives the entry tier in `tier_id` (see `reports.imports`, which also writes the tier history)."""
    if not rows:
        return []
    pending = list(enumerate(rows))
    created: dict[int, Member] = {}
    names = [f.attname for f in Member._meta.concrete_fields]
    base = {f.attname: f.get_default() for f in Member._meta.concrete_fields}
    base.update(program_id=program.pk, status=Member.Status.ACTIVE, created_at=at, last_activity_at=at)
    for _attempt in range(5):
        codes = _unique_codes(len(pending))
        returned = _members_insert(program=program, rows=[row for _i, row in pending], codes=codes, at=at)
        lost = []
        for (index, row), (card, token, referral) in zip(pending, codes, strict=True):
            pk = returned.get((card, token))  # RETURNING gives only the rows this statement inserted
            if pk is None:
                lost.append((index, row))
                continue
            values = {
                **base,
                "id": pk,
                "external_id": row.get("external_id") or None,
                "phone": row.get("phone") or None,
                "email": row.get("email") or None,
                "first_name": row.get("first_name") or "",
                "last_name": row.get("last_name") or "",
                "birth_date": row.get("birth_date"),
                "tier_id": row.get("tier_id"),
                "balance": row.get("balance") or 0,
                "card_number": card,
                "card_token": token,
                "referral_code": referral,
            }
            # positional, as a loaded row (a million-row import builds a million of them)
            member = Member.from_db("default", names, [values[name] for name in names])
            member.program = program
            created[index] = member
        if not lost:
            break
        taken = _keys_taken(program=program, rows=[row for _index, row in lost])
        # rows none of whose identifiers exist lost on a random code: draw again
        pending = [
            (index, row)
            for index, row in lost
            if not any((key, row.get(key)) in taken for key in MEMBER_KEYS if row.get(key))
        ]
        if not pending:
            break
    else:  # pragma: no cover - five collisions in a row
        raise RuntimeError("Could not allocate unique card identifiers")
    return [created[index] for index in sorted(created)]


def _unique_codes(count: int) -> list[tuple[str, str, str]]:
    """Card numbers, tokens and referral codes for `count` new members, distinct within the call
    (9 random card digits: among a million members a repeat inside one batch is a real event, and
    the statement would insert only the first of the two)."""
    cards: set[str] = set()
    referrals: set[str] = set()
    codes = []
    for _index in range(count):
        card = card_number_generate()
        while card in cards:
            card = card_number_generate()
        referral = code_generate(8)
        while referral in referrals:
            referral = code_generate(8)
        cards.add(card)
        referrals.add(referral)
        codes.append((card, card_token_generate(), referral))
    return codes


def _members_insert(
    *, program: Program, rows: list[dict[str, Any]], codes: list[tuple[str, str, str]], at: datetime
) -> dict[tuple[str, str], int]:
    """`bulk.rows_insert` with ON CONFLICT DO NOTHING: a fixed number of parameters whatever the
    row count; the columns not named here take the model's defaults. Returns the new ids by
    (card number, card token)."""
    values: dict[str, list[Any]] = {
        "external_id": [row.get("external_id") or None for row in rows],
        "phone": [row.get("phone") or None for row in rows],
        "email": [row.get("email") or None for row in rows],
        "first_name": [row.get("first_name") or "" for row in rows],
        "last_name": [row.get("last_name") or "" for row in rows],
        "birth_date": [row.get("birth_date") for row in rows],
        "tier_id": [row.get("tier_id") for row in rows],
        "balance": [row.get("balance") or 0 for row in rows],
        "card_number": [card for card, _token, _code in codes],
        "card_token": [token for _card, token, _code in codes],
        "referral_code": [code for _card, _token, code in codes],
    }
    constants = {
        "program_id": program.pk,
        "status": Member.Status.ACTIVE,
        "blocked_reason": "",
        "pending_points": 0,
        "last_activity_at": at,
        "created_at": at,
    }
    returned = rows_insert(
        Member,
        values,
        constants=constants,
        skip_conflict=True,
        returning=("id", "card_number", "card_token"),
    )
    return {(card, token): pk for pk, card, token in returned}


def _keys_taken(*, program: Program, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(key, value) pairs of `rows` that already belong to a member of `program`."""
    from django.db.models import Q

    condition = Q()
    for key in MEMBER_KEYS:
        values = [row[key] for row in rows if row.get(key)]
        if values:
            condition |= Q(**{f"{key}__in": values})
    if not condition:
        return set()
    taken = set()
    for values in Member.objects.filter(program=program).filter(condition).values_list(*MEMBER_KEYS):
        taken.update((key, value) for key, value in zip(MEMBER_KEYS, values, strict=True) if value)
    return taken


PROFILE_FIELDS = ("external_id", "phone", "email", "first_name", "last_name", "birth_date", "language")


def member_update(*, member: Member, data: dict[str, Any]) -> Member:
    """Change profile fields only (never balance, tier or status). Raises InvalidInput, Duplicate."""
    unknown = set(data) - set(PROFILE_FIELDS)
    if unknown:
        raise InvalidInput(
            _("Only profile fields can be changed."),
            fields={name: [_("This field cannot be changed.")] for name in sorted(unknown)},
        )
    cleaned = _clean_profile(data)
    for field, value in cleaned.items():
        if value is None and field in ("first_name", "last_name", "language"):
            value = ""
        setattr(member, field, value)
    if not (member.external_id or member.phone or member.email):
        raise InvalidInput(
            _("A member keeps at least one of external_id, phone or email."),
            fields={"non_field_errors": [_("Keep at least one of external_id, phone or email.")]},
        )
    try:
        with transaction.atomic():
            member.save(update_fields=list(cleaned))
    except IntegrityError as error:
        duplicate = _duplicate_from(error)
        if duplicate is not None:
            raise duplicate
        raise
    return member


def member_set_status(*, member: Member, status: str, reason: str = "") -> Member:
    if status not in Member.Status.values:
        raise InvalidInput(_("Unknown status."), fields={"status": [_("Use active or blocked.")]})
    member.status = status
    member.blocked_reason = reason if status == Member.Status.BLOCKED else ""
    member.save(update_fields=["status", "blocked_reason"])
    return member


def member_get_for_program(*, program: Program, member_id: Any) -> Member:
    try:
        return Member.objects.get(program=program, pk=int(member_id))
    except (Member.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("Member not found."))


# --- API keys ---------------------------------------------------------------------------------


def api_key_hash(raw_key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no dictionary to guard against).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, program: Program, name: str = "default", created_by=None) -> tuple[ApiKey, str]:
    """Create a key and return it with the full key text, which is never stored or shown again."""
    for _attempt in range(5):
        prefix = secrets.token_hex(4)
        raw_key = f"lk_{prefix}.{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    program=program,
                    name=name,
                    prefix=prefix,
                    hashed_key=api_key_hash(raw_key),
                    created_by=created_by,
                )
            return key, raw_key
        except IntegrityError:
            continue
    raise RuntimeError("Could not allocate a unique key prefix")  # pragma: no cover


def api_key_revoke(*, key: ApiKey, at: datetime | None = None) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = at or timezone.now()
        key.save(update_fields=["revoked_at"])
    return key
