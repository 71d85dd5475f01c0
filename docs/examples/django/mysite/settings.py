"""Settings of the example Django project of docs/django.rst: what
``django-admin startproject`` writes (Django 5.2), trimmed to what the shop
app needs."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# An example served on 127.0.0.1 only: never use this key, or DEBUG, in production.
SECRET_KEY = "django-insecure-example-of-docs-django-rst"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["shop"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "mysite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        # django_coverage_plugin measures a template only when Django keeps
        # each template's source lines, which it does with debug on.
        "OPTIONS": {"debug": True},
    },
]

WSGI_APPLICATION = "mysite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}

TIME_ZONE = "UTC"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
