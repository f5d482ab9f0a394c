"""Acting on many clients at once (the client table's bulk actions): each a few queries, however
many clients, run by the caller inside one transaction."""

from django.db.models import Q, QuerySet

from core.models import Client, Mailing, Tag

BATCH = 2000


def _client_ids(clients: QuerySet[Client]) -> list[int]:
    return list(clients.order_by().values_list("pk", flat=True))


def clients_tag(*, clients: QuerySet[Client], tags: list[Tag]) -> int:
    """Give every one of `clients` these tags (those it has stay once); how many clients."""
    ids = _client_ids(clients)
    through = Client.tags.through
    through.objects.bulk_create(
        (through(client_id=pk, tag_id=tag.pk) for pk in ids for tag in tags),
        batch_size=BATCH,
        ignore_conflicts=True,
    )
    return len(ids)


def clients_untag(*, clients: QuerySet[Client], tags: list[Tag]) -> int:
    """Take these tags off every one of `clients`; how many clients."""
    ids = _client_ids(clients)
    Client.tags.through.objects.filter(client_id__in=clients.order_by().values("pk")).filter(
        tag__in=tags
    ).delete()
    return len(ids)


def clients_add_to_mailing(*, clients: QuerySet[Client], mailing: Mailing) -> int:
    """Make every one of `clients` a chosen client of `mailing`; how many clients."""
    ids = _client_ids(clients)
    through = Mailing.clients.through
    through.objects.bulk_create(
        (through(client_id=pk, mailing_id=mailing.pk) for pk in ids),
        batch_size=BATCH,
        ignore_conflicts=True,
    )
    return len(ids)


def mailings_losing(*, clients: QuerySet[Client]) -> QuerySet[Mailing]:
    """The mailings that would send to some of `clients` (chosen, or through a tag) and lose
    them if they were deleted."""
    ids = clients.order_by().values("pk")
    chosen = Mailing.clients.through.objects.filter(client_id__in=ids).values("mailing_id")
    tagged = Mailing.tags.through.objects.filter(tag__clients__in=ids).values("mailing_id")
    return Mailing.objects.filter(Q(pk__in=chosen) | Q(pk__in=tagged)).select_related("message")


def clients_delete(*, clients: QuerySet[Client]) -> int:
    """Delete `clients`; past deliveries keep the address they were sent to. How many."""
    ids = _client_ids(clients)
    for start in range(0, len(ids), BATCH):
        Client.objects.filter(pk__in=ids[start : start + BATCH]).delete()
    return len(ids)
