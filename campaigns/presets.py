"""The seed preset's campaigns, daily tasks, partner and segments (PRODUCT.md §2.2, §2.4, §2.5).

Numbers the brief leaves open, decided here (all editable in the admin):
- registration bonus 100 points, once;
- birthday gift 500 points + a `member.birthday` notification, once a year;
- second-purchase bonus 200 points, once;
- review bonus 50 points, at most once a day;
- weekly double bonus: logins on 2 consecutive days and 2 purchases in the ISO week → 400 points,
  once a week (Monday job for the week just ended);
- more than 2 purchases within 90 days → a personal 20 % one-time coupon valid 30 days, once;
- 30-day inactivity reminder: a `member.inactive` notification, once per idle stretch;
- 60-day win-back: a personal 15 % coupon valid 30 days + a `member.winback` notification, once
  per idle stretch;
- daily tasks: 3 tasks; completing any one extends the member's points by 5 days, once a day;
- referral: 500 points to the referrer and 250 to the new member on the new member's first purchase;
- USD rate (points per USD) at least 5 % above the rate it replaced → +2 points on every USD purchase;
- names, daily tasks and notification messages in az, ru, kk and en (loyalty_site/core/content.py);
- partner "partner" at rate 1 with the 10 % bonus; default low / medium / high value segments.
"""

from __future__ import annotations

from decimal import Decimal

from loyalty_site.core.content import localized
from loyalty_site.core.presets import preset_step

from .models import Campaign, CampaignCondition, CampaignReward, DailyTask, Partner
from .segments import default_segments_create

T, P = Campaign.Trigger, Campaign.Period
C, R = CampaignCondition.Kind, CampaignReward.Kind

#: code, name and description per language
DAILY_TASKS = [
    (
        "check_in",
        {"en": "Check in", "az": "Gəlişinizi qeyd edin", "ru": "Отметиться", "kk": "Белгі қойыңыз"},
        {
            "en": "Open the app or visit us and check in.",
            "az": "Tətbiqi açın və ya bizə gəlin və gəlişinizi qeyd edin.",
            "ru": "Откройте приложение или зайдите к нам и отметьтесь.",
            "kk": "Қосымшаны ашыңыз немесе бізге келіп, белгі қойыңыз.",
        },
    ),
    (
        "read_offer",
        {
            "en": "Read this week's offer",
            "az": "Bu həftənin təklifini oxuyun",
            "ru": "Прочитать предложение недели",
            "kk": "Осы аптаның ұсынысын оқыңыз",
        },
        {
            "en": "Open and read the current offer.",
            "az": "Cari təklifi açıb oxuyun.",
            "ru": "Откройте и прочитайте текущее предложение.",
            "kk": "Ағымдағы ұсынысты ашып, оқыңыз.",
        },
    ),
    (
        "share",
        {
            "en": "Share with a friend",
            "az": "Dostunuzla paylaşın",
            "ru": "Поделиться с другом",
            "kk": "Досыңызбен бөлісіңіз",
        },
        {
            "en": "Share your referral link with a friend.",
            "az": "Dəvət linkinizi dostunuzla paylaşın.",
            "ru": "Отправьте другу вашу ссылку-приглашение.",
            "kk": "Шақыру сілтемеңізді досыңызбен бөлісіңіз.",
        },
    ),
]

