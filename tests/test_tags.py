"""Tags: the owner's own labels, one per name whatever its case and spacing."""

import pytest
from django.db import IntegrityError

from core.models import Tag
from tests.factories import make_tag


def test_a_tag_is_one_whatever_its_case_and_spacing(user):
    make_tag(owner=user, name="VIP клиенты")

    with pytest.raises(IntegrityError):
        Tag.objects.create(owner=user, name="  vip   КЛИЕНТЫ ")


def test_a_tag_keeps_its_name_tidy_and_belongs_to_its_owner(user, other_user):
    mine = make_tag(owner=user, name="  Постоянные   покупатели ")
    theirs = make_tag(owner=other_user, name="постоянные покупатели")

    assert (mine.name, mine.key) == ("Постоянные покупатели", "постоянные покупатели")
    assert mine.key == theirs.key and mine.pk != theirs.pk
