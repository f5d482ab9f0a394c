"""Running the tasks that views and services queued (Django's tasks framework, stored by
django-tasks-db): in this process as a worker would, or in a real worker process."""

import subprocess

from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tests.sending.processes import start_child


def tasks_run() -> int:
    """Run every task queued so far, here, the way `manage.py db_worker` does; how many ran."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="tests",
        excluded_queue_names=[],
    )
    worker.run()
    return worker._run_tasks


def tasks_queued() -> list[str]:
    """The dotted names of the tasks waiting for a worker, oldest first."""
    return list(
        DBTaskResult.objects.ready().order_by("enqueued_at").values_list("task_path", flat=True)
    )


def start_worker(
    *arguments: str, env: dict[str, str], command: str = "db_worker"
) -> subprocess.Popen:
    """A real `manage.py db_worker` process (with `--batch` it exits once the queue is empty);
    `command="run_worker"` for the one that also beats the heartbeat."""
    return start_child(
        [command, "--no-startup-delay", "--no-reload", "--interval", "0.1", *arguments], env=env
    )
