"""Seed preset (order 50): an email and a chat template for each member-facing event of
PRODUCT.md §2.8, each in az, ru, kk and en (the member reads theirs, else the program's default
language), and the channel settings row (email on, chat bot off until a token is set)."""

from __future__ import annotations

from loyalty_site.core.presets import preset_step

from .models import Channel, ChannelSettings, NotificationTemplate

#: the greeting each template starts with, per language (members are addressed politely: the
#: glossary's "siz", "вы", "сіз")
GREETINGS = {
    "en": "Hello {{ member.first_name|default:'there' }},",
    "az": "Salam{% if member.first_name %}, {{ member.first_name }}{% endif %}!",
    "ru": "Здравствуйте{% if member.first_name %}, {{ member.first_name }}{% endif %}!",
    "kk": "Сәлеметсіз бе{% if member.first_name %}, {{ member.first_name }}{% endif %}!",
}
GREETING = GREETINGS["en"]


def greeted(versions: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """{language: (subject, body)} with each body after that language's greeting."""
    return {code: (subject, GREETINGS[code] + " " + body) for code, (subject, body) in versions.items()}


#: event type -> {language: (email subject, body shared by email and chat)}. Russian avoids a noun
#: after a number ("баллы: 5"), as its ending would depend on the number.
SEED_TEMPLATES = {
    "points.expiring": greeted(
        {
            "en": (
                "{{ data.points }} points expire soon",
                "{{ data.points }} of your {{ program.name }} points expire"
                "{% if data.lot_count > 1 %}, the first of them{% endif %}"
                " on {{ data.expires_at|slice:':10' }}."
                " Use them or shop with us to keep them.",
            ),
            "az": (
                "{{ data.points }} balın müddəti tezliklə bitir",
                "{{ program.name }} proqramındakı {{ data.points }} balınızın"
                "{% if data.lot_count > 1 %} ilk hissəsinin{% endif %}"
                " müddəti {{ data.expires_at|slice:':10' }}"
                " tarixində bitir. Ballarınızı itirməmək üçün onları xərcləyin və ya bizdən alış edin.",
            ),
            "ru": (
                "Скоро сгорят баллы: {{ data.points }}",
                "В программе «{{ program.name }}» сгорают баллы: {{ data.points }}"
                "{% if data.lot_count > 1 %}, первые из них{% endif %} — {{ data.expires_at|slice:':10' }}."
                " Потратьте их или совершите покупку у нас, чтобы их сохранить.",
            ),
            "kk": (
                "{{ data.points }} ұпайдың мерзімі жақында өтеді",
                "{{ program.name }} бағдарламасындағы {{ data.points }} ұпайыңыздың"
                "{% if data.lot_count > 1 %} алғашқыларының{% endif %}"
                " мерзімі {{ data.expires_at|slice:':10' }}"
                " күні өтеді. Оларды сақтап қалу үшін жұмсаңыз немесе бізден сатып алу жасаңыз.",
            ),
        }
    ),
    "points.expired": greeted(
        {
            "en": (
                "{{ data.points }} points expired",
                "{{ data.points }} points expired. Any purchase in the next"
                " {{ program.renewal_window_hours }} hours restores them. Balance: {{ data.balance }}.",
            ),
            "az": (
                "{{ data.points }} balın müddəti bitdi",
                "{{ data.points }} balınızın müddəti bitdi. Növbəti {{ program.renewal_window_hours }} saat"
                " ərzində istənilən alış onları bərpa edir. Balans: {{ data.balance }}.",
            ),
            "ru": (
                "Баллы сгорели: {{ data.points }}",
                "Сгорели баллы: {{ data.points }}. Любая покупка в течение"
                " {{ program.renewal_window_hours }} ч."
                " вернёт их. Баланс: {{ data.balance }}.",
            ),
            "kk": (
                "{{ data.points }} ұпайдың мерзімі өтті",
                "{{ data.points }} ұпайыңыздың мерзімі өтті. Келесі {{ program.renewal_window_hours }} сағат"
                " ішінде кез келген сатып алу оларды қайтарады. Баланс: {{ data.balance }}.",
            ),
        }
    ),
    "points.decayed": greeted(
        {
            "en": (
                "Your points balance went down",
                "after a period without activity your balance went down by {{ data.points }}"
                " points to {{ data.balance }}. Any activity stops this.",
            ),
            "az": (
                "Bal balansınız azaldı",
                "Bir müddət fəaliyyət olmadığı üçün balansınız {{ data.points }} bal azalaraq"
                " {{ data.balance }} oldu. İstənilən fəaliyyət bunu dayandırır.",
            ),
            "ru": (
                "Ваш баланс баллов уменьшился",
                "Из-за отсутствия активности ваш баланс уменьшился на {{ data.points }} и составляет"
                " {{ data.balance }}. Любая активность это остановит.",
            ),
            "kk": (
                "Ұпай балансыңыз азайды",
                "Белсенділік болмағандықтан балансыңыз {{ data.points }} ұпайға азайып,"
                " {{ data.balance }} болды. Кез келген белсенділік мұны тоқтатады.",
            ),
        }
    ),
    "tier.changed": greeted(
        {
            "en": (
                "You are now {{ data.to_name }}",
                "your {{ program.name }} level changed"
                "{% if data.from_name %} from {{ data.from_name }}{% endif %} to {{ data.to_name }}.",
            ),
            "az": (
                "Yeni səviyyəniz: {{ data.to_name }}",
                "{{ program.name }} proqramında səviyyəniz dəyişdi"
                "{% if data.from_name %}: {{ data.from_name }} →{% else %}:{% endif %} {{ data.to_name }}.",
            ),
            "ru": (
                "Ваш новый уровень: {{ data.to_name }}",
                "Ваш уровень в программе «{{ program.name }}» изменился"
                "{% if data.from_name %}: {{ data.from_name }} →{% else %}:{% endif %} {{ data.to_name }}.",
            ),
            "kk": (
                "Жаңа деңгейіңіз: {{ data.to_name }}",
                "{{ program.name }} бағдарламасындағы деңгейіңіз өзгерді"
                "{% if data.from_name %}: {{ data.from_name }} →{% else %}:{% endif %} {{ data.to_name }}.",
            ),
        }
    ),
    "reward.granted": greeted(
        {
            "en": (
                "A reward for you",
                "you received {% if data.points %}{{ data.points }} points{% else %}a reward{% endif %}"
                "{% if data.campaign_name %}: {{ data.campaign_name }}{% endif %}.",
            ),
            "az": (
                "Sizə mükafat",
                "Siz {% if data.points %}{{ data.points }} bal{% else %}mükafat{% endif %} aldınız"
                "{% if data.campaign_name %}: {{ data.campaign_name }}{% endif %}.",
            ),
            "ru": (
                "Награда для вас",
                "Вы получили {% if data.points %}баллы ({{ data.points }}){% else %}награду{% endif %}"
                "{% if data.campaign_name %}: {{ data.campaign_name }}{% endif %}.",
            ),
            "kk": (
                "Сізге сыйлық",
                "Сіз {% if data.points %}{{ data.points }} ұпай{% else %}сыйлық{% endif %} алдыңыз"
                "{% if data.campaign_name %}: {{ data.campaign_name }}{% endif %}.",
            ),
        }
    ),
    "coupon.issued": greeted(
        {
            "en": (
                "Your coupon {{ data.code }}",
                "here is your coupon {{ data.code }}"
                "{% if data.kind == 'percent' %}: {{ data.value|floatformat }}% off"
                "{% elif data.kind == 'fixed' %}: {{ data.value }} off{% endif %}"
                "{% if data.valid_until %}, valid until {{ data.valid_until|slice:':10' }}{% endif %}.",
            ),
            "az": (
                "Kuponunuz: {{ data.code }}",
                "Kuponunuz: {{ data.code }}"
                "{% if data.kind == 'percent' %} — {{ data.value|floatformat }}% endirim"
                "{% elif data.kind == 'fixed' %} — {{ data.value }} endirim{% endif %}"
                "{% if data.valid_until %}, {{ data.valid_until|slice:':10' }} tarixinədək"
                " etibarlıdır{% endif %}.",
            ),
            "ru": (
                "Ваш купон {{ data.code }}",
                "Ваш купон: {{ data.code }}"
                "{% if data.kind == 'percent' %} — скидка {{ data.value|floatformat }}%"
                "{% elif data.kind == 'fixed' %} — скидка {{ data.value }}{% endif %}"
                "{% if data.valid_until %}, действует до {{ data.valid_until|slice:':10' }}{% endif %}.",
            ),
            "kk": (
                "Сіздің купоныңыз: {{ data.code }}",
                "Сіздің купоныңыз: {{ data.code }}"
                "{% if data.kind == 'percent' %} — {{ data.value|floatformat }}% жеңілдік"
                "{% elif data.kind == 'fixed' %} — {{ data.value }} жеңілдік{% endif %}"
                "{% if data.valid_until %}, {{ data.valid_until|slice:':10' }} дейін жарамды{% endif %}.",
            ),
        }
    ),
    "member.birthday": greeted(
        {
            "en": (
                "Happy birthday from {{ program.name }}",
                "happy birthday! A gift is waiting for you at {{ program.name }}.",
            ),
            "az": (
                "{{ program.name }} sizi ad gününüz münasibətilə təbrik edir",
                "Ad gününüz mübarək! {{ program.name }} sizin üçün hədiyyə hazırlayıb.",
            ),
            "ru": (
                "{{ program.name }} поздравляет вас с днём рождения",
                "С днём рождения! В «{{ program.name }}» вас ждёт подарок.",
            ),
            "kk": (
                "{{ program.name }} сізді туған күніңізбен құттықтайды",
                "Туған күніңіз құтты болсын! {{ program.name }} сізге сыйлық дайындады.",
            ),
        }
    ),
    "member.inactive": greeted(
        {
            "en": (
                "We miss you at {{ program.name }}",
                "{% if data.idle_days %}it has been {{ data.idle_days }} days since your last visit"
                "{% else %}we have not seen you for a while{% endif %}."
                " Your balance is {{ member.balance }} points.",
            ),
            "az": (
                "{{ program.name }}: sizin üçün darıxmışıq",
                "{% if data.idle_days %}Son gəlişinizdən {{ data.idle_days }} gün keçib"
                "{% else %}Sizi bir müddətdir görmürük{% endif %}. Balansınız: {{ member.balance }} bal.",
            ),
            "ru": (
                "{{ program.name }}: мы скучаем по вам",
                "{% if data.idle_days %}Ваш последний визит был {{ data.idle_days }} дн. назад"
                "{% else %}Мы давно вас не видели{% endif %}. Ваш баланс: {{ member.balance }}.",
            ),
            "kk": (
                "{{ program.name }}: біз сізді сағындық",
                "{% if data.idle_days %}Соңғы келуіңізден бері {{ data.idle_days }} күн өтті"
                "{% else %}Сізді біраз уақыт көрмедік{% endif %}. Балансыңыз: {{ member.balance }} ұпай.",
            ),
        }
    ),
    "member.winback": {
        "en": (
            "Come back to {{ program.name }}: an offer for you",
            GREETINGS["en"] + "{% if data.idle_days %} it has been {{ data.idle_days }} days.{% endif %}"
            " {% if data.message %}{{ data.message }}{% else %}Come back this week and earn extra points on"
            " your next purchase.{% endif %}",
        ),
        "az": (
            "{{ program.name }}: sizin üçün xüsusi təklif",
            GREETINGS["az"]
            + "{% if data.idle_days %} Son gəlişinizdən {{ data.idle_days }} gün keçib.{% endif %}"
            " {% if data.message %}{{ data.message }}{% else %}Bu həftə qayıdın və növbəti alışınızda əlavə"
            " ballar qazanın.{% endif %}",
        ),
        "ru": (
            "{{ program.name }}: специальное предложение для вас",
            GREETINGS["ru"]
            + "{% if data.idle_days %} Ваш последний визит был {{ data.idle_days }} дн. назад."
            "{% endif %} {% if data.message %}{{ data.message }}{% else %}Возвращайтесь на этой неделе"
            " и получите дополнительные баллы за следующую покупку.{% endif %}",
        ),
        "kk": (
            "{{ program.name }}: сізге арнайы ұсыныс",
            GREETINGS["kk"] + "{% if data.idle_days %} Соңғы келуіңізден бері {{ data.idle_days }} күн өтті."
            "{% endif %} {% if data.message %}{{ data.message }}{% else %}Осы аптада қайта келіп,"
            " келесі сатып алуыңыз үшін қосымша ұпай жинаңыз.{% endif %}",
        ),
    },
}


def templates_create(*, program, templates: dict[str, dict[str, tuple[str, str]]]) -> None:
    """An e-mail and a chat template per event type of `templates`, each in every language of it;
    a template the merchant already has (program, event type, channel) is left as it is."""
    for event_type, versions in templates.items():
        for channel in (Channel.EMAIL, Channel.CHAT):
            defaults = {}
            for code, (subject, body) in versions.items():
                defaults[f"subject_{code}"] = subject if channel == Channel.EMAIL else ""
                defaults[f"body_{code}"] = body
            NotificationTemplate.objects.get_or_create(
                program=program, event_type=event_type, channel=channel, defaults=defaults
            )


@preset_step("seed", order=50)
def seed_notification_templates(*, program, at) -> None:
    ChannelSettings.objects.get_or_create(program=program)
    templates_create(program=program, templates=SEED_TEMPLATES)
