"""The domain: users, their clients and messages, mailings, and the attempts to send them."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.outcomes import outcome_text


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone this machine knows, by name, for a user or a mailing to pick."""
    return [(name, name.replace("_", " ")) for name in sorted(available_timezones())]


def default_time_zone() -> str:
    """The service's zone (TIME_ZONE): what a user and a mailing start with."""
    return settings.TIME_ZONE


def zone_or_default(name: str) -> ZoneInfo:
    """The zone called `name`; the service's when the name is empty or unknown here."""
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def normalize_email_address(value: str | None) -> str | None:
    """The form in which an email is stored and compared: trimmed and lower-cased."""
    return value.strip().lower() if isinstance(value, str) else value


# The largest key a BigAutoField holds; a larger number names no row (and overflows SQLite).
MAX_OBJECT_ID = 2**63 - 1


def parse_object_id(value: object) -> int | None:
    """The object id that a query parameter or form value names; None for anything else.

    `str.isdigit` is not enough: it accepts "²" and other non-ASCII digits that int() refuses,
    and numbers past what the database's keys hold.
    """
    text = str(value).strip() if value is not None else ""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_OBJECT_ID else None


class NormalizedEmailField(models.EmailField):
    """An email field that stores, and looks up, the trimmed lower-case form of the address."""

    def to_python(self, value):
        return normalize_email_address(super().to_python(value))

    def get_prep_value(self, value):
        return normalize_email_address(super().get_prep_value(value))

    def pre_save(self, model_instance, add):
        value = normalize_email_address(getattr(model_instance, self.attname))
        setattr(model_instance, self.attname, value)
        return value


