"""The one way tests make users, clients, messages, mailings and the runs of a mailing.

Plain functions with keyword-only arguments: every default is one a test may rely on, and
everything else is passed by name. Texts default to Russian, like the service's users, so a
letter sent by any test carries 8-bit text, encoded-word names and a line that starts with a
dot.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from core.models import (
    Attempt,
    Client,
    Delivery,
    Import,
    Mailing,
    Message,
    Periodicity,
    Tag,
    User,
    client_search_text,
)
from core.services.sending.tally import letters_tally_add, run_ended_tally_add

PASSWORD = "correct horse battery staple"
SUBJECT = "Весенняя распродажа"
BODY = "Здравствуйте!\nСкидки до 50%.\n.точка в начале строки\n"  # noqa: RUF001 - Russian text

ACCEPTED = Delivery.Status.ACCEPTED
FAILED = Delivery.Status.FAILED
PENDING = Delivery.Status.PENDING
SKIPPED = Delivery.Status.SKIPPED

_FROM_START = object()  # next_run_at's default: the mailing's first send


def make_user(
    *, email: str = "anna@example.com", full_name: str = "Anna", password: str = PASSWORD
) -> User:
    return User.objects.create_user(email=email, password=password, full_name=full_name)


def make_superuser(*, email: str = "root@example.com", password: str = PASSWORD) -> User:
    """Someone who may use Django's admin."""
    return User.objects.create_superuser(email=email, password=password)


def make_client(
    *, owner: User, email: str = "client0@example.com", full_name: str = "Клиент Номер 0"
) -> Client:
    return Client.objects.create(owner=owner, email=email, full_name=full_name)


def make_tag(*, owner: User, name: str = "VIP", clients: Iterable[Client] = ()) -> Tag:
    tag = Tag.objects.create(owner=owner, name=name)
    tag.clients.add(*clients)
    return tag


def make_import(
    *,
    owner: User,
    content: bytes = b"email,name\nivan@example.com,Ivan\n",
    name: str = "clients.csv",
    done: bool = False,
    interrupted: bool = False,
) -> Import:
    """An import of `content` uploaded by `owner`, its columns guessed, not previewed yet; or
    with `done`, previewed and written (skipping existing addresses); or with `interrupted`,
    previewed, confirmed and taken by a writer that died before its first batch, its last
    progress an hour ago (the test of a real killed worker is in tests/test_import_resume.py)."""
    from core.services import imports

    imp = imports.import_upload(owner=owner, uploaded=SimpleUploadedFile(name, content))
    if done or interrupted:
        imports.import_preview(imp=imp, mapping=imp.mapping)
    if done:
        imp = imports.import_confirm(imp=imp, update_existing=False, tag_name="")
    if interrupted:
        an_hour_ago = timezone.now() - timedelta(hours=1)
        Import.objects.filter(pk=imp.pk).update(
            status=Import.Status.RUNNING,
            claim="dead-writer",
            progress_at=an_hour_ago,
            updated_at=an_hour_ago,
        )
        imp.refresh_from_db()
    return imp


def make_clients(
    *,
    owner: User,
    count: int | None = None,
    first: int = 0,
    email: str = "client{n}@example.com",
    full_name: str = "Клиент Номер {n}",
    full_names: Sequence[str] | None = None,
) -> list[Client]:
    """`count` clients numbered from `first`, in one query; `{n}` in the templates is the number
    (`"c{n:04}@example.com"` pads it). `full_names` gives each client its own name instead
    (and their number)."""
    names = (
        [full_name.format(n=n) for n in range(first, first + count)]
        if full_names is None
        else list(full_names)
    )
    return Client.objects.bulk_create(
        Client(
            owner=owner,
            email=email.format(n=n),
            full_name=name,
            # bulk_create skips save(): the search column is filled as an import fills it.
            search_text=client_search_text(email.format(n=n), name, ""),
        )
        for n, name in enumerate(names, start=first)
    )


def make_message(*, owner: User, subject: str = SUBJECT, body: str = BODY) -> Message:
    return Message.objects.create(owner=owner, subject=subject, body=body)


