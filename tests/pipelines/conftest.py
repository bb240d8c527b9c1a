"""Fixtures for the ML pipeline tests: the tiny offline SD pipeline, a trained tiny LoRA, an engine.

Everything runs on CPU in seconds; nothing is downloaded (HF_HUB_OFFLINE=1 is set before the ML
libraries are imported).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # runs without a project-level pythonpath setting too
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

# The tiny models gain nothing from intra-op threads, and on a shared CPU two spinning threads made the
# training test ~15x slower (9.6 s vs 0.6 s measured): one thread unless asked otherwise.
torch.set_num_threads(int(os.environ.get("STYLELICENSE_TEST_TORCH_THREADS", "1")))

# Small on purpose: the recipe is the same at 512, only slower.
TRAIN_RESOLUTION = 64
TRAIN_STEPS = 6
TRAIN_EPOCHS = 2
# High learning rate so that six steps move the LoRA far enough to change a generated image visibly.
TRAIN_LR = 2e-3


def make_training_images(count: int = 10, seed: int = 0) -> list[tuple[Image.Image, list[str]]]:
    """Synthetic 'artworks': coloured backgrounds with a few shapes, and tags."""
    rng = np.random.default_rng(seed)
    palette = ["red", "blue", "green", "orange", "purple"]
    out = []
    for i in range(count):
        size = (96 + 8 * (i % 3), 80 + 8 * (i % 4))  # not square: exercises the crop
        bg = tuple(int(v) for v in rng.integers(0, 255, 3))
        image = Image.new("RGB", size, bg)
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x0, y0 = (int(v) for v in rng.integers(0, 40, 2))
            x1, y1 = x0 + int(rng.integers(20, 50)), y0 + int(rng.integers(20, 50))
            draw.ellipse((x0, y0, x1, y1), fill=palette[int(rng.integers(0, len(palette)))])
        out.append((image, [palette[i % len(palette)], "shapes" if i % 2 else "circles"]))
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache dir for this session, with the tiny pipeline saved into it."""
    from workers.pipelines.base_model import ensure_tiny_model

    cache = tmp_path_factory.mktemp("models") / "tiny-sd-v1"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLELICENSE_MODEL_CACHE", str(cache))
        path = ensure_tiny_model()
        yield path


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_model_dir: Path):
    """The tiny pipeline loaded with ``load_pipeline("tiny")`` on CPU."""
    from workers.pipelines.base_model import TINY, load_pipeline

    return load_pipeline(TINY, device="cpu")


@pytest.fixture(scope="session")
def training_images() -> list[tuple[Image.Image, list[str]]]:
    return make_training_images()


@pytest.fixture(scope="session")
def trained_lora(tiny_model_dir: Path, training_images, tmp_path_factory: pytest.TempPathFactory):
    """``(TrainingResult, [TrainingProgress...])`` of one short real training run on the tiny model."""
    from workers.pipelines.base_model import TINY
    from workers.pipelines.training import TrainingConfig, train_lora

    reports = []
    config = TrainingConfig(
        resolution=TRAIN_RESOLUTION, max_steps=TRAIN_STEPS, epochs=TRAIN_EPOCHS, learning_rate=TRAIN_LR
    )
    result = train_lora(
        TINY,
        training_images,
        "inkwash style",
        tmp_path_factory.mktemp("lora"),
        config=config,
        on_progress=reports.append,
        progress_interval_s=3600.0,  # only the epoch-end reports
        seed=0,
    )
    return result, reports


@pytest.fixture(scope="session")
def lora_bytes(trained_lora) -> bytes:
    return trained_lora[0].lora_path.read_bytes()


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path):
    """A CPU InferenceEngine on the tiny model (shared: tests must leave it clean, which is under test)."""
    from workers.pipelines.base_model import TINY
    from workers.pipelines.inference import InferenceEngine

    return InferenceEngine(TINY, device="cpu")
