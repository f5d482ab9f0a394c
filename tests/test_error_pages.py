"""Error pages with DEBUG off: the site's layout, the user's language and a way back; an htmx
request that lost its session or its CSRF token leaves the page for sign-in."""

import io
import logging

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

pytestmark = pytest.mark.urls("tests.error_urls")


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


def test_a_404_has_the_layout_the_language_and_a_way_back(user_client):
    response = user_client.get("/clients/999999999/", HTTP_ACCEPT_LANGUAGE="ru")

    assert response.status_code == 404
    assert 'data-testid="error-page"' in response.text
    assert 'class="navbar' in response.text
    assert "Страница не найдена" in response.text or 'lang="ru"' in response.text
    assert f'href="{reverse("home")}" data-testid="back-home"' in response.text


def test_a_403_has_the_layout_and_a_way_back(user_client):
    response = user_client.get(reverse("manage-user-list"))

    assert response.status_code == 403
    assert 'data-testid="error-page"' in response.text
    assert 'data-testid="back-home"' in response.text


def test_a_400_has_the_layout(user_client):
    response = user_client.get("/test-errors/bad-request/")

    assert response.status_code == 400
    assert 'data-testid="error-page"' in response.text


def test_a_500_has_the_layout_and_its_traceback_goes_to_stderr(user_client):
    user_client.raise_request_exception = False
    # LOGGING's handler of errors, a StreamHandler (stderr): its stream is swapped for the test.
    (errors,) = [h for h in logging.getLogger("django").handlers if h.name == "errors"]
    assert type(errors) is logging.StreamHandler
    stream = io.StringIO()
    previous = errors.setStream(stream)
    try:
        response = user_client.get("/test-errors/crash/")
    finally:
        errors.setStream(previous)

    assert response.status_code == 500
    assert 'data-testid="error-page"' in response.text
    assert 'class="navbar' in response.text
    stderr = stream.getvalue()
    assert "Traceback (most recent call last)" in stderr
    assert "RuntimeError: the view crashed" in stderr


def test_a_500_is_mailed_to_the_admins_when_there_are_some(user_client, settings, mailoutbox):
    settings.ADMINS = ["ops@example.com"]
    user_client.raise_request_exception = False

    user_client.get("/test-errors/crash/")

    (letter,) = mailoutbox
    assert letter.to == ["ops@example.com"]
    assert "the view crashed" in letter.body


def test_a_refused_csrf_token_gets_a_page_of_the_site(user):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(user)

    response = browser.post(reverse("client-create"), {"email": "a@example.com"})

    assert response.status_code == 403
    assert 'data-testid="error-page"' in response.text
    assert "The form has expired" in response.text


def test_an_htmx_request_refused_for_csrf_goes_to_sign_in_and_back(user):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(user)

    response = browser.post(
        reverse("client-create"),
        {"email": "a@example.com"},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/clients/?q=a"},
    )

    assert response.status_code == 403
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Fclients%2F%3Fq%3Da"


def test_an_htmx_request_without_a_session_redirects_the_page_to_sign_in(client):
    response = client.get(
        reverse("client-create"),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/mailings/?page=2"},
    )

    assert response["HX-Redirect"] == "/accounts/login/?next=%2Fmailings%2F%3Fpage%3D2"
    assert b"<form" not in response.content


def test_an_htmx_request_refused_with_403_goes_to_sign_in(user_client):
    response = user_client.get(
        reverse("manage-user-list"),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/"},
    )

    assert response["HX-Redirect"] == "/accounts/login/?next=%2F"


def test_a_foreign_current_url_is_not_followed(client):
    response = client.get(
        reverse("client-list"),
        headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/x"},
    )

    assert response["HX-Redirect"] == "/accounts/login/?next=%2F"
