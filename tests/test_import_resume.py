"""An import whose worker is killed mid-way: it shows as interrupted, with how far it got, and
resumes from there (each address written once, the counts those of an uninterrupted import) or
is cancelled keeping what it wrote; the scheduler's tick resumes it by itself a few times
(core.services.imports, core.views.imports)."""

import csv
import io
import os
import signal
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Count
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from core.models import Client, Import
from core.services import imports
from tests.factories import make_clients, make_import, make_user
from tests.sending.processes import child_database_environment, wait_for
from tests.tasks import start_worker, tasks_queued, tasks_run

# Enough rows for a dozen batches: the worker is killed once two are written, long before the
# last; every 50th row repeats an earlier address, every 70th is invalid, and every 10th address
# is among the owner's clients already (updated by the import).
ROWS = 12_000
TWO_ROWS = b"email,name\na@example.com,A\nb@example.com,B\n"


def big_file() -> bytes:
    lines = ["email;name;comment"]
    for n in range(ROWS):
        if n % 70 == 69:
            lines.append(f"not-an-email-{n};Bad {n};")
        elif n % 50 == 49:
            lines.append(f"C{n - 25}@Example.com;Again {n};repeat")
        else:
            lines.append(f"c{n}@example.com;Client {n};row {n}")
    return ("\n".join(lines) + "\n").encode()


