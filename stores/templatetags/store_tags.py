from django import template

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
