"""Audio recipes are validated before any weights load: the folder, the model's modality, the feature
encoder option; and the wav2vec2 layer map that every strategy works through."""
import numpy as np
import pytest
import soundfile

from tuneforge.models import peek_model
from tuneforge.recipe import all_problems
from tuneforge.recipe.schema import ModelSection
from tuneforge.training.resolve import resolved_defaults


@pytest.fixture(scope="module")
def clips_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    for label in ("a", "b"):
        (root / label).mkdir()
        soundfile.write(root / label / "0.wav", np.zeros(1600, dtype=np.float32), 16000)
    return root


def recipe(model, train, **strategy):
    return {"task": "audio-classification", "model": {"name": str(model)}, "data": {"train": str(train)},
            "strategy": {"name": "full", **strategy}}


def test_a_good_audio_recipe_has_no_problems_and_lists_the_frozen_encoder(wav2vec2_dir, clips_folder):
    assert all_problems(recipe(wav2vec2_dir, clips_folder)) == []
    lines = resolved_defaults(recipe(wav2vec2_dir, clips_folder))
    assert any(line.startswith("strategy.freeze_feature_encoder True (default for speech encoders") for line in lines)


def test_a_text_model_for_an_audio_task_is_refused(bert_dir, clips_folder):
    problems = all_problems(recipe(bert_dir, clips_folder))
    assert any("is a text model, but task 'audio-classification' needs" in p for p in problems)


def test_freezing_a_feature_encoder_the_model_lacks_is_refused(bert_dir, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("text,label\nhello,a\nworld,b\n")
    source = {"task": "text-classification", "model": {"name": str(bert_dir)}, "data": {"train": str(table)},
              "strategy": {"name": "full", "freeze_feature_encoder": True}}
    problems = all_problems(source)
    assert any(p.startswith("strategy.freeze_feature_encoder: true, but the model has no 'feature_encoder'")
               for p in problems)


def test_a_folder_without_audio_is_refused(wav2vec2_dir, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"")
    problems = all_problems(recipe(wav2vec2_dir, tmp_path))
    assert any("holds no audio files in class sub-folders" in p for p in problems)


def test_the_wav2vec2_layer_map(wav2vec2_dir):
    info = peek_model(ModelSection(name=str(wav2vec2_dir)))
    assert info.modality == "audio" and info.family == "wav2vec2"
    assert info.block_names == ["feature_encoder", "feature_projection", "encoder.layers.0", "encoder.layers.1",
                                "head"]
    assert info.num_body_blocks == 2
