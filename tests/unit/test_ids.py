from __future__ import annotations

import uuid

from payoutd.ids import new_id


def test_ids_are_uuid7_unique_and_increasing_within_a_millisecond() -> None:
    ids = [new_id() for _ in range(50_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[-1])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_ids_are_written_as_uuid_writes_them() -> None:
    for i in [new_id() for _ in range(2_000)]:
        assert str(uuid.UUID(i)) == i
