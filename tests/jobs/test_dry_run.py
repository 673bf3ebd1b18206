"""`run_job NAME --dry-run`: every job reports what it would do and changes nothing."""

import json
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from loyalty_site.core.jobs import all_jobs, job_preview, run_job
from tests.jobs.conftest import AT, effects, world_build


def dry_run(name: str) -> dict:
    out, err = StringIO(), StringIO()
    call_command("run_job", name, "--at", AT.isoformat(), "--dry-run", stdout=out, stderr=err)
    assert f"Previewing {name}" in err.getvalue() and "dry run: nothing changed" in err.getvalue()
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (summary.pop("job"), summary.pop("dry_run"), summary.pop("at")) == (name, True, AT.isoformat())
    summary.pop("seconds")
    return summary


@pytest.mark.django_db
def test_a_dry_run_of_each_job_reports_the_real_runs_summary_and_changes_nothing(local_server):
    world_build(webhook_url=local_server.url)
    for name, registered in all_jobs().items():
        if registered.preview is not None:
            continue
        before = effects()
        preview = dry_run(name)
        assert effects() == before, name
        assert preview == run_job(name, at=AT), name
    assert local_server.requests == []


@pytest.mark.django_db
def test_a_dry_run_of_the_delivery_job_counts_what_is_due_and_sends_nothing(local_server):
    world_build(webhook_url=local_server.url)
    for name in ("warn_expiring", "fraud_monitor", "birthdays"):
        run_job(name, at=AT)
    before, sent_before = effects(), len(mail.outbox)
    preview = dry_run("deliver_notifications")
    assert effects() == before and len(mail.outbox) == sent_before and local_server.requests == []
    assert preview == job_preview("deliver_notifications", at=AT)
    delivered = run_job("deliver_notifications", at=AT)
    for kind in ("webhooks", "notifications"):
        assert preview[f"{kind}_due"] == delivered[f"{kind}_sent"] + delivered[f"{kind}_failed"] > 0
    assert job_preview("deliver_notifications", at=AT) == {"webhooks_due": 0, "notifications_due": 0}
