"""Issue 19: the rate-review reminder to the owners is written in the program's default language,
whatever language the job (or the site) runs in."""

from datetime import timedelta

from django.core import mail
from django.utils import translation

from accounts.models import StaffMember
from loyalty_site.core.jobs import run_job
from loyalty_site.core.presets import preset_apply
from tests.factories import ProgramFactory


def test_the_rate_review_email_is_in_the_programs_language(
    db, now, staff_user, django_capture_on_commit_callbacks
):
    program = ProgramFactory(base_currency="AZN", name="Çay evi", default_language="az")
    preset_apply(program=program, preset="seed", at=now)
    owner = staff_user(program.merchant, role=StaffMember.Role.OWNER)
    owner.email = "owner@example.com"
    owner.save()
    with translation.override("ru"), django_capture_on_commit_callbacks(execute=True):
        assert run_job("rate_review_reminders", at=now + timedelta(days=14)) == {"reminded": 1}
    (message,) = mail.outbox
    assert message.subject == "Çay evi: yoxlanılmalı valyuta məzənnələri"
    assert message.body.startswith("Çay evi proqramının valyuta məzənnələrini yoxlamaq vaxtıdır:\n- GBP: ")
    assert translation.get_language() == "en"
