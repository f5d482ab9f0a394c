"""Sending outside the request: tasks of Django's tasks framework, run by
`manage.py run_worker` (django-tasks-db's `db_worker` with a heartbeat).

A task is a row of the database (django-tasks-db), written in the same transaction as what
asked for it: a mailing saved while due and the task that sends it commit together or not at
all. Any number of workers, on any number of hosts sharing the database, take the tasks; the
run they start is claimed under its lease as always, so a task run twice sends nothing twice.
"""

from django.conf import settings
from django.tasks import task

from core.services.sending.runs import mailings_send_due


@task
def mailing_send_due_task(mailing_id: int) -> int:
    """Send the due run of a mailing saved while due; the number of runs sent."""
    return len(mailings_send_due(mailing_id=mailing_id))


@task
def attempt_send_task(attempt_id: int) -> int:
    """Send a run opened by "send now"; the number of runs sent (0: another sender has it)."""
    return len(mailings_send_due(attempt_id=attempt_id))


def mailing_send_enqueue(*, mailing_id: int | None = None, attempt_id: int | None = None) -> None:
    """Have a worker send a mailing saved while due, or the run "send now" opened.

    SENDING_WORKERS_PER_RUN tasks: the worker that takes the first holds the run, those that
    take the others join it and work its batches alongside (one that comes late finds nothing
    left and ends at once).
    """
    for _share in range(max(1, settings.SENDING_WORKERS_PER_RUN)):
        if attempt_id is not None:
            attempt_send_task.enqueue(attempt_id)
        else:
            mailing_send_due_task.enqueue(mailing_id)
