"""Flower's options (`celery -A make_celery flower --conf=config/flowerconfig.py`).

Basic auth is always on: FLOWER_BASIC_AUTH, or a generated password kept in `.local/`.
"""

from config import get_settings
from config.settings import flower_basic_auth

_settings = get_settings()

address = _settings.host
port = _settings.flower_port
basic_auth = [flower_basic_auth(_settings)]
# Keep task history across Flower restarts.
persistent = True
db = str(_settings.local_dir / "flower.db")
max_tasks = 10000