class UserManager(DjangoUserManager):
    """Users sign in with their email; there is no username."""

    use_in_migrations = True

    def _create_user_object(self, username, email, password, **extra_fields):
        # Django's manager passes the username field's value as `username`; ours is the email.
        email = normalize_email_address(email or username)
        user = self.model(email=email, **extra_fields)
        user.password = ""
        user.set_password(password)
        return user

    def _create_user(self, username, email, password, **extra_fields):
        # An account made by the operator (createsuperuser, the demo, the admin, tests) is
        # verified; sign-up passes email_verified_at=None and is_active=False instead.
        extra_fields.setdefault("email_verified_at", timezone.now())
        user = self._create_user_object(username, email, password, **extra_fields)
        user.save(using=self._db)
        return user

    def create_user(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(None, email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(None, email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in and manages their own clients, messages and mailings."""

    username = None
    first_name = None
    last_name = None
    email = NormalizedEmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=255, blank=True)
    # The sender profile: how this user's letters introduce themselves. Empty fields fall back
    # to the operator's DEFAULT_FROM_EMAIL (see core.services.sending.identity).
    sender_name = models.CharField(_("sender name"), max_length=100, blank=True)
    reply_to = NormalizedEmailField(_("reply-to address"), max_length=254, blank=True)
    # Only at a domain the operator allows (EMAIL_ALLOWED_FROM_DOMAINS); else DEFAULT_FROM_EMAIL.
    from_email = NormalizedEmailField(_("from address"), max_length=254, blank=True)
    # When the user opened the link of their verification letter. A new account is inactive
    # (it cannot sign in) until then; the demo account and superusers are verified at birth.
    email_verified_at = models.DateTimeField(_("email verified"), null=True, blank=True)
    # Set by a manager, with a reason: a blocked user cannot sign in and nothing of theirs is sent.
    blocked_at = models.DateTimeField(_("blocked"), null=True, blank=True)
    blocked_reason = models.TextField(_("reason for blocking"), blank=True)
    # Letters a day this user's runs may send; empty: the service's DAILY_LETTER_QUOTA.
    daily_quota = models.PositiveIntegerField(_("daily letter quota"), null=True, blank=True)
    # Every date this user sees or types is in this zone (core.middleware activates it), and a
    # mailing they create keeps its wall-clock times in it.
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=default_time_zone, choices=time_zone_choices
    )

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name or self.email


class OwnedModel(models.Model):
    """Something that belongs to exactly one user; nobody else ever sees it."""

    owner = models.ForeignKey(
        User, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


def tag_key(name: str) -> str:
    """The form of a tag's name that tells tags apart: "VIP", " vip " and "Vip" are one tag."""
    return " ".join(name.split()).casefold()


class Tag(OwnedModel):
    """A label of the owner's own that clients carry; a mailing may go to every client with it."""

    name = models.CharField(_("name"), max_length=50)
    # tag_key(name), kept by save(): the unique pair below makes tags case-insensitive.
    key = models.CharField(max_length=50, editable=False)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "key"],
                name="tag_unique_per_owner",
                violation_error_message=_("You have this tag already."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name = " ".join(self.name.split())
        self.key = tag_key(self.name)
        if kwargs.get("update_fields") is not None and "name" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "key"}
        super().save(*args, **kwargs)


def client_search_text(email: str | None, full_name: str | None, comment: str | None) -> str:
    """What client search looks in: the email, full name and comment, case-folded.

    Python folds the case (Cyrillic included), so the database only compares with `contains`:
    SQLite's LIKE and LOWER fold ASCII alone, and "иван" would miss "Иван". A line break keeps
    a term from matching across two fields. Whatever writes clients around `Client.save()`
    (bulk_create, update, imports) sets `search_text` with this.
    """
    fields = (normalize_email_address(email or ""), full_name or "", comment or "")
    return "\n".join(fields).casefold()


class Client(OwnedModel):
    """A recipient of mailings. Not a user: a client never signs in."""

    class UnsubscribeSource(models.TextChoices):
        LINK = "link", _("Unsubscribe link")
        ONE_CLICK = "one-click", _("One-click unsubscribe")

    email = NormalizedEmailField(_("email"), max_length=254)
    full_name = models.CharField(_("full name"), max_length=255)
    comment = models.TextField(_("comment"), blank=True)
    # Set by the recipient alone (the link in every letter); no run of any mailing of the
    # owner sends to them while it is set, and the owner cannot clear it.
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    unsubscribe_source = models.CharField(
        _("unsubscribed through"), max_length=16, choices=UnsubscribeSource.choices, blank=True
    )
    # Set when the mail server refused the address for good (5xx); editing the email clears it.
    bounced_at = models.DateTimeField(_("bounced"), null=True, blank=True)
    bounce_reply = models.TextField(_("bounce reply"), blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), related_name="clients", blank=True)
    # client_search_text() of the three fields, kept by save(); search compares only this.
    search_text = models.TextField(editable=False, default="")

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["email"]
        constraints = [
            # The stored form is the normalised one, so the plain unique pair below is
            # case- and space-insensitive even for rows written around the ORM.
            models.CheckConstraint(
                condition=Q(email=Lower(Trim("email"))), name="client_email_normalised"
            ),
            models.UniqueConstraint(
                fields=["owner", "email"],
                name="client_email_unique_per_owner",
                violation_error_message=_("This email is already in your clients."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    def save(self, *args, **kwargs) -> None:
        """Save; a new address is a new chance, so changing it clears a bounce of the old one."""
        if self.pk is not None and self.bounced_at is not None:
            stored = Client.objects.filter(pk=self.pk).values_list("email", flat=True).first()
            if stored is not None and stored != normalize_email_address(self.email):
                self.bounced_at, self.bounce_reply = None, ""
                if kwargs.get("update_fields") is not None:
                    kwargs["update_fields"] = {
                        *kwargs["update_fields"],
                        "bounced_at",
                        "bounce_reply",
                    }
        self.search_text = client_search_text(self.email, self.full_name, self.comment)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"email", "full_name", "comment"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def is_suppressed(self) -> bool:
        """Whether runs skip this client: unsubscribed, or its address bounced."""
        return self.unsubscribed_at is not None or self.bounced_at is not None


class Message(OwnedModel):
    """The letter a mailing sends: a subject and a body, in plain text or Markdown.

    Both may carry placeholders for the recipient (core.services.sending.personalisation).
    """

    class Format(models.TextChoices):
        PLAIN = "plain", _("Plain text")
        MARKDOWN = "markdown", _("Markdown (sent as text and HTML)")

    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("body"))
    format = models.CharField(
        _("format"), max_length=16, choices=Format.choices, default=Format.PLAIN
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "subject"], name="message_owner_subject")]

    def __str__(self) -> str:
        return self.subject


class Periodicity(models.TextChoices):
    ONCE = "once", _("Only once")
    DAILY = "daily", _("Once a day")
    WEEKLY = "weekly", _("Once a week")
    MONTHLY = "monthly", _("Once a month")


class Mailing(OwnedModel):
    """One message sent to a set of clients at a periodicity between a first send and an end
    (both inclusive); a "once" mailing is sent at its first send alone, and its end is that."""

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")

    # What the owner calls it; the pages show it instead of the message's subject.
    name = models.CharField(_("name"), max_length=255)
    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.PROTECT, related_name="mailings"
    )
    clients = models.ManyToManyField(
        Client, verbose_name=_("clients"), related_name="mailings", blank=True
    )
    # Every client carrying one of these tags when a run opens is a recipient too.
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), related_name="mailings", blank=True)
    start_at = models.DateTimeField(_("first send"))
    end_at = models.DateTimeField(_("end"))
    # The zone whose wall clock its runs keep (09:00 stays 09:00 across daylight saving):
    # its owner's when it was created.
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=default_time_zone, choices=time_zone_choices
    )
    periodicity = models.CharField(
        _("periodicity"), max_length=16, choices=Periodicity.choices, default=Periodicity.DAILY
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.CREATED
    )
    # When the scheduler should run it next; null once no run remains.
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    # Paused by its owner: no new run until resumed, and then no backlog.
    paused_at = models.DateTimeField(_("paused"), null=True, blank=True)
    # Disabled by a manager, with a reason: nothing is sent until a manager enables it again.
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.TextField(_("reason for disabling"), blank=True)

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-start_at"]
        constraints = [
            models.CheckConstraint(
                # Equal for a one-off mailing: its end is its first send.
                condition=Q(end_at__gte=F("start_at")),
                name="mailing_end_not_before_start",
                violation_error_message=_("The end must not be before the first send."),
            ),
        ]
        indexes = [
            models.Index(fields=["next_run_at"], name="mailing_next_run"),
            models.Index(fields=["owner", "status"], name="mailing_owner_status"),
            models.Index(fields=["owner", "start_at"], name="mailing_owner_start"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        """The zone of its schedule's wall clock."""
        return zone_or_default(self.time_zone)


class Attempt(models.Model):
    """One run of a mailing: when it ran, whether it succeeded, and what the mail server said."""

    class Status(models.TextChoices):
        RUNNING = "running", _("In progress")
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        # Ended early on request (the owner's stop, a pause, a block): its letters in flight
        # went out, the rest stayed pending.
        STOPPED = "stopped", _("Stopped")

    mailing = models.ForeignKey(
        Mailing, verbose_name=_("mailing"), on_delete=models.CASCADE, related_name="attempts"
    )
    attempted_at = models.DateTimeField(_("run started at"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    server_response = models.TextField(_("server response"), blank=True)
    # The scheduled slot this run serves; null for a run asked for by hand ("send now").
    slot_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # A running attempt has at most one sender: the holder of its lease, who renews it while
    # it works. A lease that expired means the sender is gone (killed, host lost), and the
    # next sender takes the run over; a run "send now" opened starts with an expired lease.
    lease_expires_at = models.DateTimeField(_("lease expires at"), null=True, blank=True)
    # Who holds the lease: a sender writes to the run only while its token is still here.
    lease_token = models.CharField(_("lease token"), max_length=32, blank=True, editable=False)
    # A run that ended its turn with recipients still pending waits, with no sender, until
    # this moment; then the next sender resumes it for those recipients only.
    resume_at = models.DateTimeField(_("resumes at"), null=True, blank=True)
    # How often this run was resumed for recipients it left pending.
    resumes = models.PositiveSmallIntegerField(_("resumes"), default=0)
    # Someone asked the run to stop; its sender sees it between batches and ends it as stopped.
    stop_requested_at = models.DateTimeField(_("stop requested"), null=True, blank=True)
    # Letters of the owner's daily quota this run holds for letters handed to its SMTP
    # connections and not yet recorded (core.services.sending.quota).
    quota_reserved = models.PositiveIntegerField(_("quota reserved"), default=0, editable=False)
    accepted_count = models.PositiveIntegerField(_("accepted"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    pending_count = models.PositiveIntegerField(_("pending"), default=0)
    # Recipients left out when the run opened: unsubscribed or bounced.
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        ordering = ["-attempted_at"]
        constraints = [
            # Never two runs for one slot, whichever sender got there first.
            models.UniqueConstraint(fields=["mailing", "slot_at"], name="attempt_one_per_slot"),
        ]
        indexes = [
            models.Index(fields=["mailing", "-attempted_at"], name="attempt_mailing_time"),
            models.Index(fields=["status", "-attempted_at"], name="attempt_status_time"),
            models.Index(fields=["status", "lease_expires_at"], name="attempt_status_lease"),
            models.Index(fields=["status", "resume_at"], name="attempt_status_resume"),
            # The dashboard's latest runs: PostgreSQL walks this and stops at the page.
            models.Index(fields=["-attempted_at"], name="attempt_time"),
        ]

    def __str__(self) -> str:
        return f"{self.mailing_id} @ {self.attempted_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def is_waiting_to_resume(self) -> bool:
        """Open, with no sender, until `resume_at`: nothing happens to it before then."""
        return self.status == self.Status.RUNNING and self.resume_at is not None

    @property
    def response_text(self) -> str:
        """`server_response` in the reader's language and time zone (see core.outcomes)."""
        return outcome_text(self.server_response)


class Delivery(models.Model):
    """The ledger line of one recipient in one run: accepted, failed (and why), still pending,
    or skipped (unsubscribed or bounced)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        FAILED = "failed", _("Failed")
        # Neither sent nor failed: the client had unsubscribed or bounced (`reply` says which).
        SKIPPED = "skipped", _("Skipped")

    attempt = models.ForeignKey(
        Attempt, verbose_name=_("run"), on_delete=models.CASCADE, related_name="deliveries"
    )
    # Denormalised from the attempt so reports over a mailing or a user need no joins.
    mailing = models.ForeignKey(
        Mailing, verbose_name=_("mailing"), on_delete=models.CASCADE, related_name="deliveries"
    )
    owner = models.ForeignKey(
        User, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="+"
    )
    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    # The address as it was when the run started, so the ledger survives edits and deletions.
    email = models.EmailField(_("email"), max_length=254)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    reply = models.TextField(_("server reply"), blank=True)
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["attempt", "email"], name="delivery_once_per_attempt"),
        ]
        indexes = [
            models.Index(fields=["attempt", "status"], name="delivery_attempt_status"),
            models.Index(fields=["owner", "sent_at"], name="delivery_owner_sent"),
            models.Index(fields=["mailing", "status"], name="delivery_mailing_status"),
            # The dashboard's counts per day and status: ranges of this index, read alone.
            models.Index(fields=["owner", "status", "sent_at"], name="delivery_owner_status_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.status}"

    @property
    def reply_text(self) -> str:
        """`reply` in the reader's language and time zone (see core.outcomes)."""
        return outcome_text(self.reply)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUARTER = timedelta(minutes=15)


class SendingTally(models.Model):
    """One owner's letters accepted and failed in one UTC quarter-hour (by `sent_at`), and runs
    that opened in it (by `attempted_at`) and ended in success or failure, kept by the sending
    engine in the transactions that write those outcomes, so the dashboard sums a few rows per
    day instead of counting the ledger and the runs.

    Quarter-hours, because every local midnight of every zone in use (+5:30, +5:45, the days
    daylight saving starts or ends) is a whole quarter-hour of UTC, so a local day is a whole
    number of buckets. Deleting ledger lines or runs takes them out of their buckets (see
    core.services.sending.tally), so the sums are always the ledger's and the runs' own counts.
    """

    # No database constraint: a sender still recording the results of a user being deleted
    # must not fail on it; Django's own cascade still deletes the user's rows with the user.
    owner = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        db_constraint=False,
        # The unique (owner, quarter) index serves every lookup by owner.
        db_index=False,
        related_name="+",
    )
    # Quarter-hours since 1970-01-01 00:00 UTC, floored.
    quarter = models.BigIntegerField()
    accepted = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    runs_succeeded = models.IntegerField(default=0)
    runs_failed = models.IntegerField(default=0)

    # No verbose names: the table is shown nowhere (not in the admin either).
    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "quarter"], name="sending_tally_once"),
        ]
        indexes = [
            # The dashboard's sums: ranges of this index, read alone.
            models.Index(
                fields=["owner", "quarter", "accepted", "failed", "runs_succeeded", "runs_failed"],
                name="sending_tally_sums",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id}@{self.quarter}"

    @staticmethod
    def quarter_of(moment: datetime) -> int:
        """The bucket of `moment`: quarter-hours since 1970-01-01 UTC, floored."""
        return (moment - _EPOCH) // _QUARTER

    @staticmethod
    def starts_quarter(moment: datetime) -> bool:
        """Whether `moment` is the start of a bucket (every local midnight in use today is)."""
        return (moment - _EPOCH) % _QUARTER == timedelta(0)


class RunBatch(models.Model):
    """A range of a run's ledger that one sender works at a time, under a lease of its own.

    A run's pending recipients are cut into batches of a few hundred when a turn of it starts;
    any sender process claims a free batch (or one whose lease ran out: its holder died), sends
    to its pending lines and marks it done, so several processes share one run. Deleting a run's
    batches takes every batch lease back at once (the run ended, or was closed).
    """

    attempt = models.ForeignKey(
        Attempt, verbose_name=_("run"), on_delete=models.CASCADE, related_name="batches"
    )
    # The ledger lines of the run with first_id <= id <= last_id.
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    size = models.PositiveIntegerField(default=0)
    # Who sends it now: a sender writes its results only while its token is still here.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Worked to its end this turn: what it left pending waits for the run's next turn.
    done = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("run batch")
        verbose_name_plural = _("run batches")
        indexes = [models.Index(fields=["attempt", "done"], name="runbatch_attempt_done")]

    def __str__(self) -> str:
        return f"{self.attempt_id} [{self.first_id}..{self.last_id}]"


class MailServerRate(models.Model):
    """The token bucket of one mail server's EMAIL_RATE_LIMIT, shared by every sender process:
    a sender takes a few letters' tokens at a time under this row's lock."""

    server = models.CharField(max_length=300, unique=True)
    tokens = models.FloatField(default=0.0)
    refilled_at = models.DateTimeField()

    class Meta:
        verbose_name = _("mail server rate")
        verbose_name_plural = _("mail server rates")

    def __str__(self) -> str:
        return self.server


class AuditEntry(models.Model):
    """One act of a manager (or the admin) on another user's account or mailing, and why.

    Kept when its subject is deleted: `subject` says what it was.
    """

    class Action(models.TextChoices):
        BLOCK_USER = "block-user", _("Blocked a user")
        UNBLOCK_USER = "unblock-user", _("Unblocked a user")
        DISABLE_MAILING = "disable-mailing", _("Disabled a mailing")
        ENABLE_MAILING = "enable-mailing", _("Enabled a mailing")
        SET_QUOTA = "set-quota", _("Changed a daily quota")

    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        User,
        verbose_name=_("who"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="audit_entries_made",
    )
    action = models.CharField(_("what"), max_length=32, choices=Action.choices)
    user = models.ForeignKey(
        User,
        verbose_name=_("whose"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    mailing = models.ForeignKey(
        Mailing,
        verbose_name=_("mailing"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    subject = models.CharField(_("subject"), max_length=300)
    reason = models.TextField(_("reason"))

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-created_at"]
        permissions = [
            ("oversee", _("Can see every user and mailing")),
            ("block_user", _("Can block and unblock users")),
            ("disable_mailing", _("Can disable and enable any mailing")),
            ("set_quota", _("Can change a user's daily quota")),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.subject}"


class AccountLetter(models.Model):
    """A letter about an account that went to an address (verification, password reset, "you
    already have one"): the record that limits them to ACCOUNT_LETTERS_PER_HOUR per address."""

    class Kind(models.TextChoices):
        VERIFICATION = "verification", _("Verification")
        PASSWORD_RESET = "password-reset", _("Password reset")
        ACCOUNT_EXISTS = "account-exists", _("Account exists")

    email = NormalizedEmailField(_("email"), max_length=254)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)

    class Meta:
        verbose_name = _("account letter")
        verbose_name_plural = _("account letters")
        indexes = [models.Index(fields=["email", "sent_at"], name="account_letter_email_sent")]

    def __str__(self) -> str:
        return f"{self.sent_at:%Y-%m-%d %H:%M} {self.kind} {self.email}"


class Import(OwnedModel):
    """A file of clients the owner uploaded: its column mapping, its preview, and once
    confirmed the progress and outcome of writing it (core.services.imports).

    The file itself lies under settings.IMPORT_DIR, named by `token`, so the import survives
    the browser tab being closed and a worker process can read it.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Waiting for the column mapping")
        PREVIEWED = "previewed", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", pgettext_lazy("import status", "Failed")
        CANCELLED = "cancelled", pgettext_lazy("import status", "Cancelled")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    file_name = models.CharField(_("file name"), max_length=255)
    token = models.CharField(max_length=64, unique=True, editable=False)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.UPLOADED
    )
    # The header row as read, and which of its columns (by index) hold email, full name and
    # comment: {"email": 0, "full_name": 2, "comment": null}.
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    # Addresses already among the owner's clients: update their name and comment, or skip them.
    update_existing = models.BooleanField(_("update existing clients"), default=False)
    tag_name = models.CharField(_("tag"), max_length=50, blank=True)
    # What the preview found: counts and the first rows of each group.
    preview = models.JSONField(default=dict)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    added = models.PositiveIntegerField(_("added"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    refused = models.PositiveIntegerField(_("refused"), default=0)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The heartbeat of the writing: when its last batch (and the progress above) was committed,
    # or when a worker took it. Older than IMPORT_STALL_SECONDS while running, the writer is
    # gone (killed, out of memory, a reboot) and the import is interrupted.
    progress_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    # The writer that holds the import, a random token each time one takes it: every progress
    # it writes is conditional on it, so a writer thought dead that wakes up writes nothing.
    claim = models.CharField(max_length=32, blank=True, editable=False)
    # Times the writing was resumed after an interruption (by the user or the scheduler).
    resumes = models.PositiveSmallIntegerField(_("resumes"), default=0)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="import_owner_created")]

    def __str__(self) -> str:
        return self.file_name

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def is_interrupted(self) -> bool:
        """Running, but no progress for IMPORT_STALL_SECONDS: its writer is gone."""
        if self.status != self.Status.RUNNING:
            return False
        last = self.progress_at or self.updated_at
        return last < timezone.now() - timedelta(seconds=settings.IMPORT_STALL_SECONDS)

    @property
    def percent(self) -> int:
        """How far the writing has come, 0 to 100."""
        if self.is_finished:
            return 100
        return min(100, self.processed_rows * 100 // self.total_rows) if self.total_rows else 0


class Heartbeat(models.Model):
    """When a background process last showed it was alive: the scheduler's tick ("scheduler"),
    a task worker's loop ("worker"). /healthz reads them; one row per name, overwritten."""

    name = models.CharField(_("name"), max_length=32, primary_key=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.at:%Y-%m-%d %H:%M:%S}"
