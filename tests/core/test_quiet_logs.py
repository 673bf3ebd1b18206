"""Logs say what matters: a sent e-mail is not a warning."""

from loyalty_site.celery import app


def test_the_worker_logs_what_tasks_print_at_info():
    # the console e-mail backend prints each e-mail; Celery logs a worker's printed lines at this level
    assert app.conf.worker_redirect_stdouts_level == "INFO"
