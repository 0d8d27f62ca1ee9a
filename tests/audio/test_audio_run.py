"""audio-classification end to end on espeak-ng speech and a tiny wav2vec2: it learns, the conv feature
encoder stays as pre-trained unless asked, and the saved folder works in transformers' pipeline."""
import json

import numpy as np
import pytest
from safetensors.torch import load_file

import tuneforge
from tuneforge.cli import main
from tuneforge.data.audio import decode_clips

MAX_SECONDS = 0.6


def _run(speech_folder, wav2vec2_dir, out, strategy, epochs=6, lr=1e-2, **train):
    # no validation split: no best-checkpoint restore, so the saved weights are the trained ones
    recipe = {"task": "audio-classification", "model": {"name": str(wav2vec2_dir)},
              "data": {"train": str(speech_folder), "validation": None, "test": 0.25, "max_seconds": MAX_SECONDS},
              "strategy": strategy, "optimizer": {"lr": lr},
              "train": {"epochs": epochs, "batch_size": 6, "seed": 0, **train},
              "evaluate": {"bootstrap": 0, "report": False, "baseline": False, "explain": 0},
              "output": {"dir": str(out)}}
    return tuneforge.finetune(recipe)


@pytest.fixture(scope="module")
def pretrained(wav2vec2_dir):
    """The tiny wav2vec2's own weights, keyed as in the fine-tuned classifier (``wav2vec2.`` prefix)."""
    return {f"wav2vec2.{k}": v for k, v in load_file(wav2vec2_dir / "model.safetensors").items()}


def _changed(run, pretrained) -> dict[str, bool]:
    """Per part of the backbone: did any of its tensors change in training?"""
    tuned = load_file(run.run_dir / "model" / "model.safetensors")
    parts = {"feature_encoder": "wav2vec2.feature_extractor.", "feature_projection": "wav2vec2.feature_projection.",
             "encoder.layers.0": "wav2vec2.encoder.layers.0.", "encoder.layers.1": "wav2vec2.encoder.layers.1."}
    out = {}
    for part, prefix in parts.items():
        keys = [k for k in pretrained if k.startswith(prefix)]
        assert keys, prefix
        out[part] = any(not np.array_equal(pretrained[k].numpy(), tuned[k].numpy()) for k in keys)
    return out


@pytest.fixture(scope="module")
def full_run(speech_folder, wav2vec2_dir, tmp_path_factory):
    return _run(speech_folder, wav2vec2_dir, tmp_path_factory.mktemp("runs"), {"name": "full", "warm_head": False},
                epochs=3)


def test_full_learns_with_the_feature_encoder_frozen_by_default(full_run, pretrained):
    trace = [json.loads(line)["loss"] for line in (full_run.run_dir / "loss_trace.jsonl").read_text().splitlines()]
    assert trace[0] == pytest.approx(np.log(2), abs=0.05)   # a fresh head: chance
    assert np.mean(trace[-3:]) < np.log(2) - 0.2, trace
    assert _changed(full_run, pretrained) == {"feature_encoder": False, "feature_projection": True,
                                               "encoder.layers.0": True, "encoder.layers.1": True}
    plan = full_run.metrics["strategy"]["plan"][0]
    assert "feature_encoder" not in plan["trainable"]
    assert plan["defaults"]["strategy.freeze_feature_encoder"]["value"] is True
    assert "speech encoders" in plan["defaults"]["strategy.freeze_feature_encoder"]["from"]
    assert full_run.metrics["test"]["accuracy"] > 0.5


def test_the_feature_encoder_trains_when_asked(speech_folder, wav2vec2_dir, tmp_path, pretrained):
    run = _run(speech_folder, wav2vec2_dir, tmp_path, {"name": "full", "warm_head": False,
                                                        "freeze_feature_encoder": False}, epochs=1, max_steps=2)
    assert _changed(run, pretrained)["feature_encoder"] is True


def test_freeze_trains_only_the_top_blocks(speech_folder, wav2vec2_dir, tmp_path, pretrained):
    run = _run(speech_folder, wav2vec2_dir, tmp_path, {"name": "freeze", "top_blocks": 1}, epochs=1, max_steps=2)
    assert _changed(run, pretrained) == {"feature_encoder": False, "feature_projection": False,
                                         "encoder.layers.0": False, "encoder.layers.1": True}


def test_linear_probe_keeps_the_backbone(speech_folder, wav2vec2_dir, tmp_path, pretrained):
    run = _run(speech_folder, wav2vec2_dir, tmp_path, {"name": "linear-probe"})
    assert not any(_changed(run, pretrained).values())
    head = run.metrics["strategy"]["plan"][0]["head_solution"]
    assert head["train_loss"] < np.log(2)   # the solved head separates yes from no on the frozen features


