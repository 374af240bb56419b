"""One settings builder for every Django service: a service's settings.py is a few lines.

Local mode: SQLite under VO2_DATA_DIR, in-process cache, kombu filesystem broker. SaaS mode: DATABASE_URL
(PostgreSQL, the non-owner application role), REDIS_URL, BROKER_URL. Migrations run with DATABASE_MIGRATE_URL
(the owner role) when it is set.
"""
from __future__ import annotations

import os

import dj_database_url

from .. import config, storage
from ..problems import PROBLEM_SCHEMA
from ..requestid import logging_config


def database_settings(service: str) -> dict:
    url = config.env("DATABASE_URL") or f"sqlite:///{config.data_dir() / (service + '.sqlite3')}"
    db = dj_database_url.parse(url, conn_max_age=int(config.env("DB_CONN_MAX_AGE", "60")))
    db["ATOMIC_REQUESTS"] = True  # the tenant is set per transaction; a request is one transaction
    if db["ENGINE"].endswith("sqlite3"):
        db["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE",
                         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
        db["CONN_MAX_AGE"] = 0
    else:
        db["ENGINE"] = "servicekit.django.postgresql"  # Django's, checking a kept connection without a query
        db.setdefault("OPTIONS", {})
        db["CONN_HEALTH_CHECKS"] = True
    db["TEST"] = {"NAME": config.env("TEST_DATABASE_NAME")} if config.env("TEST_DATABASE_NAME") else {}
    return db


def cache_settings(service: str) -> dict:
    redis_url = config.env("REDIS_URL")
    if redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url,
                            "KEY_PREFIX": service}}
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": service}}


def broker_url() -> str:
    url = config.env("BROKER_URL")
    if url:
        return url
    return "filesystem://"


def build(service: str, *, apps: list[str], urlconf: str, title: str, description: str = "") -> dict:
    """The settings every Django service shares; the service adds its own below the call."""
    debug = config.env_bool("DJANGO_DEBUG", False)
    return {
        "SERVICE_NAME": service,
        "VO2_MODE": config.mode(),
        "SECRET_KEY": config.secret("DJANGO_SECRET_KEY", f"{service}-django"),
        "DEBUG": debug,
        "ALLOWED_HOSTS": config.env_list("ALLOWED_HOSTS", "*"),
        "INSTALLED_APPS": [
            "django.contrib.contenttypes",
            "rest_framework",
            "drf_spectacular",
            "django_filters",
            "servicekit.django",
            "servicekit.events",  # outbox + inbox tables; run_relay, run_consumer, dead_letters commands
            *apps,
        ],
        "MIDDLEWARE": [
            "servicekit.django.middleware.RequestContextMiddleware",
            "django.middleware.common.CommonMiddleware",
        ],
        "ROOT_URLCONF": urlconf,
        "DATABASES": {"default": database_settings(service)},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "CACHES": cache_settings(service),
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "APPEND_SLASH": False,
        "DATA_UPLOAD_MAX_MEMORY_SIZE": config.env_int("MAX_JSON_BODY_BYTES", 10 * 1024 * 1024),
        "FILE_UPLOAD_MAX_MEMORY_SIZE": 2 * 1024 * 1024,
        "REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": ["servicekit.django.drf.TokenAuthentication"],
            "DEFAULT_PERMISSION_CLASSES": ["servicekit.django.drf.IsTenantMember"],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "DEFAULT_PARSER_CLASSES": ["servicekit.django.drf.JSONParser"],  # nesting limit, finite numbers
            "DEFAULT_PAGINATION_CLASS": "servicekit.django.drf.CursorPage",
            "DEFAULT_FILTER_BACKENDS": ["servicekit.django.filters.KnownParametersFilterBackend"],
            "DEFAULT_SCHEMA_CLASS": "servicekit.django.schema.AutoSchema",  # the kit's problem answers documented
            "EXCEPTION_HANDLER": "servicekit.django.drf.problem_exception_handler",
            "UNAUTHENTICATED_USER": None,
        },
        "SPECTACULAR_SETTINGS": {
            "TITLE": title,
            "DESCRIPTION": description,
            "VERSION": "1.0.0",
            "OAS_VERSION": "3.1.0",  # nullable fields as `type: [..., "null"]`, as the gateway's merged document
            "SERVE_INCLUDE_SCHEMA": False,
            "COMPONENT_SPLIT_REQUEST": True,
            "SCHEMA_PATH_PREFIX": r"/api/v1",
            # the bearer scheme comes from servicekit.django.schema.BearerTokenScheme, on the operations that use it
            "APPEND_COMPONENTS": {"schemas": {"Problem": PROBLEM_SCHEMA}},
            "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                                     "servicekit.django.schema.postprocess"],
        },
        "LOGGING": logging_config(service, config.env("LOG_LEVEL", "INFO")),
        "BROKER_URL": broker_url(),
        "REDIS_URL": config.env("REDIS_URL"),
        "VO2_DATA_DIR": str(config.data_dir()),
        **storage.s3_settings(),  # FILE_STORAGE/REPORT_STORAGE=s3: the bucket, prefix, encryption, presigned links
    }


def migrate_url_in_effect() -> None:
    """`manage.py migrate` runs as the owner role: swap DATABASE_URL for DATABASE_MIGRATE_URL when it is set."""
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in {"migrate", "showmigrations"} and os.environ.get("DATABASE_MIGRATE_URL"):
        os.environ["DATABASE_URL"] = os.environ["DATABASE_MIGRATE_URL"]
