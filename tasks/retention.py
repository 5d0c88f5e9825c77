"""Retention, run by beat: finished jobs expire with their files, and nothing else grows forever.

- A finished job (and its stages, events and artifacts) is deleted once it has been
  finished longer than its owner's tier keeps it (STANDARD_RETENTION_DAYS, ...).
- Artifact folders with no job row (a crash between delete and unlink, a restored
  database) are removed once older than ORPHAN_FILE_GRACE_S; so are uploads
  (tasks/uploads.py) that no job names any more.
- Idempotency keys are forgotten after 24 h, and batches once all their jobs are gone.
- With FINISHED_JOB_EVENTS_KEPT > 0, a job that finished lately keeps only its
  last N events (off by default: see the README).
Work is done in bounded batches, newest deletions committed before files go.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta

from celery import shared_task
from sqlalchemy import ColumnElement, delete, exists, func, select

from config import get_settings
from tasks.db import db
from tasks.flower_labels import forget_task_ids
from tasks.models import Batch, IdempotencyKey, Job, JobEvent, User
from tasks.states import FINAL
from tasks.uploads import remove_orphan_uploads

log = logging.getLogger(__name__)

BATCH_SIZE = 500
"""Jobs deleted per transaction."""

MAX_BATCHES_PER_RUN = 20
"""A run stops after this many batches per tier; the next run carries on."""

IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
"""How long an Idempotency-Key is remembered (as promised to API clients)."""

EVENT_COMPACTION_WINDOW = timedelta(days=1)
"""Events are compacted for jobs that finished this recently (each job once, a run or two
after it finishes), so a run never scans the whole table."""

JOB_ID = re.compile(r"[0-9a-f]{32}")
"""What a job's artifact folder is named."""


@dataclass(frozen=True)
class RetentionReport:
    """What one retention run removed."""

    jobs: int = 0
    orphan_dirs: int = 0
    orphan_uploads: int = 0
    events: int = 0
    idempotency_keys: int = 0
    batches: int = 0


@shared_task(name="maintenance.apply_retention", ignore_result=True)
def apply_retention() -> dict[str, int]:
    """Expire finished jobs and their files, orphan files, old keys and (optionally) events."""
    report = RetentionReport(
        jobs=expire_finished_jobs(),
        orphan_dirs=remove_orphan_dirs(),
        orphan_uploads=remove_orphan_uploads(),
        events=compact_finished_job_events(),
        idempotency_keys=delete_old_idempotency_keys(),
        batches=delete_empty_batches(),
    )
    if any(asdict(report).values()):
        log.info("retention removed %s", asdict(report))
    return asdict(report)


def expire_finished_jobs() -> int:
    """Delete jobs finished longer ago than their owner's tier keeps them; returns how many."""
    total = 0
    for tier, days in get_settings().retention_days.items():
        cutoff = func.now() - timedelta(days=days)
        for _ in range(MAX_BATCHES_PER_RUN):
            due = (
                select(Job.id)
                .join(User, User.id == Job.user_id)
                .where(User.tier == tier, Job.status.in_(FINAL), Job.finished_at < cutoff)
                .order_by(Job.finished_at)
                .limit(BATCH_SIZE)
            )
            # The conditions again on the row itself: a job retried meanwhile is spared.
            deleted = delete_jobs(
                db.session.execute(due).scalars().all(),
                Job.status.in_(FINAL) & (Job.finished_at < cutoff),
            )
            total += len(deleted)
            if len(deleted) < BATCH_SIZE:
                break
    return total


def delete_jobs(job_ids: Iterable[str], condition: ColumnElement[bool] | None = None) -> list[str]:
    """Delete these finished jobs (rows cascade), then their files; returns the deleted ids."""
    ids = list(job_ids)
    if not ids:
        db.session.commit()
        return []
    statement = delete(Job).where(Job.id.in_(ids), Job.status.in_(FINAL))
    if condition is not None:
        statement = statement.where(condition)
    deleted = list(db.session.execute(statement.returning(Job.id)).scalars())
    db.session.commit()
    for job_id in deleted:
        shutil.rmtree(get_settings().artifacts_dir / job_id, ignore_errors=True)
    forget_task_ids(deleted)
    return deleted


def remove_orphan_dirs() -> int:
    """Remove artifact folders of jobs that no longer exist, once older than the grace period."""
    root = get_settings().artifacts_dir
    if not root.is_dir():
        return 0
    cutoff = time.time() - get_settings().orphan_file_grace_s
    candidates = [
        path
        for path in root.iterdir()
        if JOB_ID.fullmatch(path.name) and path.is_dir() and path.stat().st_mtime < cutoff
    ]
    removed = 0
    for start in range(0, len(candidates), 1000):
        chunk = {path.name: path for path in candidates[start : start + 1000]}
        alive = set(
            db.session.execute(select(Job.id).where(Job.id.in_(list(chunk)))).scalars().all()
        )
        db.session.commit()
        for name in chunk.keys() - alive:
            shutil.rmtree(chunk[name], ignore_errors=True)
            removed += 1
    return removed


def compact_finished_job_events(keep: int | None = None) -> int:
    """Keep only the last `keep` events of each recently finished job (0: keep all)."""
    keep = get_settings().finished_job_events_kept if keep is None else keep
    if keep <= 0:
        return 0
    # DELETE ... USING jobs: from the recently finished jobs (an index range) to their events.
    result = db.session.execute(
        delete(JobEvent).where(
            JobEvent.job_id == Job.id,
            Job.status.in_(FINAL),
            Job.finished_at > func.now() - EVENT_COMPACTION_WINDOW,
            JobEvent.seq <= Job.last_seq - keep,
        )
    )
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_old_idempotency_keys() -> int:
    """Forget Idempotency-Keys older than 24 h."""
    result = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < func.now() - IDEMPOTENCY_KEY_TTL)
    )
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_empty_batches() -> int:
    """Delete batches whose jobs have all expired."""
    result = db.session.execute(
        delete(Batch).where(
            Batch.created_at < func.now() - timedelta(hours=1),
            ~exists().where(Job.batch_id == Batch.id),
        )
    )
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
