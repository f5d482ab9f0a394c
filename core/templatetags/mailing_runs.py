"""How a run of a mailing reads on its pages: one sentence in the reader's language, said from
the run's own counts and times, with the server's raw words kept apart."""

from django import template
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.models import Attempt
from core.outcomes import outcome_text

register = template.Library()


@register.filter
def outcome(stored: str) -> str:
    """A stored reply or outcome (see core.outcomes) in the reader's language and time zone;
    the mail server's own words word for word."""
    return outcome_text(stored)


def _when(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


@register.simple_tag
def run_summary(attempt: Attempt) -> str:
    """What happened to `attempt`, as a sentence: waiting letters say when they are tried
    again. Written in the reader's language whatever language the sender ran in."""
    pending, failed = attempt.pending_count, attempt.failed_count
    if attempt.is_waiting_to_resume:
        return ngettext(
            "%(count)d letter is waiting; the next try is at %(when)s.",
            "%(count)d letters are waiting; the next try is at %(when)s.",
            pending,
        ) % {"count": pending, "when": _when(attempt.resume_at)}
    if attempt.status == Attempt.Status.RUNNING:
        return ngettext(
            "Sending: %(count)d letter to go.", "Sending: %(count)d letters to go.", pending
        ) % {"count": pending}
    if attempt.status == Attempt.Status.STOPPED:
        return ngettext(
            "Stopped: %(count)d letter was not sent.",
            "Stopped: %(count)d letters were not sent.",
            pending,
        ) % {"count": pending}
    if failed:
        return ngettext("%(count)d letter failed.", "%(count)d letters failed.", failed) % {
            "count": failed
        }
    if attempt.status == Attempt.Status.FAILURE:
        return _("The run failed before any letter went out.")
    return _("Every letter was accepted.")
