"""Flower's options (`celery -A make_celery flower --conf=config/flowerconfig.py`).

Basic auth is always on: FLOWER_BASIC_AUTH, or a generated password kept in `.local/`.
Task history is saved to FLOWER_DB_PATH every FLOWER_STATE_SAVE_INTERVAL_S and on a
clean stop, and loaded at start, so a restarted Flower still shows earlier tasks.
"""

from config import get_settings
from config.settings import flower_basic_auth

_settings = get_settings()

address = _settings.host
port = _settings.flower_port
basic_auth = [flower_basic_auth(_settings)]
# Keep task history across Flower restarts; a periodic save also survives a SIGKILL.
persistent = True
db = str(_settings.flower_db_path)
state_save_interval = int(_settings.flower_state_save_interval_s * 1000)  # milliseconds
max_tasks = 10000
# Stage tasks show their job as kwargs (see tasks/flower_labels.py): show that column.
tasks_columns = "name,uuid,state,args,kwargs,received,started,runtime,worker"
