"""Background work of the accounts app (Celery tasks; beat's schedule is in settings)."""

from __future__ import annotations

from django.core.management import call_command

from backend.celery import BackgroundTask, app


@app.task(base=BackgroundTask, name="accounts.flush_expired_tokens", soft_time_limit=300, time_limit=330)
def flush_expired_tokens() -> str:
    """Deletes refresh-token records past their expiry (simplejwt's blacklist tables); idempotent."""
    call_command("flushexpiredtokens", verbosity=0)
    return "flushed"
