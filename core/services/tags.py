"""Tags: finding the owner's tags by name, and making those that do not exist yet."""

from django.db import IntegrityError, transaction

from core.models import Tag, User, tag_key


def tags_ensure(*, owner: User, names: list[str]) -> list[Tag]:
    """The owner's tags of these names, created where missing; "vip" finds "VIP".

    A tag made at the same moment elsewhere (another tab, an import) is found, not doubled:
    the unique (owner, key) pair has the last word.
    """
    keys = {tag_key(name): name for name in names if name.strip()}
    found = {tag.key: tag for tag in Tag.objects.filter(owner=owner, key__in=keys)}
    for key, name in keys.items():
        if key in found:
            continue
        try:
            with transaction.atomic():
                found[key] = Tag.objects.create(owner=owner, name=name)
        except IntegrityError:
            found[key] = Tag.objects.get(owner=owner, key=key)
    return [found[key] for key in keys]
