"""What templates may ask core.permissions: whether to show the manager's pages at all."""

from django import template

from core import permissions

register = template.Library()


@register.filter
def is_manager(user) -> bool:
    """`{% if user|is_manager %}`: the matrix lets `user` oversee (core.permissions)."""
    return permissions.is_manager(user)
