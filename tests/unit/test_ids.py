"""ids.new_id: 26 Crockford base32 characters, sortable by the time they were made for."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from helpdesk.core.ids import new_id

CROCKFORD = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
BASE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def test_ids_are_26_crockford_characters() -> None:
    for _ in range(50):
        assert CROCKFORD.match(new_id(BASE))


def test_ids_from_later_times_sort_after() -> None:
    moments = [
        datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
        datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC),
        BASE,
        BASE + timedelta(milliseconds=1),
        BASE + timedelta(milliseconds=2),
        BASE + timedelta(seconds=1),
        BASE + timedelta(days=365 * 30),
        datetime(9999, 12, 31, tzinfo=UTC),
    ]
    ids = [new_id(m) for m in moments]
    assert sorted(ids) == ids
    assert len(set(ids)) == len(ids)


def test_the_time_part_is_the_first_ten_characters() -> None:
    a, b = new_id(BASE), new_id(BASE)
    assert a[:10] == b[:10]
    assert a != b  # 80 random bits tell ids of the same millisecond apart
    assert new_id(datetime(1970, 1, 1, tzinfo=UTC))[:10] == "0" * 10


def test_ids_do_not_depend_on_the_time_zone_of_the_moment() -> None:
    from datetime import timezone

    same_instant = BASE.astimezone(timezone(timedelta(hours=-5)))
    assert new_id(same_instant)[:10] == new_id(BASE)[:10]