def test_truncation_is_reported(full_run):
    audio = full_run.metrics["data"]["audio"]
    assert audio["max_seconds"] == MAX_SECONDS and audio["longest_seconds"] <= MAX_SECONDS
    assert sum(audio["truncated"].values()) > 0
    assert any("data.max_seconds" in note for note in full_run.metrics["data"]["notes"])


def test_saved_folder_works_in_the_transformers_pipeline(full_run, speech_folder):
    from transformers import pipeline

    files = [speech_folder / "yes" / "en-165.wav", speech_folder / "no" / "en-us_m3-120.wav",
             speech_folder / "no" / "en_f3-210.wav"]
    ours = full_run.predict([str(f) for f in files])
    assert all(set(p["probabilities"]) == {"no", "yes"} for p in ours)
    clips = decode_clips([str(f) for f in files], 16000, MAX_SECONDS, None, None, "test")  # what training saw
    classify = pipeline("audio-classification", model=str(full_run.run_dir / "model"), device="cpu")
    for wave, mine in zip(clips.waves, ours):
        theirs = {r["label"]: r["score"] for r in classify(wave, top_k=None)}
        assert theirs == pytest.approx(mine["probabilities"], abs=1e-4)


def test_predict_command_on_a_wav_path(full_run, speech_folder, capsys):
    path = speech_folder / "yes" / "en-165.wav"
    prediction, probabilities = full_run.task.format_prediction(full_run.predict([str(path)])[0])
    main(["predict", str(full_run.run_dir), str(path)])
    out = capsys.readouterr().out
    assert f" {prediction} " in out and probabilities in out


@pytest.mark.parametrize("strategy, trains", [
    ({"name": "lora"}, {"encoder.layers.0", "encoder.layers.1"}),     # q/v adapters, merged into the weights
    ({"name": "discriminative"}, {"feature_projection", "encoder.layers.0", "encoder.layers.1"}),
    ({"name": "gradual-unfreezing", "steps_per_stage": 1}, {"encoder.layers.1"}),   # 2 steps: head, then the top layer
])
def test_other_strategies_work_through_the_layer_map(speech_folder, wav2vec2_dir, tmp_path, pretrained,
                                                     strategy, trains):
    run = _run(speech_folder, wav2vec2_dir, tmp_path, strategy, epochs=1, max_steps=2)
    changed = _changed(run, pretrained)
    assert {part for part, did in changed.items() if did} == trains


def test_evaluate_on_a_new_folder(full_run, speech_folder):
    from rich.console import Console

    from tuneforge.artefacts.evaluate_run import evaluate_run

    result = evaluate_run(full_run.run_dir, speech_folder, Console(quiet=True), resamples=20)
    assert result["examples"] == 36 and set(result["test"]["per_class"]) == {"no", "yes"}
    assert result["test"]["accuracy"] > 0.5


def test_a_killed_audio_run_resumes_to_the_same_weights(speech_folder, wav2vec2_dir, tmp_path):
    """An audio folder run killed mid-training (SIGKILL after step 4) and resumed ends with exactly the
    weights of an uninterrupted run."""
    import os
    import subprocess
    import sys

    import yaml
    from safetensors.torch import load_file as load

    recipe = {"task": "audio-classification", "model": {"name": str(wav2vec2_dir)},
              "data": {"train": str(speech_folder), "validation": None, "test": 0.25, "max_seconds": MAX_SECONDS},
              "strategy": {"name": "full", "warm_head": False}, "optimizer": {"lr": 1e-2},
              "train": {"epochs": 2, "batch_size": 6, "seed": 0, "save_every_steps": 2},
              "evaluate": {"bootstrap": 0, "report": False, "baseline": False, "explain": 0}}

    def cli(args, out, fault=None):
        env = {k: v for k, v in os.environ.items() if k != "TUNEFORGE_FAULT"}
        env["HF_HUB_OFFLINE"] = "1"
        if fault:
            env["TUNEFORGE_FAULT"] = fault
        path = out / "recipe.yaml"
        path.write_text(yaml.safe_dump({**recipe, "output": {"dir": str(out / "runs")}}))
        args = [a if a != "RECIPE" else str(path) for a in args]
        return subprocess.run([sys.executable, "-m", "tuneforge.cli", *args, "--quiet"], env=env,
                              capture_output=True, text=True, timeout=600)

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert cli(["run", "RECIPE"], tmp_path / "a").returncode == 0
    killed = cli(["run", "RECIPE"], tmp_path / "b", fault="step:4")
    assert killed.returncode != 0
    (run_b,) = (tmp_path / "b" / "runs").iterdir()
    resumed = subprocess.run([sys.executable, "-m", "tuneforge.cli", "run", "--resume", str(run_b), "--quiet"],
                             env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    (run_a,) = (tmp_path / "a" / "runs").iterdir()
    a, b = load(run_a / "model" / "model.safetensors"), load(run_b / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
