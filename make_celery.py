"""The Celery entry point: `celery -A make_celery worker|beat|flower`."""

from webapp import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
