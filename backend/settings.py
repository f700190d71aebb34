"""Django settings, all from the environment (a `.env` file is read when present).

With nothing set the app runs on the embedded default: SQLite, a file cache
and the bundled local catalog. `.env.example` documents every variable.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

INSECURE_DEFAULT_SECRET_KEY = "django-insecure-dev-only-change-me"

DEBUG = env.bool("DEBUG", default=False)
# "production" turns on the start-up checks below; anything else is development.
ENVIRONMENT = env.str("ENVIRONMENT", default="development")
SECRET_KEY = env.str("SECRET_KEY", default="") or INSECURE_DEFAULT_SECRET_KEY
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])


def check_production_settings(
    environment: str, debug: bool, secret_key: str, allowed_hosts: list[str]
) -> None:
    """Refuse to start a production process with development-only settings."""
    if environment != "production":
        return
    problems = []
    if debug:
        problems.append("DEBUG must be off")
    if not secret_key or secret_key == INSECURE_DEFAULT_SECRET_KEY or len(secret_key) < 32:
        problems.append("SECRET_KEY must be set to a private value of at least 32 characters")
    if not allowed_hosts or "*" in allowed_hosts:
        problems.append("ALLOWED_HOSTS must name the served hosts, not '*'")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems))


check_production_settings(ENVIRONMENT, DEBUG, SECRET_KEY, ALLOWED_HOSTS)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework_simplejwt.token_blacklist",
    "strawberry_django",
    "corsheaders",
    "backend",
    "schema",
    "movies",
    "accounts",
]

MIDDLEWARE = [
    "backend.middleware.RequestLogMiddleware",
    # Before anything that may answer: a preflight is answered here.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "backend.static_files.AsyncWhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# /graphql's own stack (backend.graphql_handler): async middleware only, none of the
# cookie machinery the admin needs (the endpoint is CSRF-exempt and authenticates by JWT).
GRAPHQL_MIDDLEWARE = [
    "backend.middleware.RequestLogMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "backend.inline_middleware.SecurityMiddleware",
    "backend.inline_middleware.GZipMiddleware",
    "backend.inline_middleware.CommonMiddleware",
    "backend.inline_middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.urls"
ASGI_APPLICATION = "backend.asgi.application"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# An empty DATABASE_URL means unset, like every other variable here.
DATABASES = {
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI Django does not reuse persistent connections; psycopg 3's pool
    # doubled throughput on a one-query resolver here (README, Performance).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=5.0),
    }
    # Connections are checked, and the pool restarted after an outage (backend/postgres).
    DATABASES["default"]["ENGINE"] = "backend.postgres"
    # No statement outlives a request, no request queues for minutes behind a lock, and an
    # unreachable server fails a connect in seconds (libpq's minimum is 2). 0 turns one off.
    DATABASES["default"]["OPTIONS"]["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=2)
    _bounds = {
        "statement_timeout": env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=5000),
        "lock_timeout": env.int("DATABASE_LOCK_TIMEOUT_MS", default=2000),
    }
    DATABASES["default"]["OPTIONS"]["options"] = " ".join(
        [DATABASES["default"]["OPTIONS"].get("options", ""), *(f"-c {k}={v}" for k, v in _bounds.items())]
    ).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="moviegraph")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.5),
                "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
                # A Redis outage degrades to the source instead of failing requests.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    # Files, not process memory: `make run` starts two workers, and rate limits and
    # recommendation invalidation must hold across them.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env.str("CACHE_DIR", default=str(BASE_DIR / "var" / "cache")),
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"MAX_ENTRIES": 50_000},
        }
    }

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18N / time ----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (GraphiQL's JS/CSS are served by the app itself) --------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "backend" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Collected files (gzipped by the storage above; `make run` and the image collect
# them) when collectstatic has run, else the source folders, uncompressed.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=not STATIC_ROOT.is_dir())
# The example web client (plain HTML + ES modules) at `/`, served as files like any frontend's.
WHITENOISE_ROOT = BASE_DIR / "web"
WHITENOISE_INDEX_FILE = True

# --- GraphQL --------------------------------------------------------------
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", default=10)
GRAPHQL_MAX_TOKENS = env.int("GRAPHQL_MAX_TOKENS", default=2000)
GRAPHQL_MAX_ALIASES = env.int("GRAPHQL_MAX_ALIASES", default=30)
# Introspection and "Did you mean ...?" suggestions: on in development, off in
# production unless asked for; the committed schema.graphql documents the API.
GRAPHQL_INTROSPECTION = env.bool("GRAPHQL_INTROSPECTION", default=ENVIRONMENT != "production")
GRAPHQL_FIELD_SUGGESTIONS = env.bool("GRAPHQL_FIELD_SUGGESTIONS", default=ENVIRONMENT != "production")
# GraphiQL needs introspection, so it follows it.
GRAPHIQL_ENABLED = env.bool("GRAPHIQL_ENABLED", default=True) and GRAPHQL_INTROSPECTION
# Seconds a process keeps the whole answer to an anonymous read-only query (0: off).
GRAPHQL_RESPONSE_CACHE_SECONDS = env.float("GRAPHQL_RESPONSE_CACHE_SECONDS", default=2.0)

# --- CORS (django-cors-headers): browser apps on other origins call /graphql ---
# Tokens travel in the Authorization header, never in cookies, so no credentials.
DEV_SERVER_ORIGINS = [
    f"http://{host}:{port}" for port in (3000, 5173, 8080) for host in ("localhost", "127.0.0.1")
]
CORS_ALLOWED_ORIGINS = env.list(
    "CORS_ALLOWED_ORIGINS", default=[] if ENVIRONMENT == "production" else DEV_SERVER_ORIGINS
)
CORS_URLS_REGEX = r"^/graphql$"
CORS_ALLOW_METHODS = ["GET", "POST", "OPTIONS"]
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "x-request-id"]
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Request-ID", "ETag"]
CORS_PREFLIGHT_MAX_AGE = env.int("CORS_PREFLIGHT_MAX_AGE", default=86400)
# Work one request may ask for (schema/cost.py, README "Request cost"), and the
# longest list any argument or input field may hold.
GRAPHQL_MAX_COST = env.int("GRAPHQL_MAX_COST", default=10_000)
GRAPHQL_MAX_LIST_LENGTH = env.int("GRAPHQL_MAX_LIST_LENGTH", default=100)

# --- Server ----------------------------------------------------------------
# Responses one keep-alive connection carries before it is closed, so clients spread
# over workers again after one restarts (backend/keepalive.py; 0: no cap).
KEEPALIVE_MAX_REQUESTS = env.int("KEEPALIVE_MAX_REQUESTS", default=25)

# --- Security headers in production ---------------------------------------
if ENVIRONMENT == "production":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Logging: JSON lines on stdout unless DEBUG ---------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "backend.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain" if DEBUG else "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # Strawberry logs every resolver error with its traceback; our error
        # extension logs unexpected ones once, with the request id.
        "strawberry.execution": {"level": "CRITICAL"},
    },
}

if ENVIRONMENT not in {"production", "development", "test"}:
    raise ImproperlyConfigured(f"ENVIRONMENT must be production, development or test, not {ENVIRONMENT!r}")

# --- Catalog --------------------------------------------------------------
TMDB_API_KEY = env.str("TMDB_API_KEY", default="")
TMDB_READ_ACCESS_TOKEN = env.str("TMDB_READ_ACCESS_TOKEN", default="")
TMDB_BASE_URL = env.str("TMDB_BASE_URL", default="https://api.themoviedb.org/3")
TMDB_LANGUAGE = env.str("TMDB_LANGUAGE", default="en-US")
TMDB_REGION = env.str("TMDB_REGION", default="") or None
TMDB_TIMEOUT = env.float("TMDB_TIMEOUT", default=10.0)
TMDB_MAX_RETRIES = env.int("TMDB_MAX_RETRIES", default=3)
TMDB_MAX_WORKERS = env.int("TMDB_MAX_WORKERS", default=8)
TMDB_IMAGE_BASE_URL = env.str("TMDB_IMAGE_BASE_URL", default="https://image.tmdb.org/t/p")
# "auto": TMDb when a key or token is set, else the local catalog.
CATALOG_SOURCE = env.str("CATALOG_SOURCE", default="auto")
CATALOG_REFERENCE_DATE = env.str("CATALOG_REFERENCE_DATE", default="") or None
CATALOG_TOP_RATED_MIN_VOTES = env.int("CATALOG_TOP_RATED_MIN_VOTES", default=300)
# Local catalog search: "auto" (PostgreSQL full-text + trigram on PostgreSQL, the
# in-memory fuzzy index elsewhere) or "fuzzy" (the in-memory index on any database).
CATALOG_SEARCH = env.str("CATALOG_SEARCH", default="auto")
if CATALOG_SEARCH not in ("auto", "fuzzy"):
    raise ImproperlyConfigured("CATALOG_SEARCH must be auto or fuzzy")
CACHE_VERSION = env.int("CACHE_VERSION", default=1)

# --- JWT (djangorestframework-simplejwt's token machinery) -----------------
from datetime import timedelta  # noqa: E402

JWT_ACCESS_TOKEN_LIFETIME = env.int("JWT_ACCESS_TOKEN_LIFETIME_SECONDS", default=15 * 60)
JWT_REFRESH_TOKEN_LIFETIME = env.int("JWT_REFRESH_TOKEN_LIFETIME_SECONDS", default=14 * 24 * 3600)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=JWT_ACCESS_TOKEN_LIFETIME),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=JWT_REFRESH_TOKEN_LIFETIME),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("JWT", "Bearer"),
    "USER_ID_CLAIM": "user_id",
}

# --- Rate limits (accounts/ratelimit.py: sliding windows in the shared cache) -
# Per (client IP, account); per client IP over all accounts; failures per account
# from every address (once spent, only addresses that failed there are refused).
LOGIN_RATE_LIMIT = env.str("LOGIN_RATE_LIMIT", default="10/m")
LOGIN_IP_RATE_LIMIT = env.str("LOGIN_IP_RATE_LIMIT", default="30/m")
LOGIN_ACCOUNT_RATE_LIMIT = env.str("LOGIN_ACCOUNT_RATE_LIMIT", default="100/h")
REGISTER_RATE_LIMIT = env.str("REGISTER_RATE_LIMIT", default="5/m")
# Password checks of changePassword and deleteAccount, per signed-in account.
PASSWORD_RATE_LIMIT = env.str("PASSWORD_RATE_LIMIT", default="5/m")
PASSWORD_ACCOUNT_RATE_LIMIT = env.str("PASSWORD_ACCOUNT_RATE_LIMIT", default="20/h")
# updateProfile email changes (each says whether an email is taken), per signed-in account.
EMAIL_CHANGE_RATE_LIMIT = env.str("EMAIL_CHANGE_RATE_LIMIT", default="10/h")
EMAIL_CHANGE_ACCOUNT_RATE_LIMIT = env.str("EMAIL_CHANGE_ACCOUNT_RATE_LIMIT", default="5/h")
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)

# --- Recommender ----------------------------------------------------------
# Published models live in the database (every app server reads the same
# versions); a Django storage backend (e.g. django-storages' S3Storage) holds
# the files instead when RECOMMENDER_STORAGE_BACKEND names one.
RECOMMENDER_STORAGE_BACKEND = env.str("RECOMMENDER_STORAGE_BACKEND", default="")
if RECOMMENDER_STORAGE_BACKEND:
    STORAGES["recommender"] = {
        "BACKEND": RECOMMENDER_STORAGE_BACKEND,
        "OPTIONS": env.json("RECOMMENDER_STORAGE_OPTIONS", default={}),
    }
# Published versions kept (older ones are deleted after each publish).
RECOMMENDER_KEEP_VERSIONS = env.int("RECOMMENDER_KEEP_VERSIONS", default=3)
# Retrain when this many interactions arrived since the last model, or when it
# is this old and anything changed; checked every RECOMMENDER_RETRAIN_CHECK_SECONDS.
RECOMMENDER_RETRAIN_MIN_INTERACTIONS = env.int("RECOMMENDER_RETRAIN_MIN_INTERACTIONS", default=500)
RECOMMENDER_RETRAIN_MAX_AGE_HOURS = env.float("RECOMMENDER_RETRAIN_MAX_AGE_HOURS", default=24.0)
RECOMMENDER_RETRAIN_CHECK_SECONDS = env.int("RECOMMENDER_RETRAIN_CHECK_SECONDS", default=300)

# Seconds a process keeps decoded catalog answers in memory before asking
# Redis again (0 turns the tier off); and how many it keeps.
CATALOG_LOCAL_CACHE_SECONDS = env.float("CATALOG_LOCAL_CACHE_SECONDS", default=5.0)
CATALOG_LOCAL_CACHE_SIZE = env.int("CATALOG_LOCAL_CACHE_SIZE", default=10_000)

# --- Background work (Celery) ---------------------------------------------
# Redis is the broker when REDIS_URL is set; on the embedded default, a folder
# of message files (kombu's filesystem transport), so `make run` needs no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://localhost//"
CELERY_BROKER_FOLDER = Path(env.str("CELERY_BROKER_FOLDER", default="") or BASE_DIR / "var" / "broker")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "messages"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "messages"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
    }
else:
    # Longer than the longest task's time limit, so a slow task is not redelivered while it runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
# A request that queues work must not wait long for a broker that is down (it then does the work itself).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Tasks are idempotent: a task whose worker died is delivered again rather than lost. Not when
# only its pool process was killed (the hard time limit): a task that always overruns would loop.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Retries on upstream failure wait about base x 2^attempt seconds (jittered, capped).
TASK_RETRY_BACKOFF_SECONDS = env.float("TASK_RETRY_BACKOFF_SECONDS", default=5.0)
TASK_RETRY_BACKOFF_MAX_SECONDS = env.float("TASK_RETRY_BACKOFF_MAX_SECONDS", default=600.0)
TASK_MAX_RETRIES = env.int("TASK_MAX_RETRIES", default=5)
# Refresh-ahead of the catalog cache: every CATALOG_REFRESH_SECONDS, the first
# CATALOG_REFRESH_PAGES pages of every list and their movies' details.
CATALOG_REFRESH_SECONDS = env.int("CATALOG_REFRESH_SECONDS", default=600)
CATALOG_REFRESH_PAGES = env.int("CATALOG_REFRESH_PAGES", default=3)
DAY_SECONDS = 24 * 3600
# The periodic tasks beat sends; /readyz reports each one's last success against its period.
CELERY_BEAT_SCHEDULE = {
    "retrain-recommender": {
        "task": "movies.retrain_recommender",
        "schedule": float(RECOMMENDER_RETRAIN_CHECK_SECONDS),
    },
    "refresh-catalog-cache": {
        "task": "movies.refresh_catalog_cache",
        "schedule": float(CATALOG_REFRESH_SECONDS),
    },
    "rebuild-interaction-counts": {
        "task": "movies.rebuild_interaction_counts",
        "schedule": float(DAY_SECONDS),
    },
    "flush-expired-tokens": {"task": "accounts.flush_expired_tokens", "schedule": float(DAY_SECONDS)},
}
