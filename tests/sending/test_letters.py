"""The letters a run sends, captured by a real SMTP server: well-formed, personalised, from a
real sender identity, with an unsubscribe link; Markdown as text and HTML; international
addresses; the preview and the test send; the system checks of what receivers judge."""

import email
import email.policy
import re
from email.header import decode_header, make_header
from io import StringIO

import pytest
from django.core.management import call_command

from core import checks
from core.models import Attempt, Client, Delivery, Message
from core.outcomes import outcome_text
from core.services import sending
from core.services.suppression import client_for_token, unsubscribe_url
from tests.factories import make_clients, make_mailing
from tests.sending.conftest import mailers_for
from tests.smtp_servers import refused_port

pytestmark = pytest.mark.django_db

MARKDOWN_BODY = (
    "Здравствуйте, **{{ first_name }}**!\n\n"
    "Скидки до 50% — [каталог](https://shop.example.com/sale).\n\n"
    '<script>alert("x")</script>\n\n'
    "![pixel](http://tracker.example.com/p.gif)\n\n"
    "Ваш адрес: {{ email }}\n"
)


def run_due() -> None:
    call_command("send_mailings", stdout=StringIO())


def parsed(raw: bytes, policy=email.policy.default) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy)


def letter_to(sink, address: str) -> email.message.EmailMessage:
    (message,) = [m for m in sink.messages if m.recipients == (address,)]
    return parsed(message.content)


