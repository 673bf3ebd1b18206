import json

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from loyalty_site.core.jobs import all_jobs

# Named schedules jobs may use instead of a crontab line ("m h dom mon dow").
NAMED = {
    "minutely": "* * * * *",
    "every_10_minutes": "*/10 * * * *",
    "hourly": "5 * * * *",
    "daily": "30 2 * * *",
    "nightly": "45 3 * * *",
    "weekly": "15 1 * * 1",
}
#: A run that could not start within this many seconds is dropped (`expires`); the next one
#: catches up, since every job works out what is due at its own `at`.
EXPIRES = {"minutely": 55, "every_10_minutes": 540, "hourly": 3000}
DEFAULT_EXPIRES = 3600
TASK = "loyalty.run_job"


class Command(BaseCommand):
    """Crontabs are in UTC. Jobs whose period is a program's day, week or month (tier gifts, weekly
    bonus, birthdays, inactivity) compute that period in each program's time zone from `at`
    themselves and are idempotent per (member, period), so one UTC schedule serves every zone: a
    program's effect lands on the first run after its local period ends."""

    help = (
        "Create the celery-beat schedule of every registered job (missing ones only, so edits made in "
        "the admin stay). --reset puts every schedule back to its default."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Overwrite edited schedules.")

    def handle(self, *args, **options):
        created = updated = 0
        with transaction.atomic():
            for job in all_jobs().values():
                minute, hour, day_of_month, month, day_of_week = NAMED.get(job.schedule, job.schedule).split()
                crontab, _ = CrontabSchedule.objects.get_or_create(
                    minute=minute,
                    hour=hour,
                    day_of_month=day_of_month,
                    month_of_year=month,
                    day_of_week=day_of_week,
                    timezone="UTC",
                )
                name = f"loyalty: {job.name}"
                defaults = {
                    "task": TASK,
                    "crontab": crontab,
                    "args": json.dumps([job.name]),
                    "description": job.description,
                    "expire_seconds": EXPIRES.get(job.schedule, DEFAULT_EXPIRES),
                    "enabled": True,
                }
                task = PeriodicTask.objects.filter(name=name).first()
                if task is None:
                    PeriodicTask.objects.create(name=name, **defaults)
                    created += 1
                elif options["reset"]:
                    for field, value in defaults.items():
                        setattr(task, field, value)
                    task.save()
                    updated += 1
        self.stdout.write(f"Schedules: {created} created, {updated} reset, {len(all_jobs())} jobs known.")
