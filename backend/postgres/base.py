"""PostgreSQL through Django's psycopg pool, made to survive a database restart.

Django's pool hands out whatever it holds. After PostgreSQL restarts (or an
operator terminates our sessions), every idle connection is dead; without a
check each one failed a request, and while the server was down each request
waited the whole pool timeout, then the pool waited out its reconnection
backoff (up to minutes) after the server was back. Here:

- a connection is checked (an empty statement) before a request uses it; a dead
  one makes the pool test and replace all its idle connections at once;
- when the pool cannot give a live connection, the server itself is asked
  (a direct connect: refused at once when it is down, bounded by
  ``connect_timeout`` when it does not answer), so a dead database fails a
  request fast, with a coded error (``schema.errors``);
- while the database is known to be down (and before a process's first
  connection), every request asks the server first, and the first that gets an
  answer starts a fresh pool, so the first request after PostgreSQL is back
  succeeds.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db.backends.postgresql import base
from psycopg import OperationalError
from psycopg_pool import PoolTimeout

logger = logging.getLogger(__name__)

# Per process: connections of every thread come from one pool per alias. An alias is
# healthy once its pool has served a connection since the server last failed to answer.
_outage_lock = threading.Lock()
_healthy: set[str] = set()


class DatabaseUnavailable(OperationalError):
    """The database did not answer a direct connect."""


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's PostgreSQL wrapper whose pooled connections are checked and recovered."""

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        if not self.pool:
            return super().get_new_connection(conn_params)
        if self.alias not in _healthy:
            self._recover(conn_params)
        try:
            connection = super().get_new_connection(conn_params)
        except PoolTimeout:
            # Every connection busy, or none can be made: only the server can tell which.
            self._probe(conn_params)
            raise
        try:
            self.pool.check_connection(connection)
        except Exception:
            logger.warning("a pooled database connection was dead; checking the others")
            self.pool.putconn(connection)
            self._probe(conn_params)
            self.pool.check()
            connection = super().get_new_connection(conn_params)
        return connection

    def _probe(self, conn_params: dict[str, Any]) -> None:
        """Connects directly once; raises DatabaseUnavailable (and remembers it) if that fails."""
        try:
            self.Database.connect(**conn_params).close()
        except OperationalError as error:
            if self.alias in _healthy:
                logger.error("the database is unavailable: %s", type(error).__name__)
            _healthy.discard(self.alias)
            raise DatabaseUnavailable("the database is unavailable") from error

    def _recover(self, conn_params: dict[str, Any]) -> None:
        """Before the first connection, or while the database was last seen down: fail at once if it
        is down, else start a fresh pool (an old one may be waiting out its reconnection backoff)."""
        self._probe(conn_params)
        with _outage_lock:
            if self.alias not in _healthy:
                logger.info("the database answers; starting a fresh connection pool")
                self.close_pool()
                _healthy.add(self.alias)
