"""The permission matrix (core.permissions), walked over every URL of the app for every role.

Each URL is one action of the matrix: a manager's view says which (the decorator marks it),
an owner's URL with a pk is about one object, any other is one of the user's own pages. A
new URL is walked without anyone listing it; a manager's URL whose view does not ask the
matrix fails here.
"""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client as HttpClient
from django.urls import URLPattern, reverse
from django.utils import timezone

from core.models import User
from core.permissions import MATRIX, Action, Outcome, Role, decide, is_manager
from core.services import administration
from tests.factories import make_user
from tests.test_access import app_url_patterns, owned_objects, url_for

pytestmark = pytest.mark.django_db


def action_of(pattern: URLPattern) -> Action:
    """What the matrix calls the URL's view."""
    action = getattr(pattern.callback, "action", None)
    if pattern.name.startswith("manage-"):
        assert action is not None, f"{pattern.name}: a manager's view must ask core.permissions"
        return action
    assert action is None, f"{pattern.name}: only manager views are marked with an action"
    if getattr(pattern.callback, "login_required", True) is False:
        return Action.PUBLIC
    return Action.OWN_OBJECT if pattern.pattern.converters else Action.OWN_PAGES


def assert_outcome(response, expected: Outcome, what: str) -> None:
    status = response.status_code
    to_sign_in = status == 302 and response.url.startswith(reverse("login"))
    if expected == Outcome.ALLOW:
        assert status not in (403, 404) and not to_sign_in, f"{what}: {status}, allowed expected"
    elif expected == Outcome.SIGN_IN:
        assert to_sign_in, f"{what}: {status}, a redirect to sign in expected"
    elif expected == Outcome.NOT_FOUND:
        # A GET-only view may refuse the method before it looks the object up.
        assert status in (404, 405) if "POST" in what else status == 404, f"{what}: {status}"
    else:
        assert status in (403, 405) if "POST" in what else status == 403, f"{what}: {status}"


@pytest.fixture
def people(user, other_user):
    """One user per role: Anna owns the objects; Boris is another user; Mina a manager; Carl
    is blocked (and owns objects of his own, which he is refused all the same)."""
    manager = make_user(email="mina@example.com", full_name="Mina")
    administration.managers_add(user=manager)
    blocked = make_user(email="carl@example.com", full_name="Carl")
    User.objects.filter(pk=blocked.pk).update(blocked_at=timezone.now(), blocked_reason="spam")
    return {
        Role.ANONYMOUS: None,
        Role.OWNER: user,
        Role.OTHER_USER: other_user,
        Role.MANAGER: manager,
        Role.BLOCKED: User.objects.get(pk=blocked.pk),
    }


def client_as(person: User | None) -> HttpClient:
    client = HttpClient()
    if person is not None:
        client.force_login(person)
    return client


def test_the_matrix_answers_every_action_for_every_role():
    assert set(MATRIX) == set(Action)
    for action, outcomes in MATRIX.items():
        assert set(outcomes) == set(Role), action


def test_every_url_answers_each_role_as_the_matrix_says(people):
    annas = owned_objects(people[Role.OWNER])
    carls = owned_objects(people[Role.BLOCKED])
    patterns = app_url_patterns()
    assert any(p.name.startswith("manage-") for p in patterns)

    for pattern in patterns:
        action = action_of(pattern)
        for role, person in people.items():
            expected = MATRIX[action][role]
            url = url_for(pattern, carls if role == Role.BLOCKED else annas)
            # The blocked user signs in anew each time: it is their session that is refused.
            response = client_as(person).get(url)
            assert_outcome(response, expected, f"GET {url} as {role}")
            # POSTs only where they change nothing: refused, or a manager's empty form. The
            # owner's own POSTs (send, delete...) have tests of their own.
            if expected != Outcome.ALLOW or action not in (Action.OWN_OBJECT, Action.OWN_PAGES):
                response = client_as(person).post(url)
                assert_outcome(response, expected, f"POST {url} as {role}")


def test_a_superuser_is_a_manager_and_a_plain_user_is_not(people):
    root = User.objects.create_superuser(email="root@example.com", password="x")

    assert is_manager(root)
    assert is_manager(people[Role.MANAGER])
    assert not is_manager(people[Role.OWNER])
    assert not is_manager(people[Role.BLOCKED])


def test_each_manager_act_asks_its_own_permission(other_user):
    auditor = make_user(email="audit@example.com")
    auditor.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    auditor = User.objects.get(pk=auditor.pk)

    assert decide(auditor, Action.READ_AUDIT) == Outcome.ALLOW
    assert decide(auditor, Action.OVERSEE) == Outcome.FORBIDDEN
    assert decide(auditor, Action.BLOCK_USER) == Outcome.FORBIDDEN
    assert client_as(auditor).get(reverse("manage-audit-list")).status_code == 200
    assert client_as(auditor).get(reverse("manage-user-list")).status_code == 403


def test_a_manager_is_the_owner_of_their_own_objects_and_no_one_elses(people):
    manager = people[Role.MANAGER]

    assert decide(manager, Action.OWN_OBJECT, owner_id=manager.pk) == Outcome.ALLOW
    assert decide(manager, Action.OWN_OBJECT, owner_id=people[Role.OWNER].pk) == (Outcome.NOT_FOUND)
