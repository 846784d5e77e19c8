from __future__ import annotations

from django.db import models


class Schedule(models.Model):
    """One periodic job (parley.jobs.schedule): when it runs next and which queued task is the
    one that will run it. Any other task of the job that runs finds it is not ``pending`` and
    does nothing, so the job never runs as two chains."""

    name = models.CharField(max_length=64, primary_key=True)
    next_run_at = models.DateTimeField()
    pending = models.CharField(max_length=64, blank=True)  # the queued task's result id
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.name} next at {self.next_run_at:%Y-%m-%d %H:%M:%S}"
