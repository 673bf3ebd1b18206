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
