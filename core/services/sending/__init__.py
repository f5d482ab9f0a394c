"""Sending mailings over SMTP: the only package of the project that talks to the mail server.

A run of a mailing is an `Attempt` with one `Delivery` ledger line per recipient, written when
the run is claimed. Whoever holds the attempt's lease (a random token and an expiry, renewed
while the run goes on) sends to its pending recipients; a run whose lease expired lost its
sender (killed, host gone) and the next `send_mailings` takes it over, as it takes a run waiting
to resume once its `resume_at` has come. Claims take database row locks
(`select_for_update(skip_locked=True)`; on SQLite every write transaction starts with BEGIN
IMMEDIATE, which serialises the claims instead).

Inside a run, the main thread owns the database: it streams the pending recipients to
`EMAIL_CONCURRENCY` worker threads, each with its own SMTP connection, and records their
results. A worker waits until the main thread has recorded its previous message before it
sends the next one's content, so a run killed at any moment leaves at most one message per
connection sent but not recorded (and sent again by the run that takes over).

The modules, in the order a run meets them:

* `runs`: the public services (send what is due, send one mailing now, run a claimed run);
* `background`: the tasks that send a saved or "send now" mailing on a worker;
* `controls`: what holds a run back (a stop request, a paused or disabled mailing, a blocked
  owner) and the one open run a mailing may have;
* `claims`: opening and claiming runs under a lease;
* `batches`: a run's ledger in batches under leases of their own, so several sender
  processes share one run (its holder ends it; the others join);
* `quota`: the owner's daily letter quota, reserved by runs as they hand out letters;
* `rate`: EMAIL_RATE_LIMIT, a token bucket per mail server shared by every sender process;
* `identity`: who the letters say they come from (From, Reply-To, Message-ID domain, EHLO);
* `letters`: the letter, built once per run and personalised per recipient;
* `personalisation`: the placeholders of a message, and Markdown to sanitised HTML;
* `dkim`: the DKIM signature of each letter, when a key is configured;
* `workers`: the run itself, SMTP worker threads fed from the ledger;
* `smtp`: one SMTP connection and what the server's replies mean;
* `ledger`: a run's ending, its counts and summary, and when it resumes;
* `previews`: a letter as a client would receive it, and the test send to its author.
"""

from core.services.sending.background import mailing_send_enqueue
from core.services.sending.controls import SendRefused, attempts_request_stop
from core.services.sending.ledger import RunReport
from core.services.sending.previews import (
    LetterPreview,
    TestSendResult,
    letter_preview,
    message_send_test,
)
from core.services.sending.runs import (
    attempt_run,
    mailing_send_now,
    mailing_send_start,
    mailings_send_due,
)

__all__ = [
    "LetterPreview",
    "RunReport",
    "SendRefused",
    "TestSendResult",
    "attempt_run",
    "attempts_request_stop",
    "letter_preview",
    "mailing_send_enqueue",
    "mailing_send_now",
    "mailing_send_start",
    "mailings_send_due",
    "message_send_test",
]
