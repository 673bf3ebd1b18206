"""Presets of the rewards catalogue (issue 20), all editable in the admin afterwards.

- seed (a café): free coffee for 100 points (a gift handed over at the till, once a day), a 5 (base
  currency) voucher for 500 points (a personal coupon, fixed amount off, valid 30 days), and a
  branded mug for 3 000 points for Gold and Platinum members (a gift, stock 50).
- betting (`bootstrap_program --preset betting`: the seed with this catalogue instead): a free bet
  of 10 (base currency) for 1 000 points, a bonus credited by the integration (`reward.redeemed`
  webhook, then `fulfil`), once a week.
- demo: the café catalogue plus a voucher with a code pool (cinema tickets, 20 codes), and the first
  demo member's free coffee waiting at the till.
- seed and betting: an e-mail and a chat template for reward.redeemed / fulfilled / cancelled.
- every name, description and template in az, ru, kk and en (loyalty_site/core/content.py).
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

from accounts.models import Member
from loyalty_site.core.content import localized
from loyalty_site.core.errors import LoyaltyError
from loyalty_site.core.presets import preset_step
from notifications.presets import greeted, templates_create
from tiers.models import Tier

from .models import Reward, RewardCode

#: event type -> {language: (e-mail subject, body shared by e-mail and chat)}; `data` is
#: `rewards.services.redemption_event_data`
REWARD_TEMPLATES = {
    "reward.redeemed": greeted(
        {
            "en": (
                "Your reward: {{ data.reward_name }}",
                "you exchanged {{ data.points }} points for {{ data.reward_name }}."
                "{% if data.code %} Your code: {{ data.code }}.{% endif %}"
                "{% if data.coupon %} Your coupon {{ data.coupon }} is ready for your next purchase."
                "{% endif %}"
                "{% if data.kind == 'gift' %} Collect it at {{ program.name }}.{% endif %}"
                " Balance: {{ data.balance }} points.",
            ),
            "az": (
                "Mükafatınız: {{ data.reward_name }}",
                "Siz {{ data.points }} balı «{{ data.reward_name }}» mükafatına dəyişdiniz."
                "{% if data.code %} Kodunuz: {{ data.code }}.{% endif %}"
                "{% if data.coupon %} {{ data.coupon }} kuponunuz növbəti alışınız üçün hazırdır.{% endif %}"
                "{% if data.kind == 'gift' %} Hədiyyəni kassadan götürün ({{ program.name }}).{% endif %}"
                " Balans: {{ data.balance }} bal.",
            ),
            "ru": (
                "Ваша награда: {{ data.reward_name }}",
                "Вы обменяли баллы ({{ data.points }}) на награду «{{ data.reward_name }}»."
                "{% if data.code %} Ваш код: {{ data.code }}.{% endif %}"
                "{% if data.coupon %} Ваш купон {{ data.coupon }} готов к следующей покупке.{% endif %}"
                "{% if data.kind == 'gift' %} Заберите её на кассе «{{ program.name }}».{% endif %}"
                " Баланс: {{ data.balance }}.",
            ),
            "kk": (
                "Сыйлығыңыз: {{ data.reward_name }}",
                "Сіз {{ data.points }} ұпайды «{{ data.reward_name }}» сыйлығына айырбастадыңыз."
                "{% if data.code %} Кодыңыз: {{ data.code }}.{% endif %}"
                "{% if data.coupon %} {{ data.coupon }} купоныңыз келесі сатып алуыңызға дайын.{% endif %}"
                "{% if data.kind == 'gift' %} Сыйлықты кассадан алыңыз ({{ program.name }}).{% endif %}"
                " Баланс: {{ data.balance }} ұпай.",
            ),
        }
    ),
    "reward.fulfilled": greeted(
        {
            "en": ("{{ data.reward_name }} is yours", "{{ data.reward_name }} is yours. Enjoy it!"),
            "az": (
                "«{{ data.reward_name }}» artıq sizindir",
                "«{{ data.reward_name }}» artıq sizindir. Xoş istifadə!",
            ),
            "ru": (
                "Награда «{{ data.reward_name }}» ваша",
                "Награда «{{ data.reward_name }}» теперь ваша. Приятного пользования!",
            ),
            "kk": (
                "«{{ data.reward_name }}» сыйлығы сіздікі",
                "«{{ data.reward_name }}» сыйлығы енді сіздікі. Ләззат алыңыз!",
            ),
        }
    ),
    "reward.cancelled": greeted(
        {
            "en": (
                "{{ data.reward_name }} was cancelled",
                "your {{ data.reward_name }} was cancelled and its {{ data.points }} points are back."
                " Balance: {{ data.balance }} points.",
            ),
            "az": (
                "«{{ data.reward_name }}» ləğv edildi",
                "«{{ data.reward_name }}» ləğv edildi və {{ data.points }} balınız geri qaytarıldı."
                " Balans: {{ data.balance }} bal.",
            ),
            "ru": (
                "Награда «{{ data.reward_name }}» отменена",
                "Награда «{{ data.reward_name }}» отменена, баллы ({{ data.points }}) возвращены."
                " Баланс: {{ data.balance }}.",
            ),
            "kk": (
                "«{{ data.reward_name }}» сыйлығының күші жойылды",
                "«{{ data.reward_name }}» сыйлығының күші жойылды, {{ data.points }} ұпайыңыз қайтарылды."
                " Баланс: {{ data.balance }} ұпай.",
            ),
        }
    ),
}

COFFEE_CATALOGUE = [
    {
        "name": {"en": "Free coffee", "az": "Pulsuz qəhvə", "ru": "Бесплатный кофе", "kk": "Тегін кофе"},
        "description": {
            "en": "Any coffee of the menu, on us.",
            "az": "Menyudan istənilən qəhvə — bizdən hədiyyə.",
            "ru": "Любой кофе из меню — за наш счёт.",
            "kk": "Мәзірдегі кез келген кофе — бізден сыйлық.",
        },
        "kind": Reward.Kind.GIFT,
        "cost_points": 100,
        "limit_per_member": 1,
        "limit_period": Reward.LimitPeriod.DAY,
        "display_order": 10,
    },
    {
        "name": {
            "en": "5 {currency} voucher",
            "az": "5 {currency} dəyərində kupon",
            "ru": "Купон на 5 {currency}",
            "kk": "5 {currency} купон",
        },
        "description": {
            "en": "5 {currency} off your next purchase, valid 30 days.",
            "az": "Növbəti alışınıza 5 {currency} endirim, 30 gün etibarlıdır.",
            "ru": "Скидка 5 {currency} на следующую покупку, действует 30 дней.",
            "kk": "Келесі сатып алуыңызға 5 {currency} жеңілдік, 30 күн жарамды.",
        },
        "kind": Reward.Kind.COUPON,
        "cost_points": 500,
        "coupon_kind": "fixed",
        "coupon_value": Decimal("5"),
        "coupon_valid_days": 30,
        "display_order": 20,
    },
    {
        "name": {
            "en": "Branded mug",
            "az": "Brend fincan",
            "ru": "Фирменная кружка",
            "kk": "Фирмалық саптыаяқ",
        },
        "description": {
            "en": "Our ceramic mug, for Gold and Platinum members.",
            "az": "Keramik fincanımız — Qızıl və Platin səviyyəli üzvlər üçün.",
            "ru": "Наша керамическая кружка — для участников уровней «Золотой» и «Платиновый».",
            "kk": "Біздің керамикалық саптыаяғымыз — Алтын және Платина деңгейіндегі қатысушыларға.",
        },
        "kind": Reward.Kind.GIFT,
        "cost_points": 3000,
        "stock_total": 50,
        "display_order": 30,
        "tiers": ("gold", "platinum"),
    },
]

BETTING_CATALOGUE = [
    {
        "name": {
            "en": "Free bet 10 {currency}",
            "az": "10 {currency} pulsuz mərc",
            "ru": "Бесплатная ставка 10 {currency}",
            "kk": "10 {currency} тегін бәс",
        },
        "description": {
            "en": "A free bet of 10 {currency}, credited to your betting account.",
            "az": "Mərc hesabınıza köçürülən 10 {currency} məbləğində pulsuz mərc.",
            "ru": "Бесплатная ставка на 10 {currency}, зачисляется на ваш игровой счёт.",
            "kk": "Бәс шотыңызға түсетін 10 {currency} тегін бәс.",
        },
        "kind": Reward.Kind.BONUS,
        "cost_points": 1000,
        "limit_per_member": 1,
        "limit_period": Reward.LimitPeriod.WEEK,
        "channel": Reward.Channel.API,
        "display_order": 10,
    },
]


def _catalogue_create(program, catalogue) -> None:
    for row in catalogue:
        fields = localized(row, currency=program.base_currency)
        tier_codes = fields.pop("tiers", ())
        # found again by its English name (the preset's own; a merchant's edits stay)
        reward, created = Reward.objects.get_or_create(
            program=program, name_en=fields.pop("name_en"), defaults=fields
        )
        if created and tier_codes:
            reward.tiers.set(Tier.objects.filter(program=program, code__in=tier_codes))


def _templates_create(program) -> None:
    templates_create(program=program, templates=REWARD_TEMPLATES)


@preset_step("seed", order=70)
def seed_rewards(*, program, at) -> None:
    """The café catalogue (after the tiers, order 30) and the reward notification templates."""
    _catalogue_create(program, COFFEE_CATALOGUE)
    _templates_create(program)


@preset_step("betting", order=70, replaces=seed_rewards)
def betting_rewards(*, program, at) -> None:
    _catalogue_create(program, BETTING_CATALOGUE)
    _templates_create(program)


@preset_step("demo", order=70)
def demo_rewards(*, program, at) -> None:
    reward, _created = Reward.objects.get_or_create(
        program=program,
        name_en="Cinema ticket",
        defaults=localized(
            {
                "name": {"az": "Kino bileti", "ru": "Билет в кино", "kk": "Кино билеті"},
                "description": {
                    "en": "A ticket for any film at the partner cinema.",
                    "az": "Tərəfdaş kinoteatrda istənilən filmə bilet.",
                    "ru": "Билет на любой фильм в кинотеатре-партнёре.",
                    "kk": "Серіктес кинотеатрдағы кез келген фильмге билет.",
                },
                "kind": Reward.Kind.VOUCHER,
                "cost_points": 800,
                "display_order": 40,
            }
        ),
    )
    codes = [f"CINEMA-{n:04d}" for n in range(1, 21)]
    RewardCode.objects.bulk_create(
        [RewardCode(reward=reward, code=code) for code in codes], ignore_conflicts=True
    )
    _demo_redemption(program, at)


def _demo_redemption(program, at) -> None:
    """The first demo member's free coffee, waiting to be handed over (the till shows it)."""
    from .services import reward_redeem

    member = Member.objects.filter(program=program, external_id="demo-1").first()
    coffee = Reward.objects.filter(program=program, name_en="Free coffee").first()
    if member is None or coffee is None:
        return
    # the same reference on every run: a replay; a member short of points gets none
    with contextlib.suppress(LoyaltyError):
        reward_redeem(
            program=program, member=member, reward=coffee, reference="demo-free-coffee", at=at, channel="till"
        )
