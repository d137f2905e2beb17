"""The chain lock under concurrency: writers in parallel transactions never chain onto the
same previous row (audit/services.py takes the lock and reads the head in one round trip on
Postgres; without the lock this test fails)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

import audit
from audit.models import AuditEvent
from audit.services import audit_verify

WRITERS = 6
ROWS_EACH = 60


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_parallel_writers_leave_one_unbroken_chain() -> None:
    def write(writer: int) -> None:
        try:
            for n in range(ROWS_EACH):
                with transaction.atomic():
                    audit.record("test.parallel", target=f"writer:{writer}", data={"n": n})
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert AuditEvent.objects.count() == WRITERS * ROWS_EACH
    assert AuditEvent.objects.values("prev_hash").distinct().count() == WRITERS * ROWS_EACH
    assert audit_verify() is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_parallel_batches_and_single_rows_leave_one_unbroken_chain() -> None:
    def write(writer: int) -> None:
        try:
            for n in range(ROWS_EACH // 3):
                with transaction.atomic(), audit.batch():
                    for part in range(3 if writer % 2 else 1):
                        audit.record(
                            "test.batch", target=f"writer:{writer}", data={"n": n, "p": part}
                        )
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    expected = (WRITERS // 2) * (ROWS_EACH // 3) * 4
    assert AuditEvent.objects.count() == expected
    assert AuditEvent.objects.values("prev_hash").distinct().count() == expected
    assert audit_verify() is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_required")
def test_a_batch_that_fails_appends_nothing() -> None:
    audit.record("test.before")
    with pytest.raises(RuntimeError), transaction.atomic(), audit.batch():
        audit.record("test.lost")
        raise RuntimeError("the step failed")
    audit.record("test.after")

    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "test.before",
        "test.after",
    ]
    assert audit_verify() is None
