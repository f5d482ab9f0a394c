"""Forms: what a user may type, and the errors they see next to each field."""

import calendar
import json
from datetime import datetime, timedelta
from email.utils import parseaddr

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from core import selectors
from core.models import (
    Client,
    Mailing,
    Message,
    Periodicity,
    Tag,
    User,
    normalize_email_address,
    parse_object_id,
    tag_key,
)
from core.services.sending import identity, personalisation
from core.services.sending.headers import idna_address
from core.services.tags import tags_ensure


class SignupForm(BaseUserCreationForm):
    """A new account: an email to sign in with and a password typed twice.

    An address that already has an account is no error here: the page must not tell a
    stranger so. Its owner gets a letter instead (core.services.accounts).
    """

    class Meta:
        model = User
        fields = ["email", "full_name"]
        labels = {"email": _("Email"), "full_name": _("Your name")}

    def clean_email(self) -> str:
        return normalize_email_address(self.cleaned_data["email"])

    def validate_unique(self) -> None:
        # The email is the only unique field, and a taken one must pass (see above).
        return


class SignInForm(AuthenticationForm):
    """Django's sign-in form, which also says when the account waits for its address to be
    verified: only to someone who typed the right password, so it reveals nothing else."""

    unverified = False

    def clean(self) -> dict:
        try:
            return super().clean()
        except forms.ValidationError:
            if self._unverified_with_right_password():
                self.unverified = True
                raise forms.ValidationError(
                    _("Your email address is not verified yet: open the link we sent you."),
                    code="unverified",
                ) from None
            raise

    def _unverified_with_right_password(self) -> bool:
        if getattr(self.request, "axes_locked_out", False):
            return False
        email = normalize_email_address(self.cleaned_data.get("username"))
        password = self.cleaned_data.get("password")
        user = User.objects.filter(email=email).first() if email and password else None
        return (
            user is not None
            and not user.is_active
            and user.email_verified_at is None
            and user.check_password(password)
        )


class VerificationResendForm(forms.Form):
    """The address to send a new verification link to."""

    email = forms.EmailField(label=_("Email"), max_length=254)

    def clean_email(self) -> str:
        return normalize_email_address(self.cleaned_data["email"])


def _constraint_message(model, name: str) -> str:
    """The message a model's constraint gives when it is violated, so a form says the same."""
    (constraint,) = (c for c in model._meta.constraints if c.name == name)
    return constraint.violation_error_message


DUPLICATE_EMAIL_MESSAGE = _constraint_message(Client, "client_email_unique_per_owner")


def single_line(value: str) -> None:
    """Refuse a line break: the value goes into a letter's header (subject, a name), where a
    line break would end the header or start another one."""
    if any(character in value for character in "\r\n\v\f\x85\u2028\u2029"):
        raise forms.ValidationError(_("Keep this on one line."), code="line_break")


