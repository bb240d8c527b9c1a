"""Preview samples of a freshly trained style: a few neutral prompts built from the style's tags,
rendered at fixed seeds with the LoRA and, for comparison, the same prompt and seed without it.

Plain diffusers (through :class:`~workers.pipelines.inference.InferenceEngine`); no app code. The
worker signs and stores what this returns like any output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from .inference import InferenceEngine, build_prompt

# Subjects that show a style on different content; the style's own tags are added to them.
NEUTRAL_SUBJECTS = ("portrait of a person", "landscape", "still life with fruit", "animal", "city street", "flowers")
SAMPLE_SEEDS = (11, 23, 37, 59, 71, 97)
MIN_SAMPLES = 4


@dataclass(frozen=True)
class Sample:
    """One preview: the prompt and seed, the image with the style and the same without it."""

    prompt: str
    seed: int
    with_style: Image.Image
    without_style: Image.Image


def sample_prompts(trigger: str, tags: list[str], count: int = MIN_SAMPLES) -> list[str]:
    """``count`` prompts: ``"<trigger>, <subject>, <style tag>"``, one neutral subject each and the
    style's most used tags in turn (the trigger itself and duplicates left out)."""
    extra = [tag for tag in dict.fromkeys(tags) if tag and tag.lower() != trigger.lower()]
    prompts = []
    for i in range(count):
        parts = [NEUTRAL_SUBJECTS[i % len(NEUTRAL_SUBJECTS)]]
        if extra:
            parts.append(extra[i % len(extra)])
        prompts.append(build_prompt(trigger, parts))
    return prompts


def render_samples(
    engine: InferenceEngine,
    *,
    lora_key: str,
    lora_loader: Callable[[], bytes],
    trigger: str,
    tags: list[str],
    count: int = MIN_SAMPLES,
    side: int = 512,
    steps: int = 25,
) -> list[Sample]:
    """Render ``count`` samples (each twice: with and without the LoRA) at ``side`` × ``side``.

    Deterministic: fixed seeds (:data:`SAMPLE_SEEDS`) and prompts (:func:`sample_prompts`). Raises what
    :meth:`InferenceEngine.generate` raises (a LoRA that does not fit fails the training job)."""
    if not MIN_SAMPLES <= count <= len(SAMPLE_SEEDS):
        raise ValueError(f"count must be between {MIN_SAMPLES} and {len(SAMPLE_SEEDS)}")
    samples = []
    for prompt, seed in zip(sample_prompts(trigger, tags, count), SAMPLE_SEEDS, strict=False):
        with_style = engine.generate(
            lora_key=lora_key, lora_loader=lora_loader, prompt=prompt, width=side, height=side, seed=seed, steps=steps
        )
        without_style = engine.generate_plain(prompt=prompt, width=side, height=side, seed=seed, steps=steps)
        samples.append(Sample(prompt, seed, with_style, without_style))
    return samples
