"""Member imports as resumable jobs (issue 21 item 5): the admin upload of any size runs as a
background job with a progress page and the bad rows by line; a run killed (an exception after a
committed batch, a real `kill -9` of the command) resumes after its last committed batch with
nothing doubled."""

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from accounts.models import Member
from ledger.jobs import ledger_reconcile
from ledger.models import Lot, Posting
from reports import tasks
from reports.import_jobs import import_job_for_file, import_job_run
from reports.models import ImportFilePart, ImportJob, ImportRowError

ROOT = Path(__file__).resolve().parents[2]


def _csv(rows: int, *, bad_every: int = 0, prefix: str = "j") -> str:
    lines = ["external_id,phone,balance,tier"]
    for n in range(1, rows + 1):
        phone = "12" if bad_every and n % bad_every == 0 else f"+99455{n:07d}"
        lines.append(f"{prefix}-{n},{phone},{n % 50 + 1},{'gold' if n % 10 == 0 else ''}")
    return "\n".join(lines) + "\n"


def _ledger_of(program):
    """What an import wrote: members, postings per member reference, lots, reconcile."""
    postings = Counter(Posting.objects.filter(program=program).values_list("reference", flat=True))
    return {
        "members": Member.objects.filter(program=program).count(),
        "doubled_postings": sorted(ref for ref, count in postings.items() if count > 1),
        "postings": sum(postings.values()),
        "lots": Lot.objects.filter(program=program).count(),
        "points": sum(Member.objects.filter(program=program).values_list("balance", flat=True)),
    }


