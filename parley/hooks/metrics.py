"""What /metrics shows of background work, read from the database at scrape time: the task
queue (every worker's, whichever process answers the scrape) and outgoing webhook deliveries.

Counted from rows rather than kept in process counters because the work happens in worker
processes that have no part in the servers' multiprocess metrics."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Sum
from django_tasks_db.models import DBTaskResult
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from parley.hooks.models import Delivery


class BackgroundCollector:
    """A prometheus-client collector (``collect``) of the task queue and webhook deliveries."""

    def collect(self) -> Iterator[Metric]:
        waiting = DBTaskResult.objects.filter(status__in=["READY", "RUNNING", "FAILED"])  # not the finished many
        tasks = dict(waiting.values_list("status").annotate(n=Count("pk")).order_by())
        queue = GaugeMetricFamily(
            "parley_task_queue", "background tasks waiting or running, by state", labels=["state"]
        )
        queue.add_metric(["ready"], tasks.get("READY", 0))
        queue.add_metric(["running"], tasks.get("RUNNING", 0))
        yield queue
        failed = GaugeMetricFamily("parley_tasks_failed", "background tasks that ended with an exception (kept rows)")
        failed.add_metric([], tasks.get("FAILED", 0))
        yield failed
        rows = Delivery.objects.values_list("state").annotate(n=Count("pk"), tries=Sum("attempts")).order_by()
        by_state = {state: (n, tries or 0) for state, n, tries in rows}
        ok = by_state.get("ok", (0, 0))[0]
        dead = by_state.get("dead", (0, 0))[0]
        attempts = sum(tries for _, tries in by_state.values())
        outcomes = CounterMetricFamily(
            "parley_webhook_deliveries",
            "outgoing webhook outcomes: delivered (ok), failed and tried again (retried), given up (dead)",
            labels=["outcome"],
        )
        outcomes.add_metric(["ok"], ok)
        outcomes.add_metric(["retried"], attempts - ok - dead)
        outcomes.add_metric(["dead"], dead)
        yield outcomes
        pending = GaugeMetricFamily("parley_webhook_deliveries_pending", "outgoing webhook deliveries still owed")
        pending.add_metric([], by_state.get("pending", (0, 0))[0])
        yield pending
