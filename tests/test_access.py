"""Every page needs a signed-in user, and another user's object is a 404, never a 403."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from core.models import Client, Import, Mailing, Message, User
from tests.factories import make_client, make_import, make_mailing, make_message

# Names of app URLs that take a pk, by the model they show; a new URL must be listed here.
# A manager's URLs (`manage-<noun>-...`) name the model by their second word.
PK_URL_MODELS = {
    "client": Client,
    "message": Message,
    "mailing": Mailing,
    "user": User,
    "import": Import,
}
PUBLIC_URL_NAMES = {
    "login",
    "signup",
    # Verifying an address: before the account may sign in (test_signup_verification).
    "check-inbox",
    "verification-resend",
    "account-verify",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "set_language",
    "logout",
    # The recipient's link in every letter: a signed token instead of a sign-in (test_unsubscribe).
    "unsubscribe",
    # For load balancers (no secrets) and Prometheus (a bearer token): test_health.
    "healthz",
    "metrics",
    # Browsers ask it on their own, before and after signing in (test_page_chrome_browser).
    "favicon",
}


def app_url_patterns() -> list[URLPattern]:
    """The named URL patterns of the app itself (admin and Django's auth views aside)."""
    found = []

    def walk(patterns, namespace_is_admin=False):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, namespace_is_admin or pattern.app_name == "admin")
            elif pattern.name and not namespace_is_admin and pattern.name not in PUBLIC_URL_NAMES:
                found.append(pattern)

    walk(get_resolver().url_patterns)
    return found


def owned_objects(owner: User) -> dict[type, object]:
    client = make_client(owner=owner, email=f"c-{owner.pk}@example.com", full_name="C")
    message = make_message(owner=owner, subject="Hello", body="Body")
    mailing = make_mailing(owner=owner, message=message, clients=[client])
    imported = make_import(owner=owner, done=True)
    return {Client: client, Message: message, Mailing: mailing, User: owner, Import: imported}


def url_for(pattern: URLPattern, objects: dict[type, object]) -> str:
    keys = set(pattern.pattern.converters)
    if not keys:
        return reverse(pattern.name)
    assert keys == {"pk"}, f"{pattern.name}: only <pk> URLs are known to this test"
    words = pattern.name.split("-")
    model = PK_URL_MODELS[words[1] if words[0] == "manage" else words[0]]
    return reverse(pattern.name, kwargs={"pk": objects[model].pk})


@pytest.mark.django_db
def test_every_app_url_redirects_an_anonymous_visitor_to_sign_in(client, user):
    objects = owned_objects(user)
    patterns = app_url_patterns()
    assert patterns, "the app has URLs"

    for pattern in patterns:
        url = url_for(pattern, objects)
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, f"{method.__name__} {url}"
            assert response.url.startswith(reverse("login")), url


def test_the_walk_covers_the_users_own_settings():
    # No pk: the sign-in test above checks them with the rest.
    names = {pattern.name for pattern in app_url_patterns()}

    assert "sender-profile" in names


@pytest.mark.django_db
def test_another_users_objects_are_not_found(user_client, other_user):
    theirs = owned_objects(other_user)
    # A manager's pages refuse other users outright (403): tests/test_permissions.py.
    pk_patterns = [
        p for p in app_url_patterns() if p.pattern.converters and not p.name.startswith("manage-")
    ]

    for pattern in pk_patterns:
        url = url_for(pattern, theirs)
        assert user_client.get(url).status_code == 404, url
        assert user_client.post(url).status_code in (404, 405), url


@pytest.mark.django_db
def test_the_admin_asks_a_visitor_to_sign_in(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert "/admin/login/" in response.url


@pytest.mark.django_db
def test_the_bulk_and_export_urls_never_reach_another_users_clients(user_client, other_user):
    # They name clients in the body or by a filter, not by a <pk> in the path, so the walk
    # above cannot check them: another user's ids are simply not there.
    theirs = owned_objects(other_user)
    pk = theirs[Client].pk
    for action in ("tag", "untag", "add-to-mailing", "delete"):
        data = {"action": action, "confirm": "1", "pk": pk, "tag_names": "X"}
        user_client.post(reverse("client-bulk"), data)
        user_client.post(reverse("client-bulk"), data | {"scope": "matching", "filter": ""})
    exported = user_client.post(reverse("client-export"), {"pk": pk})
    listed = user_client.get(reverse("client-export"))

    assert Client.objects.filter(pk=pk, tags__isnull=True).exists()
    assert b"".join(exported.streaming_content).count(b"\n") == 1  # the header alone
    assert theirs[Client].email.encode() not in b"".join(listed.streaming_content)
