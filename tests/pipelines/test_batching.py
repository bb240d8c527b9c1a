"""BatchEngine on the tiny model: batched == one at a time, mixed styles, styles kept active, exact base,
progress per request, failure isolation.

Tolerance: outputs are compared as the pipeline's float images (HxWx3 in [0, 1], fp32 on CPU).
Batching changes the order of floating-point sums inside matmuls, so equal means max abs diff < 1e-4
(measured ~2.5e-6); exact equality is asserted where the computation is the same (base restore).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load, save

from workers.pipelines.base_model import TINY
from workers.pipelines.batching import BatchEngine, RenderRequest
from workers.pipelines.inference import InferenceInputError, LoraMissingError, PromptError

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def style_b(lora_bytes: bytes) -> bytes:
    """A second style: the trained LoRA with its up-projections negated and scaled."""
    state = load(lora_bytes)
    return save({k: (-2 * v if "lora_B" in k or "lora.up" in k else v) for k, v in state.items()})


@pytest.fixture(scope="module")
def batch_engine(tiny_model_dir) -> BatchEngine:
    return BatchEngine(TINY, device="cpu")


def _req(seed: int, key: str | None = None, data: bytes | None = None, **kw) -> RenderRequest:
    kw = {"steps": 3, "width": 64, "height": 64, **kw}
    return RenderRequest(
        prompt=f"inkwash style, circles {seed}",
        seed=seed,
        lora_key=key,
        lora_loader=(lambda: data) if data is not None else None,
        **kw,
    )


def _alone(engine: BatchEngine, requests: list[RenderRequest]) -> list[np.ndarray]:
    out = []
    for request in requests:
        (outcome,) = engine.render([request], output="np")
        assert outcome.ok and outcome.batch_size == 1, outcome.error
        out.append(outcome.array)
    return out


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def test_batched_equals_one_at_a_time(batch_engine: BatchEngine, lora_bytes: bytes) -> None:
    requests = [_req(seed, "a", lora_bytes) for seed in (0, 1, 2, 3)]
    alone = _alone(batch_engine, requests)
    outcomes = batch_engine.render(requests, output="np")
    assert [o.batch_size for o in outcomes] == [4, 4, 4, 4]
    assert _max_diff(alone, [o.array for o in outcomes]) < TOLERANCE
    # each seed really got its own noise
    assert float(np.abs(alone[0] - alone[1]).max()) > 0.05


def test_mixed_styles_in_one_batch_equal_each_alone(batch_engine: BatchEngine, lora_bytes, style_b) -> None:
    requests = [_req(0, "a", lora_bytes), _req(1, "b", style_b), _req(2), _req(3, "a", lora_bytes)]
    alone = _alone(batch_engine, requests)
    outcomes = batch_engine.render(requests, output="np")
    assert all(o.ok for o in outcomes) and {o.batch_size for o in outcomes} == {4}  # one denoising loop
    assert _max_diff(alone, [o.array for o in outcomes]) < TOLERANCE
    # and the styles differ from each other for the same seed
    same_seed = _alone(batch_engine, [_req(5, "a", lora_bytes), _req(5, "b", style_b), _req(5)])
    assert float(np.abs(same_seed[0] - same_seed[1]).max()) > 0.01  # 100x the tolerance
    assert float(np.abs(same_seed[0] - same_seed[2]).max()) > 0.01


def test_split_mode_runs_one_fused_batch_per_style(tiny_model_dir, lora_bytes, style_b) -> None:
    engine = BatchEngine(TINY, device="cpu", mix_styles=False)
    requests = [_req(0, "a", lora_bytes), _req(1, "b", style_b), _req(2, "a", lora_bytes)]
    alone = _alone(engine, requests)
    outcomes = engine.render(requests, output="np")
    assert [o.batch_size for o in outcomes] == [2, 1, 2]
    assert _max_diff(alone, [o.array for o in outcomes]) < TOLERANCE


def test_style_stays_active_across_calls_and_switches_only_on_change(tiny_model_dir, lora_bytes, style_b) -> None:
    engine = BatchEngine(TINY, device="cpu")
    loads: list[str] = []

    def req(seed: int, key: str, data: bytes) -> RenderRequest:
        def loader() -> bytes:
            loads.append(key)
            return data

        return RenderRequest(
            prompt="inkwash style", seed=seed, width=64, height=64, steps=1, lora_key=key, lora_loader=loader
        )

    for seed in range(3):
        assert engine.render([req(seed, "a", lora_bytes)])[0].ok
    assert engine.active_style == "a"
    assert loads == ["a"] and engine.stats["style_switches"] == 1 and engine.stats["adapter_loads"] == 1
    engine.render([req(0, "b", style_b)])
    engine.render([req(0, "b", style_b)])
    assert engine.active_style == "b" and engine.stats["style_switches"] == 2
    engine.render([req(0, "a", lora_bytes)])  # back to a: adapter still loaded, bytes still cached
    assert loads == ["a", "b"] and engine.stats["adapter_loads"] == 2 and engine.stats["style_switches"] == 3


def test_base_weights_stay_exact(tiny_model_dir, lora_bytes, style_b) -> None:
    fresh = BatchEngine(TINY, device="cpu")
    base_state = {k: v.clone() for k, v in fresh.pipeline.unet.state_dict().items()}
    plain = fresh.render([_req(9)], output="np")[0].array
    only_b = fresh.render([_req(9, "b", style_b)], output="np")[0].array

    engine = BatchEngine(TINY, device="cpu")
    for requests in (
        [_req(1, "a", lora_bytes)] * 2,
        [_req(2, "a", lora_bytes), _req(3, "b", style_b), _req(4)],
        [_req(5, "a", lora_bytes)],
    ):
        assert all(o.ok for o in engine.render(requests))
    # Switching from a fused style gives bit-for-bit what a fresh engine gives for that style.
    assert np.array_equal(engine.render([_req(9, "b", style_b)], output="np")[0].array, only_b)
    engine.reset()
    after = engine.pipeline.unet.state_dict()
    assert after.keys() == base_state.keys()
    assert all(torch.equal(after[k], base_state[k]) for k in base_state)
    assert np.array_equal(engine.render([_req(9)], output="np")[0].array, plain)


def test_progress_for_every_request_of_a_batch(batch_engine: BatchEngine, lora_bytes, style_b) -> None:
    calls: dict[int, list[tuple[int, int]]] = {0: [], 1: [], 2: []}
    requests = [
        _req(i, key, data, steps=4, on_step=lambda s, t, i=i: calls[i].append((s, t)))
        for i, (key, data) in enumerate([("a", lora_bytes), ("b", style_b), ("a", lora_bytes)])
    ]
    outcomes = batch_engine.render(requests)
    assert all(o.ok and o.batch_size == 3 for o in outcomes)
    assert all(c == [(1, 4), (2, 4), (3, 4), (4, 4)] for c in calls.values()), calls


def test_one_bad_request_fails_alone(batch_engine: BatchEngine, lora_bytes: bytes) -> None:
    def gone() -> bytes:
        raise FileNotFoundError("loras/gone.safetensors")

    def stop(step: int, total: int) -> None:
        if step == 2:
            raise RuntimeError("the API says this generation was cancelled")

    good = [_req(0, "a", lora_bytes), _req(1, "a", lora_bytes)]
    bad = [
        _req(2, "a", lora_bytes, on_step=stop),
        RenderRequest(prompt="  ", seed=3, width=64, height=64, steps=3),
        _req(4, width=100),
        RenderRequest(prompt="x", seed=5, width=64, height=64, steps=3, lora_key="gone", lora_loader=gone),
        _req(6, "junk", b"not a safetensors file"),
        _req(7, "wrong", save({"unet.x.lora_A.weight": torch.zeros(2, 3)})),
    ]
    outcomes = batch_engine.render([good[0], *bad, good[1]], output="np")
    assert outcomes[0].ok and outcomes[-1].ok
    errors = [o.error for o in outcomes[1:-1]]
    assert isinstance(errors[0], RuntimeError) and "cancelled" in str(errors[0])
    assert isinstance(errors[1], PromptError)
    assert isinstance(errors[2], InferenceInputError)
    assert all(isinstance(e, LoraMissingError) for e in errors[3:])
    assert _max_diff(_alone(batch_engine, good), [outcomes[0].array, outcomes[-1].array]) < TOLERANCE


def test_a_failing_batch_is_retried_one_by_one(tiny_model_dir, lora_bytes, monkeypatch) -> None:
    engine = BatchEngine(TINY, device="cpu")
    real = engine._denoise

    def flaky(pipe, requests, names):
        if len(requests) > 1 or requests[0].seed == 13:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated for a batch)")
        return real(pipe, requests, names)

    monkeypatch.setattr(engine, "_denoise", flaky)
    outcomes = engine.render([_req(1, "a", lora_bytes), _req(13, "a", lora_bytes), _req(2)])
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, torch.OutOfMemoryError)


def test_batches_are_capped_and_grouped_by_size(tiny_model_dir, lora_bytes) -> None:
    engine = BatchEngine(TINY, device="cpu", max_batch=2)
    requests = [_req(i, "a", lora_bytes, steps=1) for i in range(5)] + [_req(9, "a", lora_bytes, steps=1, height=128)]
    outcomes = engine.render(requests)
    assert [o.batch_size for o in outcomes] == [2, 2, 2, 2, 1, 1]
    assert outcomes[-1].image.size == (64, 128) and outcomes[0].image.size == (64, 64)


def test_hotswap_slot_matches_fused_and_zero_lora_is_the_base(tiny_model_dir, lora_bytes, style_b) -> None:
    """The CUDA/compile path's style switching (one slot, weights copied in place), run eagerly on CPU."""
    fused = BatchEngine(TINY, device="cpu")
    swap = BatchEngine(TINY, device="cpu", hotswap=True)
    requests = [_req(0, "a", lora_bytes), _req(1, "b", style_b), _req(2), _req(3, "a", lora_bytes)]
    expected = _alone(fused, requests)
    outcomes = swap.render(requests, output="np")
    assert all(o.ok for o in outcomes) and [o.batch_size for o in outcomes] == [2, 1, 1, 2]
    assert _max_diff(expected, [o.array for o in outcomes]) < TOLERANCE
    assert np.array_equal(outcomes[2].array, expected[2])  # zero LoRA: exactly the base
    bad = swap.render([_req(4, "wrong", save({"unet.x.lora_A.weight": torch.zeros(2, 3)})), _req(5, "b", style_b)])
    assert isinstance(bad[0].error, LoraMissingError) and bad[1].ok


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_path_fp16_channels_last_and_warm_up(tiny_model_dir, lora_bytes, style_b) -> None:
    engine = BatchEngine(TINY, device="cuda")
    assert engine.dtype == torch.float16
    pipe = engine.pipeline
    conv = next(m for m in pipe.unet.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert set(engine.warm_up([(64, 64), (64, 128)], steps=1)) == {"64x64", "64x128"}
    outcomes = engine.render([_req(0, "a", lora_bytes), _req(1, "b", style_b), _req(2)], output="np")
    assert all(o.ok and o.batch_size == 3 for o in outcomes)
    alone = _alone(engine, [_req(0, "a", lora_bytes), _req(1, "b", style_b), _req(2)])
    assert _max_diff(alone, [o.array for o in outcomes]) < 3e-3  # fp16 on CUDA (diffusers' SD tolerance)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_compiled_hotswap_does_not_recompile_on_style_change(
    tiny_model_dir, lora_bytes, style_b, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    engine = BatchEngine(TINY, device="cuda", compile_unet=True)
    engine.warm_up([(64, 64)], steps=1)
    import torch._dynamo.utils as dynamo_utils

    before = dict(dynamo_utils.counters["stats"])
    for key, data in (("a", lora_bytes), ("b", style_b), ("a", lora_bytes)):
        assert engine.render([_req(0, key, data, steps=1)])[0].ok
    assert dynamo_utils.counters["stats"].get("unique_graphs", 0) == before.get("unique_graphs", 0)
    assert (tmp_path / "inductor").is_dir()
