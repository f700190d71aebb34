"""gunicorn settings: ASGI through uvicorn workers (uvloop + httptools)."""

import os

worker_class = "uvicorn_worker.UvicornWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
bind = os.environ.get("BIND", "0.0.0.0:8000")
# Access lines come from our own middleware (JSON, with request id and duration).
accesslog = None
errorlog = "-"
graceful_timeout = 20
timeout = 60
keepalive = 5
