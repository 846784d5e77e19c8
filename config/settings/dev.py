"""`make run`: the embedded default. SQLite in var/, the in-memory layer, guests welcome."""

from config.env import env_bool

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)
PARLEY_GUESTS = env_bool("PARLEY_GUESTS", True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
