"""gunicorn reads this file from the working directory (the project folder) by itself.

With PROMETHEUS_MULTIPROC_DIR set, each worker process writes its metrics to that folder and
`/metrics` sums them; a worker that exits has its live gauges marked dead here."""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
