from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def duration(ms) -> str:
    """420 ms, 3.2 s, 2 min 05 s: step timings at a glance."""
    if ms is None:
        return ""
    ms = int(ms)
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds:02d} s"


@register.filter
def elapsed(since) -> str:
    """Time from `since` to now, written like the step timings: 45 s, 2 min 10 s, 1 h 05 min.

    Empty when there is no start.
    """
    if since is None:
        return ""
    seconds = max(0, int((timezone.now() - since).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
