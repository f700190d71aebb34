# syntax=docker/dockerfile:1
# Multi-stage: build wheels with compilers, run on a slim image as a non-root user.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.11-slim AS runtime
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=backend.settings \
    ENVIRONMENT=production \
    BIND=0.0.0.0:8000
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app:app . /app
# collectstatic needs settings that pass the production checks; these values exist only at build time.
RUN SECRET_KEY=build-only-collectstatic-key-0123456789abcdef ALLOWED_HOSTS=build \
    python manage.py collectstatic --no-input -v 0 \
    && mkdir -p /app/var && chown app:app /app/var
USER app
EXPOSE 8000
# Sent with the first served host name: Django answers 400 to a Host outside ALLOWED_HOSTS,
# which need not list 127.0.0.1 (a leading dot, a subdomain wildcard, is dropped).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD host="${ALLOWED_HOSTS%%,*}"; curl -fsS -H "Host: ${host#.}" "http://127.0.0.1:${BIND##*:}/healthz" || exit 1
CMD ["gunicorn", "backend.asgi:application", "-c", "backend/gunicorn.conf.py"]
