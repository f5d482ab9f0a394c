"""The headers every answer carries: a Content-Security-Policy with nothing inline, a
Permissions-Policy, and no caching of a signed-in user's pages or CSV."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_client, make_mailing, record_run


def test_every_page_has_a_csp_that_allows_no_inline_script_or_style(client, user_client):
    for http, url in ((client, reverse("login")), (user_client, reverse("home"))):
        policy = http.get(url)["Content-Security-Policy"]

        directives = dict(
            (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
        )
        assert directives["script-src"] == ["'self'"]
        assert directives["style-src"] == ["'self'"]
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy


@pytest.mark.django_db
def test_no_page_holds_an_inline_script_style_or_event_handler(user_client, user):
    make_client(owner=user)
    pages = [reverse(name) for name in ("home", "client-list", "client-create", "mailing-create")]
    for url in [*pages, reverse("login")]:
        html = user_client.get(url).text

        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", html), url
        assert " style=" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url


def test_every_answer_has_a_permissions_policy(client, user_client):
    assert "camera=()" in client.get(reverse("login"))["Permissions-Policy"]
    assert "geolocation=()" in user_client.get(reverse("home"))["Permissions-Policy"]


@pytest.mark.django_db
def test_signed_in_pages_and_the_csv_are_never_stored(user_client, user):
    mailing = make_mailing(owner=user, clients=[make_client(owner=user)])
    record_run(mailing, {"client0@example.com": ("accepted", "250 OK")}, at=timezone.now())
    urls = [
        reverse("home"),
        reverse("client-list"),
        reverse("mailing-report-csv", args=[mailing.pk]),
    ]
    for url in urls:
        assert "no-store" in user_client.get(url)["Cache-Control"], url
