"""Preview samples of a trained style: fixed prompts and seeds, each with and without the LoRA."""

from __future__ import annotations

import numpy as np

from workers.pipelines.samples import MIN_SAMPLES, render_samples, sample_prompts


def test_prompts_are_neutral_subjects_with_the_trigger_and_the_styles_tags() -> None:
    prompts = sample_prompts("inkwash style", ["inkwash style", "mountain", "mist"], count=4)
    assert len(prompts) == len(set(prompts)) == 4
    assert all(p.startswith("inkwash style, ") for p in prompts)
    assert "mountain" in prompts[0] and "mist" in prompts[1]
    assert sample_prompts("x", [], count=4)[0] == "x, portrait of a person"


def test_samples_render_with_and_without_the_style_deterministically(engine, lora_bytes) -> None:
    kwargs = dict(
        lora_key="samples-test",
        lora_loader=lambda: lora_bytes,
        trigger="inkwash style",
        tags=["mountain"],
        count=MIN_SAMPLES,
        side=64,
        steps=2,
    )
    samples = render_samples(engine, **kwargs)
    assert len(samples) == MIN_SAMPLES and len({s.seed for s in samples}) == MIN_SAMPLES
    for sample in samples:
        assert sample.with_style.size == sample.without_style.size == (64, 64)
    # The LoRA changes the picture; the same call gives the same pictures again.
    first = samples[0]
    assert not np.array_equal(np.asarray(first.with_style), np.asarray(first.without_style))
    again = render_samples(engine, **kwargs)[0]
    assert np.array_equal(np.asarray(again.with_style), np.asarray(first.with_style))
