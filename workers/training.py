"""Training task (model_training queue). Placeholder until the feature lands."""

from . import app


@app.task(name="workers.tasks.train_style", bind=True)
def train_style(self, payload: dict) -> None:
    raise NotImplementedError("train_style is not implemented yet")
