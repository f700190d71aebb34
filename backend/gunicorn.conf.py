"""gunicorn settings: ASGI through uvicorn workers (uvloop + httptools).

BIND and WEB_CONCURRENCY come from the environment or `.env`, like every
other setting; the default address is loopback (the image sets 0.0.0.0:8000).
"""

import os
from pathlib import Path

import environ

environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)

worker_class = "uvicorn_worker.UvicornWorker"
workers = int(os.environ.get("WEB_CONCURRENCY") or "2")
bind = os.environ.get("BIND") or "127.0.0.1:8000"
# Access lines come from our own middleware (JSON, with request id and duration).
accesslog = None
errorlog = "-"
graceful_timeout = 20
timeout = 60
keepalive = 5
