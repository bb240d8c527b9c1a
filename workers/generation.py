"""Generation task (image_generation queue). Placeholder until the feature lands."""

from . import app


@app.task(name="workers.tasks.generate_image", bind=True)
def generate_image(self, payload: dict) -> None:
    raise NotImplementedError("generate_image is not implemented yet")
