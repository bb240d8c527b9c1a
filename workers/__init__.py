"""The Celery app for GPU workers: `celery -A workers worker -Q model_training` (or image_generation).

Workers have no database access: they read inputs from storage and report through the API's internal
webhooks. torch is imported lazily inside the tasks, never in the parent before fork.
"""

from celery import Celery

app = Celery("stylelicense")
app.config_from_object("celery_config")
app.autodiscover_tasks(["workers"], related_name="tasks", force=True)

celery = app
