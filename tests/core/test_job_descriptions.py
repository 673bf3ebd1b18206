"""Issue 19: every scheduled job's description (run_job --list, the schedules in the admin) is marked
for translation and translated."""

import pytest
from django.utils import translation

from loyalty_site.core.jobs import all_jobs


@pytest.mark.parametrize("language", ["az", "ru", "kk"])
def test_every_job_description_is_translated(language):
    jobs = all_jobs()
    assert len(jobs) >= 19
    with translation.override("en"):
        english = {name: str(job.description) for name, job in jobs.items()}
    with translation.override(language):
        translated = {name: str(job.description) for name, job in jobs.items()}
    same = sorted(name for name in jobs if translated[name] == english[name] or not translated[name])
    assert same == []
