"""A page rendered from a Django template, which only a coverage plugin
(django_coverage_plugin) can measure: coverage itself measures Python files.

GET /?name=Ada renders "Hello, Ada!", GET / "Hello, world!".
"""

from pathlib import Path
from urllib.parse import parse_qs

import django
from django.conf import settings

settings.configure(
    TEMPLATES=[{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).with_name("templates")],
        "OPTIONS": {"debug": True},  # django_coverage_plugin needs Django's template debugging.
    }],
)
django.setup()

from django.template.loader import get_template  # noqa: E402  (needs the settings above)


def app(environ, start_response):
    name = parse_qs(environ["QUERY_STRING"]).get("name", [""])[0]
    page = get_template("hello.html").render({"name": name})
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [page.encode()]