PRESET_CAMPAIGNS = [
    {
        "code": "registration_bonus",
        "name": {
            "en": "Welcome bonus",
            "az": "Xoş gəldin bonusu",
            "ru": "Приветственный бонус",
            "kk": "Қарсы алу бонусы",
        },
        "trigger": T.REGISTRATION,
        "period": P.ONCE,
        "rewards": [{"kind": R.POINTS, "points": 100}],
    },
    {
        "code": "birthday_gift",
        "name": {
            "en": "Birthday gift",
            "az": "Ad günü hədiyyəsi",
            "ru": "Подарок на день рождения",
            "kk": "Туған күн сыйлығы",
        },
        "trigger": T.BIRTHDAY,
        "period": P.YEAR,
        "rewards": [
            {"kind": R.POINTS, "points": 500},
            {
                "kind": R.NOTIFICATION,
                "notify_event": "member.birthday",
                "message": {
                    "en": "Happy birthday!",
                    "az": "Ad gününüz mübarək!",
                    "ru": "С днём рождения!",
                    "kk": "Туған күніңіз құтты болсын!",
                },
            },
        ],
    },
    {
        "code": "second_purchase_bonus",
        "name": {
            "en": "Second purchase bonus",
            "az": "İkinci alış bonusu",
            "ru": "Бонус за вторую покупку",
            "kk": "Екінші сатып алу бонусы",
        },
        "trigger": T.PURCHASE,
        "period": P.ONCE,
        "conditions": [{"kind": C.NTH_PURCHASE, "count": 2}],
        "rewards": [{"kind": R.POINTS, "points": 200}],
    },
    {
        "code": "review_bonus",
        "name": {"en": "Review bonus", "az": "Rəy bonusu", "ru": "Бонус за отзыв", "kk": "Пікір үшін бонус"},
        "trigger": T.EVENT,
        "event_type": "review",
        "period": P.DAY,
        "rewards": [{"kind": R.POINTS, "points": 50}],
    },
    {
        "code": "weekly_double_bonus",
        "name": {
            "en": "Weekly double bonus",
            "az": "Həftəlik ikiqat bonus",
            "ru": "Еженедельный двойной бонус",
            "kk": "Апталық қос бонус",
        },
        "trigger": T.SCHEDULE,
        "schedule": Campaign.Schedule.WEEKLY,
        "period": P.WEEK,
        "conditions": [
            {"kind": C.CONSECUTIVE_LOGINS, "count": 2, "days": 0},
            {"kind": C.PURCHASES_IN_WINDOW, "count": 2, "days": 0},
        ],
        "rewards": [{"kind": R.POINTS, "points": 400}],
    },
    {
        "code": "frequent_buyer_coupon",
        "name": {
            "en": "Frequent buyer 20% coupon",
            "az": "Daimi alıcıya 20% kupon",
            "ru": "Купон 20% для постоянных покупателей",
            "kk": "Тұрақты сатып алушыға 20% купон",
        },
        "trigger": T.PURCHASE,
        "period": P.ONCE,
        "conditions": [{"kind": C.PURCHASES_IN_WINDOW, "count": 3, "days": 90}],
        "rewards": [{"kind": R.COUPON, "coupon_kind": "percent", "value": Decimal("20"), "days": 30}],
    },
    {
        "code": "inactivity_reminder",
        "name": {
            "en": "We miss you",
            "az": "Sizin üçün darıxmışıq",
            "ru": "Мы скучаем по вам",
            "kk": "Біз сізді сағындық",
        },
        "trigger": T.INACTIVITY,
        "trigger_days": 30,
        "period": P.ONCE,
        "rewards": [
            {
                "kind": R.NOTIFICATION,
                "notify_event": "member.inactive",
                "message": {
                    "en": "We have not seen you for a month: your points are waiting.",
                    "az": "Sizi bir aydır görmürük: ballarınız sizi gözləyir.",
                    "ru": "Мы не видели вас целый месяц: ваши баллы ждут вас.",
                    "kk": "Сізді бір ай бойы көрмедік: ұпайларыңыз сізді күтіп тұр.",
                },
            }
        ],
    },
    {
        "code": "winback_offer",
        "name": {
            "en": "Win-back offer",
            "az": "Geri qayıdış təklifi",
            "ru": "Предложение вернуться",
            "kk": "Қайта оралу ұсынысы",
        },
        "trigger": T.INACTIVITY,
        "trigger_days": 60,
        "period": P.ONCE,
        "rewards": [
            {"kind": R.COUPON, "coupon_kind": "percent", "value": Decimal("15"), "days": 30},
            {
                "kind": R.NOTIFICATION,
                "notify_event": "member.winback",
                "message": {
                    "en": "Come back: 15% off your next purchase for 30 days.",
                    "az": "Qayıdın: 30 gün ərzində növbəti alışınıza 15% endirim.",
                    "ru": "Возвращайтесь: скидка 15% на следующую покупку в течение 30 дней.",
                    "kk": "Қайта оралыңыз: 30 күн ішінде келесі сатып алуыңызға 15% жеңілдік.",
                },
            },
        ],
    },
    {
        "code": "daily_tasks",
        "name": {
            "en": "Daily task: points extended",
            "az": "Gündəlik tapşırıq: balların müddəti uzadılır",
            "ru": "Ежедневное задание: срок баллов продлевается",
            "kk": "Күнделікті тапсырма: ұпайлардың мерзімі ұзартылады",
        },
        "trigger": T.EVENT,
        "event_type": "task_completed",
        "period": P.DAY,
        "rewards": [{"kind": R.EXTEND_EXPIRY, "days": 5}],
    },
    {
        "code": "referral",
        "name": {
            "en": "Referral bonus",
            "az": "Dostunu dəvət et bonusu",
            "ru": "Бонус за приглашение друга",
            "kk": "Досыңызды шақыру бонусы",
        },
        "trigger": T.REFERRAL,
        "period": P.ONCE,
        "rewards": [
            {"kind": R.POINTS, "points": 500, "recipient": CampaignReward.Recipient.REFERRER},
            {"kind": R.POINTS, "points": 250, "recipient": CampaignReward.Recipient.MEMBER},
        ],
    },
    {
        "code": "usd_rate_rise",
        "name": {
            "en": "USD rate rise bonus",
            "az": "USD məzənnəsinin artımı bonusu",
            "ru": "Бонус за рост курса USD",
            "kk": "USD бағамының өсуі бонусы",
        },
        "trigger": T.RATE_RISE,
        "trigger_currency": "USD",
        "trigger_percent": Decimal("5"),
        "period": P.EACH,
        "rewards": [{"kind": R.POINTS, "points": 2}],
    },
]


