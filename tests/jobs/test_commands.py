import json
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_celery_beat.models import PeriodicTask

from loyalty_site.celery import job_lock, run_job_task
from loyalty_site.core.jobs import all_jobs


@pytest.mark.django_db
def test_sync_schedules_seeds_every_job_once_and_keeps_admin_edits():
    out = StringIO()
    call_command("sync_schedules", stdout=out)
    jobs = all_jobs()
    assert out.getvalue().startswith(f"Schedules: {len(jobs)} created, 0 reset")
    tasks = {t.name: t for t in PeriodicTask.objects.all()}
    assert set(tasks) == {f"loyalty: {name}" for name in jobs}
    minute = tasks["loyalty: deliver_notifications"]
    assert (minute.task, json.loads(minute.args), minute.expire_seconds) == (
        "loyalty.run_job",
        ["deliver_notifications"],
        55,
    )
    assert str(minute.crontab.minute) == "*" and minute.crontab.timezone.key == "UTC"
    fraud = tasks["loyalty: fraud_monitor"]
    assert (fraud.crontab.minute, fraud.expire_seconds) == ("*/10", 540)
    assert all(t.expire_seconds and t.enabled for t in tasks.values())

    PeriodicTask.objects.filter(pk=fraud.pk).update(enabled=False)
    call_command("sync_schedules", stdout=StringIO())
    assert PeriodicTask.objects.count() == len(jobs)
    assert not PeriodicTask.objects.get(pk=fraud.pk).enabled
    call_command("sync_schedules", "--reset", stdout=StringIO())
    assert PeriodicTask.objects.get(pk=fraud.pk).enabled


@pytest.mark.django_db
def test_run_job_prints_progress_and_a_summary():
    out, err = StringIO(), StringIO()
    call_command("run_job", "fraud_monitor", "--at", "2026-11-22T10:00:00+00:00", stdout=out, stderr=err)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["job"] == "fraud_monitor" and summary["at"] == "2026-11-22T10:00:00+00:00"
    assert (summary["rules"], summary["blocked"]) == (0, 0) and summary["seconds"] >= 0
    assert "Running fraud_monitor" in err.getvalue() and "Done fraud_monitor" in err.getvalue()
    with pytest.raises(CommandError):
        call_command("run_job", "no_such_job", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError):
        call_command("run_job", "fraud_monitor", "--at", "yesterday", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db(transaction=True)
def test_celery_task_skips_a_job_already_running_elsewhere():
    assert run_job_task.apply(args=["fraud_monitor", "2026-11-22T10:00:00+00:00"]).get() == {
        "rules": 0,
        "breaches": 0,
        "blocked": 0,
    }
    held, release, results = threading.Event(), threading.Event(), []

    def holder():
        try:
            with job_lock("fraud_monitor") as acquired:
                results.append(acquired)
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    try:
        assert run_job_task.apply(args=["fraud_monitor"]).get() == {"skipped": "already running"}
    finally:
        release.set()
        thread.join()
    assert results == [True]
    assert run_job_task.apply(args=["fraud_monitor"]).get()["rules"] == 0
