"""EMAIL_RATE_LIMIT: letters a minute per mail server, shared by every sender process.

A token bucket per server lives in one database row (`MailServerRate`). It refills at the
limit's pace and holds at most one block, about a second's worth of letters (at most
`_BLOCK_MAX`); a sender takes a block at a time under the row's lock and hands one letter to a
connection per token. So the database sees about one short transaction per sender and second,
and in any window of W seconds the server gets at most W x limit / 60 letters, plus the bucket
and one block per sender taken just before the window.
"""

from datetime import datetime

from django.db import transaction

from core.models import MailServerRate

_BLOCK_MAX = 100


def rate_block(per_minute: int) -> int:
    """Letters a sender takes at a time, and the most the bucket holds: about a second's."""
    return max(1, min(per_minute // 60, _BLOCK_MAX))


def rate_take(*, server: str, per_minute: int, now: datetime) -> tuple[int, float]:
    """Take up to one block of tokens for `server`; (letters granted, seconds until the next
    token when none was granted). Three queries under the bucket's row lock."""
    per_second = per_minute / 60
    block = rate_block(per_minute)
    with transaction.atomic():
        MailServerRate.objects.bulk_create(
            [MailServerRate(server=server, tokens=block, refilled_at=now)], ignore_conflicts=True
        )
        bucket = MailServerRate.objects.select_for_update().get(server=server)
        elapsed = max(0.0, (now - bucket.refilled_at).total_seconds())
        tokens = min(float(block), bucket.tokens + elapsed * per_second)
        granted = min(block, int(tokens))
        bucket.tokens = tokens - granted
        bucket.refilled_at = max(now, bucket.refilled_at)
        bucket.save(update_fields=["tokens", "refilled_at"])
    wait = 0.0 if granted else (1.0 - bucket.tokens) / per_second
    return granted, wait
