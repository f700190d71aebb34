"""Benchmark harness: `python -m bench` (or `make bench`) measures the API against the fake TMDb.

Modules:

- ``loadgen``: a dependency-free asyncio HTTP/1.1 keep-alive load generator and its statistics;
- ``zipf``: a seeded Zipf rank sampler for the request mix;
- ``promtext``: reads counters out of the Prometheus text exposition at /metrics;
- ``services``: the bench PostgreSQL database, Redis and the gunicorn server;
- ``scenarios``: the GraphQL queries and the Zipf request mix;
- ``sqlcount``: SQL queries per request, measured in-process with Django's test client;
- ``report``: the markdown tables;
- ``run``: the orchestration behind ``python -m bench``.
"""