def assert_well_formed(raw: bytes) -> email.message.EmailMessage:
    """Lines within 998 octets, encoded words within 75 characters, no defect anywhere."""
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    for word in re.findall(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=", raw):
        assert len(word) <= 75
    letter = parsed(raw, policy=email.policy.strict)
    for part in letter.walk():
        assert part.defects == []
        for name in part:
            assert part[name].defects == (), name
    return letter


def markdown(mailing, body: str = MARKDOWN_BODY):
    Message.objects.filter(pk=mailing.message_id).update(format=Message.Format.MARKDOWN, body=body)
    mailing.message.refresh_from_db()
    return mailing


# --- What every letter carries ---------------------------------------------------------------


@pytest.mark.parametrize("format", ["plain", "markdown"])
def test_every_letter_is_well_formed(sink, user, format):
    names = ["Константин Константинопольский-Переславский Александрович", "Boris O'Neil, Jr."]
    mailing = make_mailing(
        owner=user,
        clients=make_clients(owner=user, full_names=names),
        subject="Весенняя распродажа для {{ full_name }} " * 3,
    )
    if format == "markdown":
        markdown(mailing)

    run_due()

    assert len(sink.messages) == 2
    for message in sink.messages:
        letter = assert_well_formed(message.content)
        for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
            assert letter[header], header
        assert letter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_subject_text_and_html_are_personalised_for_each_client(sink, user):
    mailing = markdown(
        make_mailing(
            owner=user,
            clients=make_clients(owner=user, full_names=["Анна Петрова", "Boris"]),
            subject="{{ first_name }}, для вас",
        )
    )

    run_due()

    anna = Client.objects.get(email="client0@example.com")
    letter = letter_to(sink, "client0@example.com")
    assert letter["Subject"] == "Анна, для вас"
    text = letter.get_body(("plain",)).get_content()
    html = letter.get_body(("html",)).get_content()
    assert "Здравствуйте, **Анна**!" in text and "Ваш адрес: client0@example.com" in text
    assert "Здравствуйте, <strong>Анна</strong>!" in html
    assert "Ваш адрес: client0@example.com" in html
    link = unsubscribe_url(client_id=anna.pk)
    assert letter["List-Unsubscribe"] == f"<{link}>"
    assert text.rstrip().endswith(link)
    assert f'<a href="{link}">' in html
    assert letter_to(sink, "client1@example.com")["Subject"] == "Boris, для вас"
    assert Attempt.objects.get(mailing=mailing).status == "success"


def test_the_unsubscribe_link_of_a_letter_names_its_client(sink, user):
    make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    run_due()

    for address in ("client0@example.com", "client1@example.com"):
        url = letter_to(sink, address)["List-Unsubscribe"].strip("<>")
        token = url.rstrip("/").rsplit("/", 1)[1]
        assert client_for_token(token).email == address


def test_a_markdown_letter_is_text_and_sanitised_html(sink, user):
    markdown(make_mailing(owner=user, clients=make_clients(owner=user, count=1)))

    run_due()

    letter = letter_to(sink, "client0@example.com")
    assert letter.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in letter.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert all(part.get_content_charset() == "utf-8" for part in letter.iter_parts())
    html = letter.get_body(("html",)).get_content()
    assert "<script" not in html
    assert "<img" not in html and "tracker.example.com" not in html
    assert "&lt;script&gt;" in html  # typed HTML is shown as text
    assert '<a href="https://shop.example.com/sale" rel="noopener noreferrer">каталог</a>' in html
    assert len(sink.messages[0].content) < 8000  # a few kilobytes


def test_a_plain_letter_is_one_text_part_with_its_footer(sink, user):
    make_mailing(
        owner=user, clients=make_clients(owner=user, count=1), body="Привет, {{ full_name }}!\n"
    )

    run_due()

    letter = letter_to(sink, "client0@example.com")
    assert letter.get_content_type() == "text/plain"
    assert not letter.is_multipart()
    text = letter.get_content().replace("\r\n", "\n")
    assert text.startswith("Привет, Клиент Номер 0!\n\n-- \n")


def test_a_long_line_goes_quoted_printable_and_reads_back_the_same(sink, user):
    body = "Очень длинная строка " * 100 + "\n"
    make_mailing(owner=user, clients=make_clients(owner=user, count=1), body=body)

    run_due()

    (message,) = sink.messages
    letter = assert_well_formed(message.content)
    assert letter["Content-Transfer-Encoding"] == "quoted-printable"
    assert letter.get_content().replace("\r\n", "\n").startswith(body.rstrip() + "\n")


def test_a_short_utf8_letter_goes_8bit_to_a_server_that_takes_it(sink, user):
    make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    run_due()

    assert letter_to(sink, "client0@example.com")["Content-Transfer-Encoding"] == "8bit"


def test_a_name_in_the_subject_cannot_inject_headers(sink, user):
    make_mailing(
        owner=user,
        clients=make_clients(owner=user, full_names=["Eve\r\nBcc: victim@example.com"]),
        subject="Hi {{ full_name }}",
    )

    run_due()

    letter = letter_to(sink, "client0@example.com")
    assert letter["Bcc"] is None
    assert letter["Subject"] == "Hi Eve Bcc: victim@example.com"


def test_date_has_a_numeric_zone(sink, user):
    make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    run_due()

    raw_date = parsed(sink.messages[0].content, policy=email.policy.compat32)["Date"]
    assert re.search(r" [+-]\d{4}$", raw_date)
    assert "GMT" not in raw_date


# --- Sender identity -------------------------------------------------------------------------


def test_without_an_allowed_domain_letters_go_from_the_default_address_with_the_users_name(
    sink, user, settings
):
    user.sender_name, user.from_email = "Anna's Shop", "anna@shop.example.org"
    user.save()
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    run_due()

    letter = letter_to(sink, "client0@example.com")
    assert letter["From"].addresses[0].display_name == "Anna's Shop"
    assert letter["From"].addresses[0].addr_spec == "shop@example.com"
    assert letter["Reply-To"] == "anna@example.com"  # the user, since From is not theirs
    assert sink.messages[0].mail_from == "shop@example.com"
    assert letter["Message-ID"].endswith("@example.com>")
    assert letter["List-Id"] == f'"Anna\'s Shop" <user-{user.pk}.example.com>'
    assert Attempt.objects.get(mailing=mailing).status == "success"


def test_a_users_own_address_at_an_allowed_domain_is_the_from(sink, user, settings):
    settings.EMAIL_ALLOWED_FROM_DOMAINS = ["Shop.Example.org"]
    user.from_email, user.reply_to = "anna@shop.example.org", "help@shop.example.org"
    user.save()
    make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    run_due()

    letter = letter_to(sink, "client0@example.com")
    assert str(letter["From"]) == "Anna <anna@shop.example.org>"
    assert letter["Reply-To"] == "help@shop.example.org"
    assert sink.messages[0].mail_from == "anna@shop.example.org"
    assert letter["Message-ID"].endswith("@shop.example.org>")


def test_the_message_id_domain_can_be_set(sink, user, settings):
    settings.EMAIL_MESSAGE_ID_DOMAIN = "mail.example.net"
    make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    run_due()

    ids = {letter_to(sink, f"client{n}@example.com")["Message-ID"] for n in range(2)}
    assert len(ids) == 2
    assert all(re.fullmatch(r"<[^<>@\s]+@mail\.example\.net>", mid) for mid in ids)


def test_without_a_sender_name_the_default_from_name_is_used(sink, user):
    user.full_name = ""
    user.save()
    make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    run_due()

    assert str(letter_to(sink, "client0@example.com")["From"]) == "Магазин <shop@example.com>"


def test_the_mail_server_is_greeted_with_the_configured_name(sink, user, settings):
    settings.EMAIL_LOCAL_HOSTNAME = "mailer.example.com"
    make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    run_due()

    assert [m.helo for m in sink.messages] == ["mailer.example.com"]


# --- International addresses, and letters that cannot be built ------------------------------


def test_a_client_at_an_internationalised_domain_receives_its_letter(sink, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    Client.objects.filter(email="client0@example.com").update(email="anna@müller.de")

    run_due()

    (message,) = [m for m in sink.messages if m.recipients == ("anna@xn--mller-kva.de",)]
    letter = assert_well_formed(message.content)
    assert letter["To"].addresses[0].addr_spec == "anna@xn--mller-kva.de"
    statuses = dict(Delivery.objects.filter(mailing=mailing).values_list("email", "status"))
    assert statuses == {"anna@müller.de": "accepted", "client1@example.com": "accepted"}


def test_a_non_ascii_local_part_goes_with_smtputf8_where_the_server_offers_it(sink, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))
    Client.objects.filter(email="client0@example.com").update(email="клиент@пример.рф")

    run_due()

    (message,) = sink.messages
    assert message.recipients == ("клиент@xn--e1afmkfd.xn--p1ai",)
    # RFC 6532: the To header carries the address in UTF-8.
    letter = email.message_from_string(message.content.decode(), policy=email.policy.default)
    assert letter["To"].addresses[0].addr_spec == "клиент@xn--e1afmkfd.xn--p1ai"
    assert Delivery.objects.get(mailing=mailing).status == "accepted"


def test_a_run_with_one_unbuildable_letter_still_sends_the_rest(sink, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=3))
    # A domain label longer than 63 characters has no IDNA form.
    Client.objects.filter(email="client1@example.com").update(email="a@" + "ü" * 70 + ".de")

    run_due()

    assert sorted(m.recipients[0] for m in sink.messages) == [
        "client0@example.com",
        "client2@example.com",
    ]
    failed = Delivery.objects.get(mailing=mailing, status="failed")
    assert failed.email.startswith("a@ü")
    assert "IDNA" in failed.reply_text
    attempt = Attempt.objects.get(mailing=mailing)
    assert (attempt.accepted_count, attempt.failed_count, attempt.pending_count) == (2, 1, 0)