def test_admin_upload_of_any_size_runs_as_a_job_with_progress_and_bad_rows(
    client, staff_user, seeded, django_capture_on_commit_callbacks, monkeypatch
):
    program, _member = seeded
    monkeypatch.setattr(
        tasks.import_job_run_task, "delay", lambda job_id: tasks.import_job_run_task.apply([job_id])
    )
    client.force_login(staff_user(program.merchant, "manager"))
    body = _csv(2600, bad_every=1000)  # over the old 2 000-row limit of a web request
    upload = SimpleUploadedFile("big.csv", body.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/admin/reports/import/", {"program": program.pk, "file": upload})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/reports/import/{job.pk}/"
    assert (job.status, job.file_size, job.file_name, job.created_by.username) == (
        "queued",
        len(body.encode()),
        "big.csv",
        response.wsgi_request.user.username,
    )
    assert b"".join(
        bytes(d) for d in ImportFilePart.objects.order_by("number").values_list("data", flat=True)
    ) == (body.encode())
    page = client.get(response["Location"]).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page and 'value="0"' in page

    assert len(callbacks) == 1
    callbacks[0]()  # the worker runs the task
    job.refresh_from_db()
    assert (job.status, job.rows, job.created, job.balances, job.tiers, job.bad_rows, job.percent) == (
        "done",
        2600,
        2598,
        2598,
        258,  # every 10th row asks for gold; two of them are the bad ones
        2,
        100,
    )
    assert list(ImportRowError.objects.filter(job=job).values_list("line", "reason")) == [
        (1001, "invalid phone '12'"),
        (2001, "invalid phone '12'"),
    ]
    page = client.get(f"/admin/reports/import/{job.pk}/").content.decode()
    assert 'value="100"' in page and "refresh" not in page
    assert "line 1001: invalid phone &#x27;12&#x27;" in page
    csv_text = b"".join(client.get(f"/admin/reports/import/{job.pk}/?format=csv").streaming_content).decode()
    assert csv_text.splitlines() == [
        "\ufeffline,reason",
        "1001,invalid phone '12'",
        "2001,invalid phone '12'",
    ]
    assert "big.csv" in client.get("/admin/reports/import/").content.decode()

    analyst = staff_user(program.merchant, "analyst")
    client.force_login(analyst)
    assert client.get("/admin/reports/import/").status_code == 403


def test_a_job_of_another_merchant_is_not_found(client, staff_user, seeded, tmp_path):
    from tests.factories import MerchantFactory, ProgramFactory

    program, _member = seeded
    other = ProgramFactory(merchant=MerchantFactory())
    path = tmp_path / "m.csv"
    path.write_text(_csv(3), encoding="utf-8")
    job, _resumed = import_job_for_file(program=other, path=str(path), at=other.created_at)
    client.force_login(staff_user(program.merchant, "owner"))
    assert client.get(f"/admin/reports/import/{job.pk}/").status_code == 404


def test_a_run_that_dies_after_a_batch_resumes_with_nothing_doubled(seeded, tmp_path, moment):
    program, _member = seeded
    path = tmp_path / "members.csv"
    path.write_text(_csv(900, bad_every=250), encoding="utf-8")
    job, resumed = import_job_for_file(program=program, path=str(path), at=moment)
    assert not resumed

    class Killed(Exception):
        pass

    def die_after_two(current):
        if current.lines_done >= 401:
            raise Killed

    with pytest.raises(Killed):
        import_job_run(job.pk, batch_size=200, progress=die_after_two)
    job.refresh_from_db()
    assert (job.status, job.lines_done, job.rows, job.created, job.bad_rows) == ("running", 401, 400, 399, 1)

    again, resumed = import_job_for_file(program=program, path=str(path), at=moment)
    assert resumed and again.pk == job.pk
    job = import_job_run(job.pk, batch_size=200)
    assert (job.status, job.lines_done, job.rows, job.created, job.skipped, job.balances, job.bad_rows) == (
        "done",
        901,
        900,
        897,
        0,
        897,
        3,
    )
    assert list(job.row_errors.values_list("line", flat=True)) == [251, 501, 751]
    ledger = _ledger_of(program)
    assert ledger["doubled_postings"] == []
    assert ledger["members"] == 1 + 897
    assert Posting.objects.filter(program=program, reference__startswith="import-opening:").count() == 897


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_command_killed_with_sigkill_resumes_with_nothing_doubled(tmp_path):
    """A real `manage.py import_members` process, killed with SIGKILL right after it reported a
    committed batch, then the same command again: every member, posting and lot once, the job's
    counters the file's."""
    from django.utils import timezone

    from accounts.services import merchant_create, program_create
    from loyalty_site.core.presets import preset_apply

    program = program_create(merchant=merchant_create(name="Kill"), name="Kill", time_zone="UTC")
    preset_apply(program=program, preset="seed", at=timezone.now())
    path = tmp_path / "members.csv"
    path.write_text(_csv(3000, bad_every=700), encoding="utf-8")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "LOYALTY_TESTING": "1",
    }
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "import_members",
        str(path),
        "--program",
        str(program.pk),
        "--batch-size",
        "250",
        "--no-progress",
        "--verbosity",
        "2",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        committed = []
        for line in process.stdout:  # blocks until the process reports a committed batch
            if line.startswith("committed line"):
                committed.append(int(line.split()[-1]))
                if len(committed) == 2:
                    os.kill(process.pid, signal.SIGKILL)
                    break
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    job = ImportJob.objects.get(program=program)
    assert job.status == "running" and job.lines_done >= committed[-1] and job.lines_done < 3001
    members_then = Member.objects.filter(program=program).count()
    assert members_then >= 500

    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert f"resuming import job {job.pk} after line" in finished.stderr
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    assert summary == {
        "rows": 3000,
        "created": 2996,
        "skipped": 0,
        "balances": 2996,
        "points": summary["points"],
        "tiers": 300 - 4,  # every 10th row asks for gold; the four bad rows are among them
        "errors": 4,
        "warnings": 0,
        "job": job.pk,
    }
    assert summary["points"] == sum(n % 50 + 1 for n in range(1, 3001) if n % 700)
    ledger = _ledger_of(program)
    assert ledger["doubled_postings"] == []
    assert (ledger["members"], ledger["postings"], ledger["lots"], ledger["points"]) == (
        2996,
        2996,
        2996,
        summary["points"],
    )
    reconcile = ledger_reconcile()
    assert (reconcile["mismatches"], reconcile["unbalanced_postings"]) == (0, 0)
