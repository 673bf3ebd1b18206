import pytest

from accounts import services
from accounts.models import Member
from loyalty_site.core.errors import Duplicate, InvalidInput
from tests.factories import ProgramFactory


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("+994 50 123 45 67", "+994501234567"),
        ("050 123 45 67", "+994501234567"),  # national format, Azerbaijan by default
        ("(050) 123-45-67", "+994501234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_is_normalised_to_e164(raw, expected):
    assert services.phone_normalize(raw) == expected


@pytest.mark.parametrize("raw", ["hello", "123", "+994 00 000"])
def test_invalid_phone_is_rejected(raw):
    with pytest.raises(InvalidInput) as error:
        services.phone_normalize(raw)
    assert "phone" in error.value.fields


def test_member_phone_is_stored_normalised(program, now):
    member = services.member_create(program=program, at=now, phone="050 123 45 67")
    assert member.phone == "+994501234567"


def test_duplicate_phone_in_same_program_is_refused_in_any_format(program, now):
    services.member_create(program=program, at=now, phone="+994501234567")
    with pytest.raises(Duplicate) as error:
        services.member_create(program=program, at=now, phone="050 123 45 67")
    assert error.value.code == "duplicate"
    assert "phone" in error.value.fields
    assert Member.objects.filter(program=program).count() == 1


def test_same_phone_in_another_program_is_allowed(program, now):
    other = ProgramFactory()
    services.member_create(program=program, at=now, phone="+994501234567")
    member = services.member_create(program=other, at=now, phone="+994501234567")
    assert member.program == other


def test_duplicate_email_is_case_insensitive(program, now):
    services.member_create(program=program, at=now, email="Aysel@Example.com")
    with pytest.raises(Duplicate):
        services.member_create(program=program, at=now, email="aysel@example.COM")


def test_duplicate_external_id_is_refused(program, now):
    services.member_create(program=program, at=now, external_id="crm-42")
    with pytest.raises(Duplicate) as error:
        services.member_create(program=program, at=now, external_id="crm-42")
    assert "external_id" in error.value.fields


def test_member_needs_an_identifier(program, now):
    with pytest.raises(InvalidInput):
        services.member_create(program=program, at=now, first_name="Nobody")
    assert not Member.objects.exists()


def test_card_number_has_a_valid_check_digit(program, now):
    member = services.member_create(program=program, at=now, external_id="x1")
    assert len(member.card_number) == 13
    assert member.card_number.startswith("700")
    assert services.luhn_is_valid(member.card_number)
    wrong_digit = str((int(member.card_number[-1]) + 1) % 10)
    assert not services.luhn_is_valid(member.card_number[:-1] + wrong_digit)


def test_luhn_check_digit_known_values():
    assert services.luhn_check_digit("7992739871") == "3"  # the textbook example
    assert services.luhn_is_valid("79927398713")
    assert not services.luhn_is_valid("79927398710")


def test_card_token_is_random_and_not_derived_from_the_id(program, now):
    members = [services.member_create(program=program, at=now, external_id=f"m{i}") for i in range(20)]
    tokens = [m.card_token for m in members]
    assert len(set(tokens)) == 20
    for member in members:
        assert len(member.card_token) >= 32
        assert member.card_number not in member.card_token
    # consecutive ids share no common prefix beyond chance
    prefixes = {t[:4] for t in tokens}
    assert len(prefixes) == 20


def test_referral_code_links_the_referrer(program, now):
    referrer = services.member_create(program=program, at=now, external_id="ref")
    friend = services.member_create(
        program=program, at=now, external_id="friend", referred_by=referrer.referral_code.lower()
    )
    assert friend.referred_by == referrer


def test_unknown_referral_code_is_refused(program, now):
    with pytest.raises(InvalidInput) as error:
        services.member_create(program=program, at=now, external_id="x", referred_by="NOPE1234")
    assert "referred_by" in error.value.fields


def test_member_update_changes_profile_only(member):
    services.member_update(member=member, data={"first_name": "Aysel", "email": "A@B.AZ"})
    member.refresh_from_db()
    assert member.first_name == "Aysel"
    assert member.email == "a@b.az"
    with pytest.raises(InvalidInput):
        services.member_update(member=member, data={"balance": 1000})
    member.refresh_from_db()
    assert member.balance == 0


def test_balance_cannot_go_negative_in_the_database(member):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(balance=-1)


@pytest.mark.parametrize(
    "message, field",
    [
        ('duplicate key value violates unique constraint "member_unique_phone"', "phone"),
        ('duplicate key value violates unique constraint "member_unique_email"', "email"),
        ('duplicate key value violates unique constraint "member_card_number_key"', None),
    ],
)
def test_a_unique_violation_of_a_member_field_is_a_duplicate(message, field):
    """A member field's constraint is a 409 duplicate; a card number collision is retried (None)."""
    from django.db import IntegrityError

    duplicate = services._duplicate_from(IntegrityError(message))

    if field is None:
        assert duplicate is None
    else:
        assert isinstance(duplicate, Duplicate) and duplicate.status == 409
        assert list(duplicate.fields) == [field]
