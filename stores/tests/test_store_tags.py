import pytest

from stores.templatetags.store_tags import duration


@pytest.mark.parametrize(
    "ms,text", [(None, ""), (0, "0 ms"), (420, "420 ms"), (1000, "1.0 s"), (3249, "3.2 s"), (125_000, "2 min 05 s")]
)
def test_it_formats_durations(ms, text):
    assert duration(ms) == text
