"""Seed preset of the tiers app: PRODUCT.md §2.1's four tiers.

Decisions where the brief is open:
- Platinum's gift is 1 000 points every month; "unlimited bonus" is read as: the highest earn
  multiplier (1.25) and no cap from the tier on bonuses (there is none for any tier).
- Privileges are cumulative: a higher tier keeps every flag of the tiers below it.
- Names and descriptions ship in az, ru, kk and en (the glossary's words); the program reads its
  default language's version, a member theirs (loyalty_site/core/content.py).
- No spend-discount steps and no program-wide discount are seeded (the brief gives no numbers);
  merchants add them in the admin.
"""

from decimal import Decimal

from accounts.models import Member
from loyalty_site.core.content import localized
from loyalty_site.core.presets import preset_step

from .models import Tier

SEED_TIERS = [
    {
        "code": "bronze",
        "name": {"en": "Bronze", "az": "Bürünc", "ru": "Бронзовый", "kk": "Қола"},
        "rank": 0,
        "threshold": 0,
        "discount_percent": Decimal("2"),
        "earn_multiplier": Decimal("1"),
        "gift_points": 50,
        "gift_period": Tier.GiftPeriod.DAILY,
        "description": {
            "en": "Basic discount; a daily gift of 50 points.",
            "az": "Əsas endirim; hər gün 50 bal hədiyyə.",
            "ru": "Базовая скидка; ежедневный подарок — 50 баллов.",
            "kk": "Негізгі жеңілдік; күн сайын 50 ұпай сыйлық.",
        },
    },
    {
        "code": "silver",
        "name": {"en": "Silver", "az": "Gümüş", "ru": "Серебряный", "kk": "Күміс"},
        "rank": 1,
        "threshold": 1000,
        "discount_percent": Decimal("5"),
        "earn_multiplier": Decimal("1"),
        "gift_points": 200,
        "gift_period": Tier.GiftPeriod.WEEKLY,
        "priority_support": True,
        "description": {
            "en": "Higher discount; a weekly bonus of 200 points; priority support.",
            "az": "Daha yüksək endirim; hər həftə 200 bal bonus; prioritet dəstək.",
            "ru": "Повышенная скидка; еженедельный бонус — 200 баллов; приоритетная поддержка.",
            "kk": "Жоғарырақ жеңілдік; апта сайын 200 ұпай бонус; басым қолдау.",
        },
    },
    {
        "code": "gold",
        "name": {"en": "Gold", "az": "Qızıl", "ru": "Золотой", "kk": "Алтын"},
        "rank": 2,
        "threshold": 3000,
        "discount_percent": Decimal("7"),
        "earn_multiplier": Decimal("1.1"),
        "gift_points": 500,
        "gift_period": Tier.GiftPeriod.MONTHLY,
        "priority_support": True,
        "fast_processing": True,
        "exclusive_campaigns": True,
        "description": {
            "en": "Exclusive campaigns; a monthly gift of 500 points; fast processing.",
            "az": "Eksklüziv kampaniyalar; hər ay 500 bal hədiyyə; sürətli xidmət.",
            "ru": "Эксклюзивные акции; ежемесячный подарок — 500 баллов; быстрая обработка.",
            "kk": "Эксклюзивті науқандар; ай сайын 500 ұпай сыйлық; жылдам қызмет көрсету.",
        },
    },
    {
        "code": "platinum",
        "name": {"en": "Platinum", "az": "Platin", "ru": "Платиновый", "kk": "Платина"},
        "rank": 3,
        "threshold": 6000,
        "discount_percent": Decimal("10"),
        "earn_multiplier": Decimal("1.25"),
        "gift_points": 1000,
        "gift_period": Tier.GiftPeriod.MONTHLY,
        "priority_support": True,
        "fast_processing": True,
        "exclusive_campaigns": True,
        "personal_manager": True,
        "event_invitations": True,
        "description": {
            "en": "Personal manager; unlimited bonus; invitations to special events.",
            "az": "Şəxsi menecer; limitsiz bonus; xüsusi tədbirlərə dəvətlər.",
            "ru": "Персональный менеджер; бонус без ограничений; приглашения на особые мероприятия.",
            "kk": "Жеке менеджер; шектеусіз бонус; арнайы іс-шараларға шақырулар.",
        },
    },
]


@preset_step("seed", order=30)
def seed_tiers(*, program, at):
    """Create the four seed tiers (existing codes are left as the merchant edited them), then give
    members without a tier their entry tier."""
    from .models import TierChange
    from .services import member_tier_evaluate

    for values in SEED_TIERS:
        values = dict(values)
        code = values.pop("code")
        if Tier.objects.filter(program=program, code=code).exists():
            continue
        if Tier.objects.filter(program=program, rank=values["rank"]).exists():
            continue  # the merchant already has a tier at this rank: keep theirs
        Tier.objects.create(program=program, code=code, **localized(values))
    for member in Member.objects.filter(program=program, tier__isnull=True).select_related("program"):
        member_tier_evaluate(member=member, at=at, reason=TierChange.Reason.ENROLMENT)