def test_a_client_deleted_during_the_run_is_not_sent_to(sink, user):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))
    attempt = sending.mailing_send_start(mailing=mailing)
    Client.objects.filter(email="client0@example.com").delete()

    sending.mailings_send_due(attempt_id=attempt.pk)

    assert [m.recipients for m in sink.messages] == [("client1@example.com",)]
    assert Delivery.objects.get(email="client0@example.com").status == "failed"


def test_a_message_with_an_unknown_placeholder_fails_its_run_saying_why(sink, user):
    mailing = make_mailing(
        owner=user, clients=make_clients(owner=user, count=1), body="Hello {{ name }}"
    )

    run_due()

    assert sink.messages == []
    attempt = Attempt.objects.get(mailing=mailing)
    assert "{{ name }}" in attempt.response_text
    assert "{{ full_name }}" in attempt.response_text


# --- Preview and test send -------------------------------------------------------------------


def test_the_preview_shows_the_letter_as_the_chosen_client_gets_it(user):
    mailing = markdown(
        make_mailing(
            owner=user,
            clients=make_clients(owner=user, full_names=["Анна Петрова"]),
            subject="{{ email }}",
        )
    )
    client = Client.objects.get(email="client0@example.com")

    preview = sending.letter_preview(message=mailing.message, user=user, client=client)

    assert preview.subject == "client0@example.com"
    assert "Здравствуйте, **Анна**!" in preview.text
    assert "Здравствуйте, <strong>Анна</strong>!" in preview.html
    assert "<script" not in preview.html
    assert unsubscribe_url(client_id=client.pk) in preview.text


