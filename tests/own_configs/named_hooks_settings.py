"""gunicorn settings that name their hooks by import path, as gunicorn allows:
the hooks live with the rest of the deployment code (deploy_hooks.py)."""

post_fork = "deploy_hooks.post_fork"
worker_exit = "deploy_hooks.worker_exit"

# Code coverage too (docs/own-config.rst): these two lines stay last.
import gunicorn_coverage
gunicorn_coverage.add_to(globals())
