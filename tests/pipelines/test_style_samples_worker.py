"""The training worker's sample step on the tiny model: every preview (with and without the style) is
marked like a sold output (watermarked serial, rights metadata naming the platform as licensee),
stored publicly, and reported with its hashes; the report carries the sampled loss curve."""

from __future__ import annotations

import io
from types import SimpleNamespace

from PIL import Image

from stylelicense.provenance import keys, watermark
from stylelicense.storage import LocalStorage
from workers.pipelines.signing import read_metadata
from workers.style_samples import SAMPLE_BUYER, render_and_store_samples, style_tags, training_report


def test_samples_are_marked_stored_publicly_and_reported(tmp_path, lora_bytes, trained_lora, monkeypatch):
    monkeypatch.setenv("STYLELICENSE_ENV", "testing")
    monkeypatch.setenv("INTERNAL_API_TOKEN", "token-for-the-watermark-key")
    monkeypatch.setenv("SAMPLE_STEPS", "2")
    storage = LocalStorage(tmp_path)
    job = SimpleNamespace(
        style_id=7,
        lora_key="styles/7/lora/x.safetensors",
        trigger="inkwash style",
        images=[{"key": "a", "tags": ["mountain", "mist"]}, {"key": "b", "tags": ["mountain"]}],
        artist_name="Ink Artist",
        style_title="Inkwash",
        signature_key=None,
        licence_url="http://127.0.0.1:5000/licence",
        terms_version="2026-11",
    )
    samples = render_and_store_samples(job, lora=lora_bytes, storage=storage, run_id="abcdef123456789")
    assert len(samples) == 4
    key = keys.watermark_key({"STYLELICENSE_ENV": "testing", "INTERNAL_API_TOKEN": "token-for-the-watermark-key"})
    for index, sample in enumerate(samples, start=1):
        assert sample["key"] == f"styles/7/samples/abcdef123456-{index}-with.png"
        assert sample["prompt"].startswith("inkwash style, ") and sample["width"] == sample["height"] == 256
        for file_key, report in (
            (sample["key"], sample["provenance"]),
            (sample["without_key"], sample["without_provenance"]),
        ):
            data = storage.get(file_key, public=True)
            metadata = read_metadata(data)
            assert SAMPLE_BUYER in str(metadata["xmp"])
            with Image.open(io.BytesIO(data)) as image:
                assert watermark.decode_serial(image.convert("RGB"), key) == report["serial"]
        assert storage.get(sample["thumbnail_key"], public=True)[:4] == b"RIFF"
    assert style_tags(job.images) == ["mountain", "mist"]

    result, _ = trained_lora
    report = training_report(result, images=10, resolution=64)
    assert report["steps"] == result.steps and report["loss"][-1][0] == result.steps
