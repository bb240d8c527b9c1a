"""Celery tasks (thin and idempotent): training and generation are added by their features."""