def test_without_a_client_the_preview_uses_the_users_own_name_and_email(user):
    mailing = make_mailing(
        owner=user,
        clients=make_clients(owner=user, count=1),
        subject="{{ first_name }} {{ email }}",
    )

    preview = sending.letter_preview(message=mailing.message, user=user)

    assert preview.subject == "Anna anna@example.com"
    assert preview.html is None
    assert "/u/" in preview.text


def test_a_test_send_goes_to_the_user_only_and_is_not_counted(sink, user):
    mailing = markdown(
        make_mailing(
            owner=user, clients=make_clients(owner=user, count=2), subject="Для {{ full_name }}"
        )
    )
    client = Client.objects.get(email="client0@example.com")

    result = sending.message_send_test(message=mailing.message, user=user, client=client)

    assert result.accepted and result.reply.startswith("250")
    (message,) = sink.messages
    assert message.recipients == ("anna@example.com",)
    letter = assert_well_formed(message.content)
    assert str(letter["To"]) == "Anna <anna@example.com>"
    assert letter["Subject"] == "Для Клиент Номер 0"
    # The link of a test letter unsubscribes nobody.
    token = letter["List-Unsubscribe"].strip("<>").rstrip("/").rsplit("/", 1)[1]
    assert client_for_token(token) is None
    assert Attempt.objects.count() == 0 and Delivery.objects.count() == 0


def test_a_test_send_says_why_it_did_not_go(user, settings):
    settings.MAILERS = mailers_for(type("Down", (), {"host": "127.0.0.1", "port": refused_port()}))
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    result = sending.message_send_test(message=mailing.message, user=user)

    assert not result.accepted
    assert "Cannot connect to the mail server" in outcome_text(result.reply)


# --- System checks ---------------------------------------------------------------------------


def check_ids() -> list[str]:
    return [message.id for message in checks.deliverability_warnings()]


def test_checks_warn_about_localhost_names_and_a_plain_http_site(settings):
    settings.DEFAULT_FROM_EMAIL = "Mailing service <noreply@localhost>"
    settings.EMAIL_MESSAGE_ID_DOMAIN = "mailhost"
    settings.EMAIL_LOCAL_HOSTNAME = "localhost"
    settings.SITE_URL = "http://mail.example.com"

    assert check_ids() == ["core.W101", "core.W102", "core.W103", "core.W104"]


def test_checks_pass_with_real_names_and_https(settings):
    settings.DEFAULT_FROM_EMAIL = "Mailing <noreply@mail.example.com>"
    settings.EMAIL_MESSAGE_ID_DOMAIN = ""
    settings.EMAIL_LOCAL_HOSTNAME = "mail.example.com"
    settings.SITE_URL = "https://mail.example.com"

    assert check_ids() == []


def test_deliverability_warnings_are_given_only_in_production_or_for_deploy(settings):
    settings.DEFAULT_FROM_EMAIL = "noreply@localhost"
    settings.DEBUG = True
    assert checks.deliverability_when_not_debug() == []
    assert checks.deliverability_for_deploy() != []
    settings.DEBUG = False
    assert checks.deliverability_when_not_debug() != []
    assert checks.deliverability_for_deploy() == []


def test_a_missing_dkim_key_is_a_check_error(settings, tmp_path):
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = "example.com", "mail"
    settings.DKIM_PRIVATE_KEY_FILE = str(tmp_path / "missing.pem")

    (error,) = checks.dkim_key()

    assert error.id == "core.E101"
    assert "missing.pem" in error.msg


@pytest.mark.parametrize("unset", ["DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY_FILE"])
def test_dkim_set_in_part_is_a_check_error(settings, unset):
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = "example.com", "mail"
    settings.DKIM_PRIVATE_KEY_FILE = "/nonexistent.pem"
    setattr(settings, unset, "")

    (error,) = checks.dkim_key()

    assert unset in error.msg


def test_no_dkim_settings_no_check_error(settings):
    settings.DKIM_DOMAIN = settings.DKIM_SELECTOR = settings.DKIM_PRIVATE_KEY_FILE = ""

    assert checks.dkim_key() == []


# Decoding helpers kept honest: encoded words of a long name decode back to it.
def test_a_long_name_decodes_back_from_its_encoded_words(sink, user):
    name = "Константин Константинопольский-Переславский Александрович"
    make_mailing(
        owner=user, clients=make_clients(owner=user, full_names=[name]), subject="{{ full_name }}"
    )

    run_due()

    raw = parsed(sink.messages[0].content, policy=email.policy.compat32)
    assert str(make_header(decode_header(raw["Subject"]))) == name