def existing_clients(owner) -> None:
    make_clients(owner=owner, count=ROWS // 10, email="c{n}7@example.com")


def confirmed(owner) -> Import:
    imp = make_import(owner=owner, content=big_file())
    imports.import_preview(imp=imp, mapping=imp.mapping)
    return imports.import_confirm(imp=imp, update_existing=True, tag_name="Batch")


def worker_environment() -> dict[str, str]:
    return (
        os.environ
        | child_database_environment()
        | {"DJANGO_SETTINGS_MODULE": "mailing_service.settings_test", "LANG": "C.UTF-8"}
    )


def outcome(imp: Import) -> dict:
    imp.refresh_from_db()
    return {
        name: getattr(imp, name)
        for name in ("status", "processed_rows", "added", "updated", "skipped", "refused")
    }


def clients_of(owner) -> list[tuple]:
    return sorted(
        Client.objects.filter(owner=owner)
        .annotate(tagged=Count("tags"))
        .values_list("email", "full_name", "comment", "tagged")
    )


def refused_rows(imp: Import) -> list[list[str]]:
    """The refused rows' cells and numbers (the reasons are in the writer's language)."""
    with imports.refused_path(imp).open(encoding="utf-8-sig", newline="") as file:
        return [row[:-1] for row in csv.reader(file, delimiter=";")][1:]


def made_stale(imp: Import) -> None:
    """Let IMPORT_STALL_SECONDS pass since the import's last progress."""
    long_ago = timezone.now() - timedelta(seconds=settings.IMPORT_STALL_SECONDS + 1)
    Import.objects.filter(pk=imp.pk).update(progress_at=long_ago)


# Worker processes need the data committed: transaction-less tests.
@pytest.mark.django_db(transaction=True)
def test_a_killed_import_resumes_where_it_stopped_and_ends_as_an_uninterrupted_one(
    user, user_client, other_user
):
    # The same file and clients, imported without interruption, for the counts to match.
    existing_clients(other_user)
    uninterrupted = confirmed(other_user)
    assert tasks_run() == 1
    expected = outcome(uninterrupted)
    assert expected["status"] == Import.Status.DONE
    assert expected["added"] > 0 and expected["updated"] > 0 and expected["skipped"] > 0
    assert expected["refused"] > 0

    existing_clients(user)
    before = Client.objects.filter(owner=user).count()
    imp = confirmed(user)
    worker = start_worker("--batch", env=worker_environment())
    try:
        wait_for(lambda: outcome(imp)["processed_rows"] >= 2 * imports.BATCH, timeout=120)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()

    killed = outcome(imp)
    assert killed["status"] == Import.Status.RUNNING
    assert killed["processed_rows"] < imp.total_rows, "the worker finished before the kill"
    # What the import recorded is exactly what it wrote.
    assert Client.objects.filter(owner=user).count() == before + killed["added"]
    page = user_client.get(reverse("import-detail", args=[imp.pk])).content.decode()
    assert "Interrupted" not in page  # not yet: its last progress is recent
    assert 'hx-trigger="every 1s"' in page

    made_stale(imp)
    page = user_client.get(reverse("import-detail", args=[imp.pk])).content.decode()
    assert (
        f"after {killed['processed_rows']} of {imp.total_rows} rows" in page
        and f"added {killed['added']}, updated {killed['updated']}" in page
        and "hx-trigger" not in page
    )

    response = user_client.post(reverse("import-resume", args=[imp.pk]))
    assert response.status_code == 302
    assert outcome(imp)["status"] == Import.Status.CONFIRMED
    assert tasks_queued() == ["core.services.imports.import_commit_task"]
    worker = start_worker("--batch", env=worker_environment())
    output, _ = worker.communicate(timeout=300)
    assert worker.returncode == 0, output

    resumed = outcome(imp)
    assert resumed == expected
    assert Client.objects.filter(owner=user).count() == before + expected["added"]
    assert clients_of(user) == clients_of(other_user)
    assert refused_rows(imp) == refused_rows(uninterrupted)
    assert list(settings.IMPORT_DIR.glob(f"{imp.token}.*")) == [imports.refused_path(imp)]
    page = user_client.get(reverse("import-detail", args=[imp.pk])).content.decode()
    assert f"Added: {expected['added']}. Updated: {expected['updated']}." in page


@pytest.mark.django_db
def test_cancelling_an_interrupted_import_ends_it_and_keeps_its_counts(user, user_client):
    imp = make_import(owner=user, content=TWO_ROWS, interrupted=True)
    Import.objects.filter(pk=imp.pk).update(processed_rows=1, added=1)
    page = user_client.get(reverse("import-detail", args=[imp.pk])).content.decode()
    assert "Resume" in page and "Cancel the import" in page

    response = user_client.post(reverse("import-cancel", args=[imp.pk]), follow=True)

    assert outcome(imp) == {
        "status": Import.Status.CANCELLED,
        "processed_rows": 1,
        "added": 1,
        "updated": 0,
        "skipped": 0,
        "refused": 0,
    }
    page = response.content.decode()
    assert "The import is cancelled. The clients it wrote stay." in page
    assert "Cancelled after 1 of 2 rows. What it wrote stays: added 1" in page
    # Neither the user nor the scheduler brings a cancelled import back.
    user_client.post(reverse("import-resume", args=[imp.pk]))
    call_command("send_mailings", stdout=io.StringIO())
    imp.refresh_from_db()
    assert imp.status == Import.Status.CANCELLED
    assert tasks_queued() == []


@pytest.mark.django_db
def test_an_import_still_making_progress_can_be_neither_resumed_nor_cancelled(user, user_client):
    imp = make_import(owner=user, interrupted=True)
    Import.objects.filter(pk=imp.pk).update(progress_at=timezone.now())

    for name in ("import-resume", "import-cancel"):
        response = user_client.post(reverse(name, args=[imp.pk]), follow=True)
        assert "no longer interrupted" in response.content.decode()

    imp.refresh_from_db()
    assert imp.status == Import.Status.RUNNING
    assert tasks_queued() == []


@pytest.mark.django_db
def test_another_users_import_is_a_404_for_resume_and_cancel(user, other_user, user_client):
    theirs = make_import(owner=other_user, interrupted=True)

    for name in ("import-resume", "import-cancel"):
        assert user_client.post(reverse(name, args=[theirs.pk])).status_code == 404
        assert user_client.get(reverse(name, args=[theirs.pk])).status_code == 404

    theirs.refresh_from_db()
    assert theirs.status == Import.Status.RUNNING
    assert tasks_queued() == []


@pytest.mark.django_db
def test_resume_and_cancel_need_the_csrf_token(user):
    imp = make_import(owner=user, interrupted=True)
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(user)

    for name in ("import-resume", "import-cancel"):
        assert browser.post(reverse(name, args=[imp.pk])).status_code == 403
    imp.refresh_from_db()
    assert imp.status == Import.Status.RUNNING

    page = browser.get(reverse("import-detail", args=[imp.pk]))
    token = page.context["csrf_token"]
    response = browser.post(reverse("import-resume", args=[imp.pk]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.status == Import.Status.CONFIRMED


@pytest.mark.django_db
def test_the_scheduler_tick_resumes_an_interrupted_import_once_and_a_few_times_at_most(user):
    imp = make_import(owner=user, interrupted=True)
    busy = make_import(owner=make_user(email="busy@example.com"), interrupted=True)
    Import.objects.filter(pk=busy.pk).update(progress_at=timezone.now())

    call_command("send_mailings", stdout=io.StringIO())
    call_command("send_mailings", stdout=io.StringIO())

    # Two ticks, one task: the second finds the import queued, no longer interrupted.
    assert tasks_queued() == ["core.services.imports.import_commit_task"]
    imp.refresh_from_db()
    assert (imp.status, imp.resumes) == (Import.Status.CONFIRMED, 1)
    busy.refresh_from_db()
    assert busy.status == Import.Status.RUNNING

    # Resumed AUTO_RESUMES times and interrupted again: the user decides now.
    Import.objects.filter(pk=imp.pk).update(
        status=Import.Status.RUNNING, resumes=imports.AUTO_RESUMES
    )
    made_stale(imp)
    assert imports.imports_resume_interrupted() == 0
    imp.refresh_from_db()
    assert imp.is_interrupted


@pytest.mark.django_db(transaction=True)
def test_a_writer_that_lost_its_import_writes_nothing_more(user):
    """A writer thought dead (its progress stale) that wakes up after the import was resumed
    by another: its batch rolls back, and the new writer's counts stand."""
    imp = make_import(owner=user, content=TWO_ROWS, interrupted=True)
    stale = imports._Writer(imp, claim="dead-writer")
    assert imports.import_resume(imp=imp)
    assert tasks_run() == 1
    done = outcome(imp)

    with pytest.raises(imports._Released):
        stale.write()

    assert outcome(imp) == done
    assert Client.objects.filter(owner=user).count() == 2