def preset_campaign_create(*, program, spec: dict) -> Campaign:
    """Create one preset campaign with its rows unless its code exists (idempotent)."""
    spec = dict(spec)
    conditions = spec.pop("conditions", [])
    rewards = spec.pop("rewards", [])
    campaign, created = Campaign.objects.get_or_create(
        program=program, code=spec.pop("code"), defaults={"is_active": True, **localized(spec)}
    )
    if created:
        for condition in conditions:
            CampaignCondition.objects.create(campaign=campaign, **condition)
        for reward in rewards:
            CampaignReward.objects.create(campaign=campaign, **localized(reward))
    return campaign


@preset_step("seed", order=40)
def seed_campaigns(*, program, at) -> None:
    default_segments_create(program=program)
    for code, name, description in DAILY_TASKS:
        DailyTask.objects.get_or_create(
            program=program, code=code, defaults=localized({"name": name, "description": description})
        )
    Partner.objects.get_or_create(
        program=program,
        code="partner",
        defaults={"name": "Partner platform", "rate": Decimal("1"), "bonus_percent": Decimal("10")},
    )
    for spec in PRESET_CAMPAIGNS:
        preset_campaign_create(program=program, spec=spec)


DEMO_BATCH = "Demo flyers"


@preset_step("demo", order=40)
def demo_history(*, program, at) -> None:
    """Give the demo members (accounts' demo step) a little history: purchases over the last month
    (so the second-purchase bonus, the frequent-buyer coupon and the segments show data), logins on
    the last two days, a review, fresh segment sizes and a batch of 20 promo codes. Idempotent:
    purchases by external id, events once per member, the batch by name."""
    from datetime import timedelta

    from accounts.models import Member
    from ledger.models import CurrencyRate, Purchase
    from ledger.purchases import purchase_create
    from loyalty_site.core.errors import LoyaltyError

    from .coupons import coupon_batch_generate
    from .models import ActivityEvent, CouponBatch
    from .segments import segments_refresh
    from .services import event_record

    # purchases need an earn rate in force: a fresh program's seed rates start at `at`, so history
    # before them is moved up to the first rate (the demo then shows same-day purchases)
    first_rate = (
        CurrencyRate.objects.filter(program=program, currency=program.base_currency)
        .order_by("valid_from")
        .values_list("valid_from", flat=True)
        .first()
    )
    members = Member.objects.filter(program=program, external_id__startswith="demo-").order_by("pk")
    for index, member in enumerate(members, start=1):
        for number in range(index % 4 + 1):
            moment = at - timedelta(days=28 - 6 * number, hours=index)
            if first_rate is not None:
                moment = min(max(moment, first_rate + timedelta(minutes=index * 10 + number)), at)
            external_id = f"{member.external_id}-p{number + 1}"
            if (
                moment < member.created_at
                or Purchase.objects.filter(program=program, external_id=external_id).exists()
            ):
                continue
            try:
                purchase_create(
                    member=member,
                    external_id=external_id,
                    amount=Decimal(10 + 5 * index),
                    currency=program.base_currency,
                    at=at,
                    occurred_at=moment,
                )
            except LoyaltyError:
                break  # e.g. no earn rate for the base currency in this program: no purchase history
        events = [
            ("login", at - timedelta(days=2, hours=index)),
            ("login", at - timedelta(days=1, hours=index)),
        ]
        if index == 1:
            events.append(("review", at - timedelta(hours=3)))
        if ActivityEvent.objects.filter(member=member).exists():
            continue  # history given on an earlier run
        for kind, moment in events:
            if moment >= member.created_at:
                event_record(member=member, type=kind, occurred_at=moment, data={})
    segments_refresh(at=at, program=program)
    batch, _ = CouponBatch.objects.get_or_create(
        program=program,
        name=DEMO_BATCH,
        defaults={"prefix": "DEMO", "size": 20, "kind": "percent", "value": Decimal("10"), "created_at": at},
    )
    coupon_batch_generate(batch=batch)
