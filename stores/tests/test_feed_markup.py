"""The activity feed's entries, whose markup is built in Python (stores.live.FeedItem.html)."""

from datetime import UTC, datetime

from stores.live import FeedItem

WHEN = datetime(2026, 11, 27, 9, 30, 5, tzinfo=UTC)


def test_it_escapes_every_value_as_the_template_would():
    item = FeedItem(
        time=WHEN,
        message='<script>alert("x")</script>',
        source="cluster",
        kind="warning",
        reason="Failed<b>",
        object="pod/<i>web</i>",
        count=1,
    )

    html = item.html

    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "Failed&lt;b&gt;" in html and "pod/&lt;i&gt;web&lt;/i&gt;" in html


def test_it_marks_a_warning_in_words_and_folds_repeats():
    item = FeedItem(
        time=WHEN,
        message="exceeded quota",
        source="cluster",
        kind="warning",
        reason="FailedCreate",
        object="replicaset/store-web",
        count=12,
    )

    html = item.html

    assert html.startswith('<li class="event event-cluster event-warning"><time datetime=')
    assert '<span aria-hidden="true">⚠</span> Warning</span>' in html
    assert '<span aria-hidden="true">×12</span><span class="visually-hidden">, 12 times</span>' in html


def test_it_shows_a_platform_error_and_a_step_duration():
    error = FeedItem(time=WHEN, message="Provisioning failed", source="platform", kind="error")
    step = FeedItem(time=WHEN, message="Helm release installed.", source="platform", kind="step", duration_ms=3200)

    assert (
        '<span aria-hidden="true">⚠</span> Error</span> <span class="event-text">Provisioning failed</span>'
        in error.html
    )
    assert step.html.endswith(
        '<span class="event-text">Helm release installed.</span> <small class="muted">(3.2 s)</small></li>'
    )
    assert "tag" not in step.html
