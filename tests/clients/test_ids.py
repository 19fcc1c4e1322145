"""UUIDv7 ids: RFC 9562 layout, unique, and in the order they were made within a process."""

import threading
import uuid

from core.ids import uuid7


def test_uuid7_layout_and_order_within_a_process():
    ids = [uuid7() for _ in range(50_000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids[:100])
    assert len(set(ids)) == len(ids)
    assert ids == sorted(
        ids
    )  # many fall in the same millisecond: the sub-millisecond bits and the guard order them


def test_uuid7_from_threads_stays_unique():
    out: list = []

    def make():
        out.extend(uuid7() for _ in range(5_000))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 20_000
