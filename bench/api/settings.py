"""Benchmark settings: the production settings plus the floor endpoint's URLs, no throttling.

Use: DJANGO_SETTINGS_MODULE=bench.api.settings (see bench/README.md)."""

import os

os.environ.setdefault("SECURE_HTTPS", "0")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production-use-0123456789")

from loyalty_site.settings import *  # noqa: E402,F403

ROOT_URLCONF = "bench.api.urls"
DEBUG = False
ALLOWED_HOSTS = ["*"]
API_THROTTLE_RATE = "off"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
LOGGING["loggers"]["django.request"] = {"level": "ERROR"}  # noqa: F405
# connections kept for the whole run: run.sh sums each database backend's CPU time per line
DATABASES["default"]["CONN_MAX_AGE"] = None  # noqa: F405
