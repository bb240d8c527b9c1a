"""Celery tasks, registered by name (the API enqueues "workers.tasks.<name>" without importing them).

Each task lives in its own module; importing them here is what `celery -A workers` discovers.
"""

from .generation import generate_image  # noqa: F401
from .training import train_style  # noqa: F401