def make_messages(
    *, owner: User, count: int, subject: str = "Subject {n:04}", body: str = "Body {n}"
) -> list[Message]:
    """`count` messages in one query; `{n}` in the templates is the number from 0."""
    return Message.objects.bulk_create(
        Message(owner=owner, subject=subject.format(n=n), body=body.format(n=n))
        for n in range(count)
    )


def make_mailing(
    *,
    owner: User,
    message: Message | None = None,
    subject: str = SUBJECT,
    body: str = BODY,
    clients: Iterable[Client] = (),
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    periodicity: str = Periodicity.DAILY,
    status: str = Mailing.Status.CREATED,
    next_run_at: datetime | object | None = _FROM_START,
    name: str = "",
    time_zone: str = "",
) -> Mailing:
    """A mailing of `message` (a new one of `subject` and `body` if None) to `clients`.

    By default its first send was a minute ago and its window lasts 30 days from there, and
    `next_run_at` is its first send, as scheduling leaves a saved mailing: it is due now.
    Pass `next_run_at=None` for one the scheduler never picks up. Its name is the message's
    subject unless given; its time zone its owner's unless given.
    """
    start_at = start_at or timezone.now() - timedelta(minutes=1)
    message = message or make_message(owner=owner, subject=subject, body=body)
    mailing = Mailing.objects.create(
        owner=owner,
        name=name or message.subject,
        time_zone=time_zone or owner.time_zone,
        message=message,
        start_at=start_at,
        end_at=end_at or start_at + timedelta(days=30),
        periodicity=periodicity,
        status=status,
        next_run_at=start_at if next_run_at is _FROM_START else next_run_at,
    )
    mailing.clients.set(clients)
    return mailing


def make_mailings(
    *, owner: User, message: Message, clients: Iterable[Client], count: int
) -> list[Mailing]:
    """`count` mailings of one message to the same clients, starting an hour apart from now,
    in two queries."""
    now = timezone.now()
    mailings = Mailing.objects.bulk_create(
        Mailing(
            owner=owner,
            name=message.subject,
            message=message,
            start_at=now + timedelta(hours=n),
            end_at=now + timedelta(days=30),
        )
        for n in range(count)
    )
    clients = list(clients)
    Mailing.clients.through.objects.bulk_create(
        Mailing.clients.through(mailing=mailing, client=client)
        for mailing in mailings
        for client in clients
    )
    return mailings


def record_run(
    mailing: Mailing,
    outcomes: Mapping[str, tuple[str, str]],
    *,
    at: datetime,
    status: str | None = None,
    server_response: str = "",
) -> Attempt:
    """One run written straight to the ledger (and the dashboard's tally), as the sending
    engine would leave it.

    `outcomes` maps each recipient's email to (delivery status, server reply); the run's status
    follows from them unless given.
    """
    counts = {
        s: sum(1 for o, _ in outcomes.values() if o == s)
        for s in (ACCEPTED, FAILED, PENDING, SKIPPED)
    }
    if status is None:
        status = (
            Attempt.Status.RUNNING
            if counts[PENDING]
            else (Attempt.Status.SUCCESS if counts[ACCEPTED] else Attempt.Status.FAILURE)
        )
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=at,
        status=status,
        server_response=server_response,
        finished_at=None if status == Attempt.Status.RUNNING else at,
        accepted_count=counts[ACCEPTED],
        failed_count=counts[FAILED],
        pending_count=counts[PENDING],
        skipped_count=counts[SKIPPED],
    )
    clients = {
        c.email: c for c in Client.objects.filter(owner=mailing.owner_id, email__in=outcomes)
    }
    Delivery.objects.bulk_create(
        Delivery(
            attempt=attempt,
            mailing=mailing,
            owner_id=mailing.owner_id,
            client=clients.get(email),
            email=email,
            status=outcome,
            reply=reply,
            tries=0 if outcome in (PENDING, SKIPPED) else 1,
            sent_at=None if outcome in (PENDING, SKIPPED) else at,
        )
        for email, (outcome, reply) in outcomes.items()
    )
    # As the engine adds the outcomes it writes, and the runs it ends, to the dashboard's tally.
    with connection.cursor() as cursor:
        letters_tally_add(
            cursor,
            owner_id=mailing.owner_id,
            moment=at,
            accepted=counts[ACCEPTED],
            failed=counts[FAILED],
        )
    run_ended_tally_add(attempt=attempt, status=status)
    return attempt
