"""Send the mailings that are due (cron and the scheduler loop), or one mailing now."""

from django.core.management.base import BaseCommand, CommandError

from core.models import Attempt, Mailing
from core.outcomes import outcome_text
from core.services import health, imports, sending


class Command(BaseCommand):
    help = (
        "Send every mailing that is due, finishing runs whose sender vanished, and resume "
        "interrupted imports; "
        "with --mailing ID, send that mailing now whatever its schedule."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--mailing", type=int, help="send this mailing now")
        parser.add_argument(
            "--if-due",
            action="store_true",
            help="with --mailing: only its due run, as the schedule says (a saved mailing)",
        )
        parser.add_argument(
            "--attempt", type=int, help="send a run opened by the 'send now' button"
        )

    def handle(self, *args, mailing: int | None, if_due: bool, attempt: int | None, **options):
        if attempt is not None:
            if not Attempt.objects.filter(pk=attempt).exists():
                raise CommandError(f"No attempt {attempt}.")
            reports = sending.mailings_send_due(attempt_id=attempt)
        elif mailing is not None and if_due:
            reports = sending.mailings_send_due(mailing_id=mailing)
        elif mailing is not None:
            found = Mailing.objects.select_related("message").filter(pk=mailing).first()
            if found is None:
                raise CommandError(f"No mailing {mailing}.")
            try:
                reports = [sending.mailing_send_now(mailing=found)]
            except sending.SendRefused as refusal:
                self.stdout.write(f"mailing {mailing}: {refusal}")
                return
        else:
            # The scheduler's tick (cron or run_scheduler): /healthz watches that it comes.
            health.heartbeat_beat(health.SCHEDULER)
            # Imports whose worker died (a restart) go on by themselves, a few times at most.
            if resumed := imports.imports_resume_interrupted():
                self.stdout.write(f"Resumed {resumed} interrupted import(s).")
            reports = sending.mailings_send_due()
        for report in reports:
            if report.status == "joined":
                # A share of a run another sender holds (and reports when it ends it).
                self.stdout.write(
                    f"mailing {report.mailing_id}: helped with run {report.attempt_id}, "
                    f"sent {report.accepted}"
                )
                continue
            self.stdout.write(
                f"mailing {report.mailing_id} attempt {report.attempt_id}: {report.status}, "
                f"sent {report.accepted}, failed {report.failed}, pending {report.pending}, "
                f"skipped {report.skipped}"
                + (
                    f" ({outcome_text(report.server_response)})"
                    if report.status != "success"
                    else ""
                )
            )
        if not reports and attempt is not None:
            # Another sender holds the run, or it ended: a second start of one run does nothing.
            self.stdout.write(f"Attempt {attempt} has a sender already or is over.")
        elif not reports:
            self.stdout.write("No mailing is due.")
