"""Enqueueing a restore, from wherever one is decided (a view, the end of a provision)."""

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task


def enqueue_restore(store_id: int, backup_id: int) -> None:
    """On commit: a control worker restores the backup into the store (stores.tasks.restore)."""
    transaction.on_commit(
        lambda: async_task(
            "stores.tasks.restore",
            store_id,
            backup_id,
            cluster=settings.CONTROL_QUEUE,
            task_name=f"restore-store-{store_id}-{backup_id}",
        )
    )
