"""Celery settings only: queues, routes, acknowledgements, limits. Values come from `config`."""

from __future__ import annotations

from kombu import Queue

from config import get_settings, service_urls
from tasks.enqueue import PRIORITY_STEPS, queue_name, stage_task_name
from tasks.pipelines import STAGE_NAMES
from tasks.provider_jobs import POLL_QUEUE, POLL_TASK
from tasks.webhook_outbox import WEBHOOK_QUEUE

_settings = get_settings()

broker_url = service_urls()[1]
broker_connection_retry_on_startup = True
broker_connection_timeout = 3
broker_transport_options = {
    # Lanes: one Redis list per priority step; a worker pops the most urgent step across
    # all its queues first. Within a step, queues take turns (round robin), so a worker
    # does not run every job's first stage before any job's second.
    "priority_steps": PRIORITY_STEPS,
    "sep": ":",
    "queue_order_strategy": "round_robin",
    # An unacked message comes back after this long; it must outlive the longest stage
    # and the longest retry countdown, or a live stage would be delivered twice.
    "visibility_timeout": max(
        3600, 2 * (_settings.stage_time_limit_s + int(_settings.retry_backoff_max_s))
    ),
    "socket_connect_timeout": 3,
    # Lets several deployments (or test runs) share one Redis database.
    "global_keyprefix": _settings.broker_key_prefix,
    "socket_timeout": 15,
}
# A submit must not hang when Redis is down: give up quickly, the reconciler re-sends.
task_publish_retry_policy = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.3,
    "interval_max": 0.6,
}

# Postgres is the source of truth: no result backend.
task_ignore_result = True
result_backend = None

# A stage message is acknowledged only after the stage ran; a killed worker's message returns.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_soft_time_limit = _settings.stage_soft_time_limit_s
task_time_limit = _settings.stage_time_limit_s

# Polls and webhook deliveries have queues of their own: short calls and slow receivers
# never wait behind (or hold up) a long stage.
task_queues = [Queue(queue_name(stage)) for stage in STAGE_NAMES] + [
    Queue(POLL_QUEUE),
    Queue("maintenance"),
    Queue(WEBHOOK_QUEUE),
]
task_default_queue = "maintenance"
task_routes = {stage_task_name(stage): {"queue": queue_name(stage)} for stage in STAGE_NAMES}
task_routes[POLL_TASK] = {"queue": POLL_QUEUE}
task_routes["maintenance.*"] = {"queue": "maintenance"}
task_routes["webhooks.*"] = {"queue": WEBHOOK_QUEUE}
task_default_priority = PRIORITY_STEPS[1]

# Events for Flower.
worker_send_task_events = True
task_send_sent_event = True

beat_schedule = {
    "reconcile-stages": {
        "task": "maintenance.reconcile_stages",
        "schedule": _settings.maintenance_interval_s,
    },
    "admit-waiting-jobs": {
        "task": "maintenance.admit_waiting_jobs",
        "schedule": _settings.maintenance_interval_s,
    },
    "reap-stale-stages": {
        "task": "maintenance.reap_stale_stages",
        "schedule": _settings.maintenance_interval_s,
    },
    "send-due-webhooks": {
        "task": "maintenance.send_due_webhooks",
        "schedule": _settings.maintenance_interval_s,
    },
    "apply-retention": {
        "task": "maintenance.apply_retention",
        "schedule": _settings.retention_interval_s,
    },
}
beat_schedule_filename = str(_settings.local_dir / "celerybeat-schedule")
