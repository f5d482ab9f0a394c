"""The message form's format and placeholders, and the letter's preview as a client gets it."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Client, Mailing, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def ivan(user) -> Client:
    return Client.objects.create(owner=user, email="ivan@example.com", full_name="Ivan Petrov")


@pytest.fixture
def vera(user) -> Client:
    return Client.objects.create(owner=user, email="vera@example.com", full_name="Vera Ivanova")


def iframe_srcdoc(page: str) -> str:
    match = re.search(r'<iframe sandbox srcdoc="([^"]*)"', page)
    assert match, "no sandboxed iframe"
    return html.unescape(match.group(1))


# The message form


def test_the_form_offers_the_format_and_lists_the_placeholders_next_to_the_body(htmx_client):
    page = htmx_client.get(reverse("message-create")).text

    assert '<option value="plain" selected>Plain text</option>' in page
    assert '<option value="markdown">Markdown (sent as text and HTML)</option>' in page
    placeholders = page[page.index('data-testid="placeholders"') :]
    for name in ("full_name", "first_name", "email", "unsubscribe_url"):
        assert f"{{{{ {name} }}}}" in placeholders


def test_a_markdown_message_is_saved_with_its_format(htmx_client, user):
    data = {
        "subject": "Hi {{ first_name }}",
        "format": "markdown",
        "body": "**Sale** for {{ email }}",
    }

    response = htmx_client.post(reverse("message-create"), data)

    assert response.status_code == 204
    message = Message.objects.get(owner=user)
    assert (message.subject, message.format) == ("Hi {{ first_name }}", "markdown")


@pytest.mark.parametrize(
    ("field", "text", "error"),
    [
        ("subject", "Hi {{ name }}", "Unknown placeholder “{{ name }}”"),
        ("body", "Dear {{ client.owner.password }}", "Unknown placeholder"),
        ("body", "Dear {{ full_name }", "without its closing"),
        ("subject", "{% if x %}Hi{% endif %}", "are not supported"),
    ],
)
def test_an_unknown_placeholder_or_a_syntax_error_is_an_error_on_its_field(
    htmx_client, user, field, text, error
):
    data = {"subject": "Hello", "body": "Body", "format": "plain"} | {field: text}

    response = htmx_client.post(reverse("message-create"), data)

    assert response.status_code == 200
    after = response.text[response.text.index(f'id="field-{field}"') :]
    field_error = re.search(r'class="invalid-feedback d-block">([^<]*)<', after).group(1)
    assert html.escape(error, quote=False) in field_error
    assert "{{ full_name }}, {{ first_name }}, {{ email }}, {{ unsubscribe_url }}" in field_error
    assert not Message.objects.filter(owner=user).exists()


def test_a_subject_with_a_line_break_is_refused(htmx_client, user):
    data = {"subject": "Hello\nBcc: x@evil.example", "body": "Body", "format": "plain"}

    response = htmx_client.post(reverse("message-create"), data)

    assert response.status_code == 200
    assert "Keep this on one line." in response.text
    assert not Message.objects.exists()


# The live preview of the message form


def test_the_form_posts_to_the_preview_as_the_user_types(htmx_client):
    page = htmx_client.get(reverse("message-create")).text

    live = page[page.index('data-testid="message-live-preview"') - 300 :]
    assert f'hx-post="{reverse("message-preview")}"' in live
    assert 'hx-trigger="input changed delay:500ms"' in live
    assert 'hx-target="#message-letter"' in live


def test_the_preview_renders_the_typed_letter_for_the_first_client(htmx_client, ivan, vera):
    data = {"subject": "Hi {{ first_name }}", "format": "plain", "body": "Dear {{ full_name }}"}

    response = htmx_client.post(reverse("message-preview"), data)

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="message-letter"')
    assert ">Hi Ivan<" in response.text
    assert "Dear Ivan Petrov" in response.text
    assert "<iframe" not in response.text  # plain text has no HTML part


def test_the_preview_shows_the_chosen_client(htmx_client, ivan, vera):
    data = {"subject": "Hi {{ first_name }}", "body": "{{ email }}", "preview_client": vera.pk}

    response = htmx_client.post(reverse("message-preview"), data)

    assert ">Hi Vera<" in response.text and "vera@example.com" in response.text


def test_a_markdown_preview_shows_the_html_part_in_a_sandboxed_frame(htmx_client, ivan):
    data = {
        "subject": "News",
        "format": "markdown",
        "body": "**Hello** {{ first_name }}\n\n<script>parent.hacked = 1</script>",
    }

    response = htmx_client.post(reverse("message-preview"), data)

    page = response.text
    assert re.search(r"<iframe sandbox srcdoc=", page)
    assert "allow-scripts" not in page
    letter_html = iframe_srcdoc(page)
    assert "<strong>Hello</strong> Ivan" in letter_html
    assert "<script" not in letter_html


def test_the_preview_names_a_placeholder_error_instead_of_the_letter(htmx_client, ivan):
    response = htmx_client.post(
        reverse("message-preview"), {"subject": "Hi {{ nme }}", "body": "x"}
    )

    assert 'data-testid="letter-error"' in response.text
    assert "{{ nme }}" in response.text and "{{ first_name }}" in response.text


def test_an_untouched_form_gets_a_hint(htmx_client, ivan):
    response = htmx_client.post(reverse("message-preview"), {"subject": "", "body": ""})

    assert "Type a subject and a body to see the letter." in response.text


def test_without_clients_the_preview_is_addressed_to_the_user(htmx_client, user):
    response = htmx_client.post(
        reverse("message-preview"), {"subject": "Hi {{ first_name }}", "body": "x"}
    )

    assert ">Hi Anna<" in response.text
    assert "there are no clients yet" in response.text


def test_another_users_client_in_a_preview_is_not_found(htmx_client, other_user):
    theirs = Client.objects.create(owner=other_user, email="x@example.com", full_name="X")
    data = {"subject": "Hi", "body": "Body", "preview_client": theirs.pk}

    assert htmx_client.post(reverse("message-preview"), data).status_code == 404
    assert (
        htmx_client.post(reverse("message-preview"), data | {"preview_client": "x"}).status_code
        == 404
    )


def test_the_preview_needs_the_csrf_token_like_every_htmx_post(user, ivan):
    from django.test import Client as HttpClient

    client = HttpClient(enforce_csrf_checks=True, headers={"HX-Request": "true"})
    client.force_login(user)

    response = client.post(reverse("message-preview"), {"subject": "Hi", "body": "Body"})

    assert response.status_code == 403


def test_the_preview_refuses_a_get(htmx_client):
    assert htmx_client.get(reverse("message-preview")).status_code == 405


# The message page


def test_the_message_page_shows_the_letter_as_the_first_client_receives_it(
    user_client, user, ivan, vera
):
    message = Message.objects.create(
        owner=user, subject="Hi {{ first_name }}", body="For {{ email }}", format="markdown"
    )

    page = user_client.get(reverse("message-detail", args=[message.pk])).text

    assert ">Hi Ivan<" in page
    assert "For ivan@example.com" in iframe_srcdoc(page)
    assert f'<option value="{vera.pk}">' in page  # another client can be chosen
    assert f'hx-get="{reverse("message-letter", args=[message.pk])}"' in page


def test_choosing_another_client_swaps_the_letter_alone(user_client, htmx_client, user, ivan, vera):
    message = Message.objects.create(owner=user, subject="Hi {{ first_name }}", body="x")
    url = reverse("message-letter", args=[message.pk])

    fragment = htmx_client.get(url, {"preview_client": vera.pk}).text
    page = user_client.get(
        reverse("message-detail", args=[message.pk]), {"preview_client": vera.pk}
    )

    assert fragment.lstrip().startswith('<div id="message-letter"') and ">Hi Vera<" in fragment
    assert "<html" in page.text and ">Hi Vera<" in page.text
    assert f'<option value="{vera.pk}" selected>' in page.text


def test_another_users_client_on_the_message_page_is_not_found(user_client, user, other_user):
    message = Message.objects.create(owner=user, subject="Hi", body="x")
    theirs = Client.objects.create(owner=other_user, email="x@example.com", full_name="X")

    for url in (
        reverse("message-detail", args=[message.pk]),
        reverse("message-letter", args=[message.pk]),
    ):
        assert user_client.get(url, {"preview_client": theirs.pk}).status_code == 404


# The mailing form


def test_the_mailing_form_previews_the_chosen_message_for_the_first_chosen_client(
    htmx_client, user, ivan, vera
):
    message = Message.objects.create(owner=user, subject="Hi {{ first_name }}", body="x")
    form = htmx_client.get(reverse("mailing-create")).text

    response = htmx_client.post(
        reverse("mailing-preview"), {"message": message.pk, "clients": [vera.pk, ivan.pk]}
    )

    live = form[form.index('data-testid="mailing-live-preview"') - 300 :]
    assert f'hx-post="{reverse("mailing-preview")}"' in live
    assert "input changed delay:500ms" in live
    assert "Choose a message to see its letter." in form
    assert ">Hi Vera<" in response.text


def test_the_edit_form_of_a_mailing_starts_with_its_letter(htmx_client, user, ivan):
    message = Message.objects.create(owner=user, subject="Hi {{ first_name }}", body="x")
    now = timezone.now()
    mailing = Mailing.objects.create(
        owner=user,
        message=message,
        start_at=now + timedelta(days=1),
        end_at=now + timedelta(days=9),
    )
    mailing.clients.add(ivan)

    form = htmx_client.get(reverse("mailing-update", args=[mailing.pk])).text

    assert ">Hi Ivan<" in form


def test_another_users_message_or_client_in_the_mailing_preview_is_not_found(
    htmx_client, user, other_user, ivan
):
    mine = Message.objects.create(owner=user, subject="Hi", body="x")
    theirs = Message.objects.create(owner=other_user, subject="Hi", body="x")
    their_client = Client.objects.create(owner=other_user, email="x@example.com", full_name="X")
    url = reverse("mailing-preview")

    assert htmx_client.post(url, {"message": theirs.pk}).status_code == 404
    assert (
        htmx_client.post(url, {"message": mine.pk, "clients": [their_client.pk]}).status_code == 404
    )
