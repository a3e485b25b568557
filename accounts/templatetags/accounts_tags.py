from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def registration_open() -> bool:
    """Whether to show sign-up links (REGISTRATION_OPEN)."""
    return settings.REGISTRATION_OPEN