class OwnedModelForm(forms.ModelForm):
    """A form of something the signed-in user owns: whatever it saves is theirs."""

    def __init__(self, *args, owner: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.instance.owner = owner

    def save(self, commit: bool = True):
        """Save; an edit writes the form's own fields only, so what others wrote meanwhile stays
        (a recipient's unsubscribe, a bounce, the engine's status, a manager's disable)."""
        if not commit or self.instance._state.adding:
            return super().save(commit=commit)
        instance = super().save(commit=False)
        many_to_many = {field.name for field in instance._meta.many_to_many}
        own = [name for name in self._meta.fields if name in self.cleaned_data]
        instance.save(update_fields=[*(n for n in own if n not in many_to_many), "updated_at"])
        self._save_m2m()
        return instance


class ObjectIdsField(forms.ModelMultipleChoiceField):
    """A multiple choice of the user's objects by id; a value that is no id (a letter, "²", a
    number past what the database's keys hold) is the field's error, never a query."""

    def _check_values(self, value):
        for pk in value:
            if parse_object_id(pk) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


TAG_NAME_LENGTH = Tag._meta.get_field("name").max_length


class TagNamesInput(forms.TextInput):
    """Tag names separated by commas: a plain text input without JavaScript; app.js turns it
    into a Tom Select that offers the owner's tags (`data-tags`) and creates new ones."""

    def __init__(self, attrs=None) -> None:
        super().__init__({"data-tag-input": "", "autocomplete": "off", **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, (list, tuple)):
            return ", ".join(value)
        return super().format_value(value)


class TagNamesField(forms.CharField):
    """Tags by name, "VIP, Москва": each once whatever its case and spacing (tag_key); names
    the owner has no tag of yet become tags when the form is saved."""

    widget = TagNamesInput

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> list[str]:
        if isinstance(value, (list, tuple)):
            value = ",".join(value)
        names: dict[str, str] = {}
        for part in super().to_python(value).split(","):
            name = " ".join(part.split())
            if name:
                names.setdefault(tag_key(name), name)
        return list(names.values())

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for name in value:
            if len(name) > TAG_NAME_LENGTH:
                raise forms.ValidationError(
                    _("A tag is at most %(limit)d characters: “%(name)s”.")
                    % {"limit": TAG_NAME_LENGTH, "name": name[:TAG_NAME_LENGTH] + "…"},
                    code="max_length",
                )


class ClientForm(OwnedModelForm):
    """A client of the signed-in user; the email is unique among that user's clients."""

    tags = TagNamesField(
        label=_("Tags"), help_text=_("Separate tags with commas; new ones are created.")
    )

    class Meta:
        model = Client
        fields = ["email", "full_name", "comment"]
        labels = {"email": _("Email"), "full_name": _("Full name"), "comment": _("Comment")}
        widgets = {"comment": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].validators.append(single_line)
        if self.instance.pk is not None:
            self.fields["tags"].initial = [tag.name for tag in self.instance.tags.all()]
        known = selectors.tag_list(user=self.owner).values_list("name", flat=True)
        self.fields["tags"].widget.attrs["data-tags"] = json.dumps(list(known))
        if self.instance.bounced_at is not None:
            self.fields["email"].help_text = _(
                "This address bounced: saving another one clears the mark."
            )

    def clean_email(self) -> str:
        email = normalize_email_address(self.cleaned_data["email"])
        # Editing a client never finds its own row: exclude it.
        others = selectors.client_list(user=self.owner).exclude(pk=self.instance.pk)
        if others.filter(email=email).exists():
            raise forms.ValidationError(DUPLICATE_EMAIL_MESSAGE, code="duplicate")
        return email

    def save(self, commit: bool = True) -> Client:
        """Save the client, and make it carry exactly the tags named (new ones created)."""
        client = super().save(commit=commit)
        if commit:
            client.tags.set(tags_ensure(owner=self.owner, names=self.cleaned_data["tags"]))
        return client

    def add_duplicate_email_error(self) -> None:
        """Report a duplicate the database caught after validation passed (a concurrent insert)."""
        self.add_error("email", forms.ValidationError(DUPLICATE_EMAIL_MESSAGE, code="duplicate"))


def allowed_from_domains() -> list[str]:
    """The domains a user's own From address may be at (EMAIL_ALLOWED_FROM_DOMAINS), as the
    operator wrote them, for messages; the engine compares their IDNA forms
    (identity.allowed_from_domains)."""
    return [domain.strip().lower() for domain in settings.EMAIL_ALLOWED_FROM_DOMAINS if domain]


class SenderProfileForm(forms.ModelForm):
    """How the user's letters introduce themselves: a name, where replies go, and a From
    address of their own at a domain the operator allows; and the time zone of every date the
    user sees and types."""

    class Meta:
        model = User
        fields = ["sender_name", "reply_to", "from_email", "time_zone"]
        labels = {
            "sender_name": _("Sender name"),
            "reply_to": _("Reply-to address"),
            "from_email": _("From address"),
            "time_zone": _("Time zone"),
        }
        help_texts = {
            "sender_name": _("The name recipients see. Empty: your own name."),
            "reply_to": _("Where replies to your letters go. Empty: your sign-in email."),
            "time_zone": _(
                "Every date is shown and typed in it; a new mailing keeps its times in it."
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sender_name"].validators.append(single_line)
        # A form that does not send the zone (an older page) leaves it as it was.
        self.fields["time_zone"].required = False
        domains = allowed_from_domains()
        if domains:
            self.fields["from_email"].help_text = _(
                "Optional, at %(domains)s. Empty: letters go from %(default)s."
            ) % {"domains": ", ".join(domains), "default": default_from_address()}
        else:
            self.fields["from_email"].help_text = _(
                "This server sends every letter from %(default)s, under your name."
            ) % {"default": default_from_address()}

    def clean_time_zone(self) -> str:
        return self.cleaned_data.get("time_zone") or self.instance.time_zone

    def clean_from_email(self) -> str:
        address = self.cleaned_data["from_email"]
        if not address:
            return address
        domains = allowed_from_domains()
        own = idna_address(address.lower())
        if own and own.rpartition("@")[2].lower() in identity.allowed_from_domains():
            return address
        if domains:
            raise forms.ValidationError(
                _("Letters can go from an address at %(domains)s only.")
                % {"domains": ", ".join(domains)},
                code="domain",
            )
        raise forms.ValidationError(
            _(
                "This server sends letters from %(default)s only: leave this empty, and your "
                "name and reply-to address go with it."
            )
            % {"default": default_from_address()},
            code="domain",
        )


def default_from_address() -> str:
    """The address of DEFAULT_FROM_EMAIL, which letters go from unless a user has their own."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


PLACEHOLDER_MEANINGS = {
    "full_name": _("the client's full name"),
    "first_name": _("the first word of the client's name"),
    "email": _("the client's email"),
    "unsubscribe_url": _("the client's unsubscribe link (every letter also ends with one)"),
}


class MessageForm(OwnedModelForm):
    """A letter: its subject, its body in plain text or Markdown, and the placeholders both
    may use for the recipient (core.services.sending.personalisation)."""

    class Meta:
        model = Message
        fields = ["subject", "format", "body"]
        labels = {"subject": _("Subject"), "format": _("Format"), "body": _("Body")}
        widgets = {"body": forms.Textarea(attrs={"rows": 8})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subject"].validators.append(single_line)
        # A form posted without the format (older clients, scripts) writes plain text.
        self.fields["format"].required = False

    @property
    def placeholders(self) -> list[tuple[str, str]]:
        """The placeholders the subject and body may use, each with what it becomes."""
        return [
            (f"{{{{ {name} }}}}", PLACEHOLDER_MEANINGS.get(name, ""))
            for name in personalisation.PLACEHOLDERS
        ]

    def clean_subject(self) -> str:
        return _placeholders_checked(self.cleaned_data["subject"])

    def clean_body(self) -> str:
        return _placeholders_checked(self.cleaned_data["body"])

    def clean_format(self) -> str:
        return self.cleaned_data["format"] or Message.Format.PLAIN


def _placeholders_checked(text: str) -> str:
    """`text` if every placeholder in it is known and well formed; else the error names what
    is available."""
    try:
        personalisation.parse(text)
    except personalisation.PlaceholderError as error:
        raise forms.ValidationError(str(error), code="placeholder") from error
    return text


class ClientPicker(forms.SelectMultiple):
    """A multiple select that renders only the chosen clients and the first few others.

    A user may have ten thousand clients: the page never lists them all. Tom Select (static
    `core/app.js`) searches the rest through `client-search`; without JavaScript the first
    `PRELOADED` clients by email can be chosen.
    """

    PRELOADED = 50

    def __init__(self, attrs=None, *, search_url: str = "") -> None:
        super().__init__(attrs)
        self.search_url = search_url

    def optgroups(self, name, value, attrs=None):
        queryset = self.choices.queryset
        chosen_pks = [pk for pk in map(parse_object_id, value) if pk is not None]
        chosen = list(queryset.filter(pk__in=chosen_pks)) if chosen_pks else []
        first = list(queryset.exclude(pk__in=chosen_pks).order_by("email")[: self.PRELOADED])
        groups = []
        for index, client in enumerate([*chosen, *first]):
            option = self.create_option(
                name, client.pk, str(client), client in chosen, index, attrs=None
            )
            groups.append((None, [option], index))
        return groups

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"]["data-search-url"] = self.search_url
        # Tom Select's own words, in the interface language (app.js reads them).
        context["widget"]["attrs"] |= {
            # What the field's help says once Tom Select searches (the rendered help is what
            # holds without JavaScript: MailingForm).
            "data-text-help": _("Type to search your clients by email, name or comment."),
            "data-text-no-results": _("No clients found"),
            "data-text-loading": _("Searching…"),
            "data-text-remove": _("Remove"),
        }
        return context


class ClientChoice(ClientPicker):
    """One of the user's clients, chosen in a select that renders the chosen client and the
    first few others (Tom Select, where the page has it, searches the rest)."""

    allow_multiple_selected = False

    def value_from_datadict(self, data, files, name):
        return data.get(name)

    def value_omitted_from_data(self, data, files, name) -> bool:
        return name not in data


class PreviewClientForm(forms.Form):
    """Which of the user's clients a letter's preview is addressed to: the first by email
    unless one is chosen."""

    preview_client = forms.ModelChoiceField(
        label=_("Preview as"), queryset=Client.objects.none(), required=False
    )

    def __init__(self, *args, owner: User, search_url: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["preview_client"]
        field.queryset = selectors.client_list(user=owner).order_by("email")
        field.widget = ClientChoice(search_url=search_url)
        field.widget.choices = field.choices


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's own date-and-time picker."""

    input_type = "datetime-local"

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class ScheduleDateTimeField(forms.DateTimeField):
    """A date and time of a schedule, in the years a mailing can really be sent in.

    Year 1 or 9999 parse, but the time zone or the next slot moves them past what a datetime
    holds (an OverflowError deep in a query): they are this field's error instead.
    """

    FIRST_YEAR, LAST_YEAR = 2000, 2999

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is not None and not self.FIRST_YEAR <= moment.year <= self.LAST_YEAR:
            raise forms.ValidationError(
                _("Enter a date between the years %(first)d and %(last)d."),
                code="out_of_range",
                params={"first": self.FIRST_YEAR, "last": self.LAST_YEAR},
            )
        return moment


def next_five_minutes(moment: datetime) -> datetime:
    """`moment` rounded up to the next whole five minutes of the active zone's clock."""
    local = timezone.localtime(moment).replace(second=0, microsecond=0)
    return local + timedelta(minutes=5 - local.minute % 5)


def one_month_later(moment: datetime) -> datetime:
    """The same wall-clock time a calendar month after `moment` (31 Jan -> 28/29 Feb)."""
    year, month = divmod(moment.year * 12 + moment.month, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class MailingForm(OwnedModelForm):
    """A name, one of the user's messages, any of the user's clients, a window and a
    periodicity; a new one starts at the next five minutes and ends a month later.

    A one-off ("once") mailing needs no end: its end is its first send. Dates are read and
    shown in the active (the user's) time zone, named beside the inputs. The status is not a
    field: the sending engine moves it.
    """

    class Meta:
        model = Mailing
        fields = ["name", "message", "clients", "tags", "start_at", "end_at", "periodicity"]
        labels = {
            "name": _("Name"),
            "message": _("Message"),
            "clients": _("Clients"),
            "tags": _("Tags"),
            "start_at": _("First send"),
            "end_at": _("End"),
            "periodicity": _("Periodicity"),
        }
        help_texts = {
            "name": _("What you call this mailing; recipients do not see it."),
            "tags": _("Every client carrying one of these tags when a run starts gets it too."),
        }
        widgets = {"start_at": DateTimeLocalInput(), "end_at": DateTimeLocalInput()}
        field_classes = {
            "clients": ObjectIdsField,
            "tags": ObjectIdsField,
            "start_at": ScheduleDateTimeField,
            "end_at": ScheduleDateTimeField,
        }

    def __init__(self, *args, owner: User, search_url: str = "", now: datetime, **kwargs) -> None:
        super().__init__(*args, owner=owner, **kwargs)
        self.now = now
        # Only the user's own rows are valid choices: another user's id fails like a typo.
        self.fields["message"].queryset = selectors.message_list(user=owner)
        self.fields["message"].empty_label = _("Choose a message")
        self.fields["clients"].queryset = selectors.client_list(user=owner)
        self.fields["clients"].widget = ClientPicker(search_url=search_url)
        self.fields["clients"].widget.choices = self.fields["clients"].choices
        self.fields["clients"].help_text = self._client_picker_help()
        self.fields["end_at"].required = False
        first_send = next_five_minutes(now)
        if self.instance._state.adding:
            self.initial.setdefault("start_at", first_send)
            self.initial.setdefault("end_at", one_month_later(first_send))
        # The native picker follows the browser's locale: say the zone, and the date in the
        # interface language's own format, beside it.
        zone = timezone.get_current_timezone_name()
        example = formats.date_format(first_send, "SHORT_DATETIME_FORMAT")
        self.fields["start_at"].help_text = _("Time zone %(zone)s; for example %(example)s.") % {
            "zone": zone,
            "example": example,
        }
        self.fields["end_at"].help_text = _(
            "Time zone %(zone)s. The last run may start at this moment; "
            "a mailing sent only once needs no end."
        ) % {"zone": zone}
        self.fields["clients"].required = False
        self.fields["tags"].queryset = selectors.tag_list(user=owner)
        self.fields["tags"].widget.attrs |= {
            "data-tom-select": "",
            # Tom Select's own words, in the interface language (app.js reads them).
            "data-text-no-results": _("No tags found"),
            "data-text-remove": _("Remove"),
        }

    def _client_picker_help(self) -> str:
        """The picker's help without JavaScript, when the select lists only the first clients
        (ClientPicker): whether every client is there, and how to reach the others. One query.
        """
        listed = ClientPicker.PRELOADED
        clients = self.fields["clients"].queryset.order_by().values_list("pk", flat=True)
        if not clients[listed : listed + 1]:
            return _("Hold Ctrl (⌘ on a Mac) to choose several clients.")
        return _(
            "Only the first %(count)d clients by email are listed. To send to others, choose "
            "their tags, or select them in the client list and use “Add to mailing”."
        ) % {"count": listed}

    def clean(self) -> dict:
        cleaned_data = super().clean()
        if (
            "clients" in cleaned_data
            and "tags" in cleaned_data
            and not cleaned_data["clients"]
            and not cleaned_data["tags"]
        ):
            self.add_error(None, _("Choose some clients, or tags, or both."))
        start_at, end_at = cleaned_data.get("start_at"), cleaned_data.get("end_at")
        if cleaned_data.get("periodicity") == Periodicity.ONCE:
            # Sent once, at its first send: that is its end too.
            cleaned_data["end_at"] = end_at = start_at
            if start_at and start_at <= self.now and "start_at" in self.changed_data:
                self.add_error("start_at", _("A mailing sent only once needs a future send."))
            return cleaned_data
        if end_at is None:
            if "end_at" not in self.errors:
                self.add_error("end_at", _("A repeating mailing needs an end."))
        elif start_at and end_at <= start_at:
            self.add_error("end_at", _("The end must be after the first send."))
        elif end_at <= self.now:
            self.add_error("end_at", _("The end has already passed."))
        return cleaned_data

    def _post_clean(self) -> None:
        # A new mailing keeps the wall clock of its owner's zone.
        if self.instance._state.adding:
            self.instance.time_zone = self.owner.time_zone
        super()._post_clean()


class ReasonForm(forms.Form):
    """A manager's act on another user's account or mailing: always with a reason, on record."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the audit log, with your name and the time."),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why."))
        return reason


class QuotaForm(ReasonForm):
    """A user's daily letter quota, set by a manager; empty: the service's default."""

    daily_quota = forms.IntegerField(
        label=_("Letters a day"),
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text=_("Leave empty for the service's default."),
    )

    field_order = ["daily_quota", "reason"]


class ClientBulkForm(forms.Form):
    """What a bulk action on the selected clients needs besides them: the tags to give (new
    names created) or take away, or the mailing to add them to. Deleting needs nothing."""

    TAG, UNTAG, ADD_TO_MAILING, DELETE = "tag", "untag", "add-to-mailing", "delete"
    ACTIONS = {
        TAG: _("Tag clients"),
        UNTAG: _("Untag clients"),
        ADD_TO_MAILING: _("Add clients to a mailing"),
        DELETE: _("Delete clients"),
    }

    def __init__(self, *args, owner: User, action: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.action = action
        if action == self.TAG:
            self.fields["tag_names"] = TagNamesField(
                label=_("Tags"),
                required=True,
                help_text=_("Separate tags with commas; new ones are created."),
            )
            known = selectors.tag_list(user=owner).values_list("name", flat=True)
            self.fields["tag_names"].widget.attrs["data-tags"] = json.dumps(list(known))
        elif action == self.UNTAG:
            self.fields["tags"] = ObjectIdsField(
                label=_("Tags"), queryset=selectors.tag_list(user=owner)
            )
        elif action == self.ADD_TO_MAILING:
            self.fields["mailing"] = forms.ModelChoiceField(
                label=_("Mailing"),
                queryset=selectors.mailing_list(user=owner).order_by("-start_at"),
                empty_label=_("Choose a mailing"),
            )


class ImportUploadForm(forms.Form):
    """A CSV or XLSX file of clients to import."""

    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (UTF-8 or Windows-1251, separated by ; or ,) or Excel .xlsx, with a header row."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s MB.")
                % {"limit": f"{settings.IMPORT_MAX_BYTES / 1024 / 1024:g}"},
                code="too_large",
            )
        return uploaded


class ImportMappingForm(forms.Form):
    """Which column of the file holds the email, the full name, the comment and the tags."""

    email = forms.TypedChoiceField(label=_("Email column"), coerce=int)
    full_name = forms.TypedChoiceField(label=_("Full name column"), coerce=int)
    comment = forms.TypedChoiceField(
        label=_("Comment column"), coerce=int, required=False, empty_value=None
    )
    tags = forms.TypedChoiceField(
        label=_("Tags column"), coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args, header: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        columns = [
            (index, name or _("Column %(number)s") % {"number": index + 1})
            for index, name in enumerate(header)
        ]
        for name, form_field in self.fields.items():
            none = _("(none)") if name in ("comment", "tags") else "---------"
            form_field.choices = [("", none), *columns]

    def clean(self) -> dict:
        cleaned = super().clean()
        chosen = [cleaned.get(name) for name in ("email", "full_name", "comment", "tags")]
        chosen = [index for index in chosen if index is not None]
        if len(chosen) != len(set(chosen)):
            raise forms.ValidationError(_("Map each column to one field only."), code="twice")
        return cleaned

    def mapping(self) -> dict[str, int | None]:
        return {
            name: self.cleaned_data.get(name) for name in ("email", "full_name", "comment", "tags")
        }


class ImportConfirmForm(forms.Form):
    """What to do with addresses already among the clients, and a tag for every imported one."""

    existing = forms.ChoiceField(
        label=_("Addresses already among your clients"),
        choices=[
            ("skip", _("Skip them")),
            ("update", _("Update their name and comment")),
        ],
        initial="skip",
        widget=forms.RadioSelect,
    )
    tag_name = forms.CharField(
        label=_("Tag every imported client"),
        max_length=50,
        required=False,
        help_text=_("Optional: a tag of yours, made if you have none of that name."),
        validators=[single_line],
    )
