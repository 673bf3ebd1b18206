"""Demo data of the accounts app: members the demo merchant's staff can find at the till."""

from datetime import date, timedelta

from accounts import services
from accounts.models import Member
from loyalty_site.core.presets import preset_step

#: first name, last name, phone, e-mail, birth date, language ("" = none chosen: the program's)
DEMO_MEMBERS = [
    ("Aysel", "Mammadova", "+994501234567", "aysel@example.com", date(1990, 5, 17), "az"),
    ("Rashad", "Aliyev", "+994502345678", "rashad@example.com", date(1985, 11, 2), "ru"),
    ("Leyla", "Hasanova", "+994503456789", "leyla@example.com", date(1995, 1, 23), "kk"),
    ("Murad", "Guliyev", "+994504567890", "murad@example.com", date(1978, 7, 9), "az"),
    ("Nigar", "Ismayilova", "+994505678901", "nigar@example.com", date(2000, 3, 30), "ru"),
    ("Elvin", "Huseynov", "+994506789012", "elvin@example.com", date(1992, 9, 14), "en"),
    ("Sevda", "Karimova", "+994507890123", "sevda@example.com", date(1988, 12, 1), "kk"),
    ("Tural", "Abbasov", "+994508901234", "tural@example.com", date(1999, 6, 6), ""),
]


@preset_step("demo", order=10)
def demo_members(*, program, at):
    """Enrol the demo members (external ids demo-1..N), spread over the last 90 days, reading
    Azerbaijani, Russian, Kazakh, English or (the last) the program's language."""
    for index, (first, last, phone, email, birth, language) in enumerate(DEMO_MEMBERS, start=1):
        external_id = f"demo-{index}"
        if Member.objects.filter(program=program, external_id=external_id).exists():
            continue
        services.member_create(
            program=program,
            at=at - timedelta(days=90 - index * 10),
            external_id=external_id,
            phone=phone,
            email=email,
            first_name=first,
            last_name=last,
            birth_date=birth,
            language=language,
        )
