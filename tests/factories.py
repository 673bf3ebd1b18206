"""factory_boy factories. Members are created through the real service (`member_create`), so card
numbers, tokens and enrolment hooks are the production ones."""

import factory

from accounts import services as account_services
from accounts.models import Member, Merchant, Program


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Program {n}")
    base_currency = "AZN"
    time_zone = "UTC"


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    program = factory.SubFactory(ProgramFactory)
    phone = factory.Sequence(lambda n: f"+99450{1000000 + n:07d}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Member{n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        kwargs.setdefault("at", kwargs.pop("created_at", None))
        return account_services.member_create(**kwargs)
