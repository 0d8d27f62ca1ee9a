"""Decoding, resampling, mono mixing, folders and tables, bad files and truncation of audio inputs."""
import numpy as np
import pandas as pd
import pytest
import soundfile

from tuneforge.data import load_data
from tuneforge.data.audio import Clips, at_rate, audio_batch, decode_clips, read_audio_folder, resample
from tuneforge.errors import DataError
from tuneforge.recipe.schema import DataSection
from tuneforge.tasks import TASKS

TASK = TASKS.get("audio-classification")


def sine(freq, seconds, rate, amplitude=0.5):
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(wave, rate):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / rate)[np.argmax(spectrum)]


def test_a_44k_sine_resampled_to_16k_keeps_its_frequency_and_duration(tmp_path):
    path = tmp_path / "tone.wav"
    soundfile.write(path, sine(1000, 1.5, 44100), 44100, subtype="PCM_16")
    clips = decode_clips([str(path)], 16000, None, None, None, "tones")
    wave = clips.waves[0]
    assert clips.rate == 16000 and wave.dtype == np.float32
    assert len(wave) == 24000                      # 1.5 s at 16 kHz
    assert peak_hz(wave, 16000) == pytest.approx(1000, abs=2)
    assert np.abs(wave[1000:-1000]).max() == pytest.approx(0.5, abs=0.02)  # no loss of level


def test_resampling_removes_what_the_new_rate_cannot_hold():
    tone = sine(10000, 1.0, 44100)          # above 8 kHz, the Nyquist frequency of 16 kHz
    down = resample(tone, 44100, 16000)
    assert np.sqrt(np.mean(down ** 2)) < 0.01   # filtered out, not aliased to 6 kHz


def test_stereo_is_mixed_to_mono_and_flac_is_read(tmp_path):
    left, right = sine(440, 0.5, 16000), sine(440, 0.5, 16000, amplitude=0.1)
    path = tmp_path / "stereo.flac"
    soundfile.write(path, np.stack([left, -right], axis=1), 16000)
    wave = decode_clips([str(path)], 16000, None, None, None, "stereo").waves[0]
    np.testing.assert_allclose(wave, (left - right) / 2, atol=1e-3)   # FLAC is 16-bit: 3e-5 steps


@pytest.fixture
def word_folder(tmp_path):
    """root/high/*.wav (880 Hz) and root/low/*.wav (220 Hz) at 8 kHz, plus a stray text file."""
    root = tmp_path / "words"
    for label, freq in (("high", 880), ("low", 220)):
        (root / label).mkdir(parents=True)
        for i in range(6):
            soundfile.write(root / label / f"{i}.wav", sine(freq, 0.2 + 0.05 * i, 8000), 8000)
    (root / "low" / "notes.txt").write_text("not audio")
    return root


def test_a_folder_of_class_folders_loads(word_folder):
    df = read_audio_folder(word_folder)
    assert sorted(df["label"].unique()) == ["high", "low"] and len(df) == 12
    bundle = load_data(DataSection(train=str(word_folder), validation=None, test=None), TASK, seed=0)
    assert bundle.label_names == ["high", "low"] and isinstance(bundle.train.inputs, Clips)
    lengths = sorted(len(w) for w in bundle.train.inputs.waves)
    assert lengths[0] == 3200 and lengths[-1] == 7200   # 0.2 s and 0.45 s, resampled from 8 to 16 kHz
    assert bundle.description["audio"]["sampling_rate"] == 16000


def test_a_table_of_paths_loads_relative_to_the_table(word_folder, tmp_path):
    table = tmp_path / "clips.csv"
    rows = [{"clip": f"words/{label}/{i}.wav", "label": label} for label in ("high", "low") for i in range(6)]
    pd.DataFrame(rows).to_csv(table, index=False)
    data = DataSection(train=str(table), validation=None, test=0.5, audio_column="clip", root=str(tmp_path))
    bundle = load_data(data, TASK, seed=0)
    assert len(bundle.train) == 6 and len(bundle.test) == 6
    for wave, target in zip(bundle.test.inputs.waves, bundle.test.targets):
        assert peak_hz(wave, 16000) == pytest.approx((880, 220)[target], abs=40)


def test_a_path_outside_data_root_is_refused(word_folder, tmp_path):
    inside = tmp_path / "inside"
    inside.mkdir()
    table = inside / "clips.csv"
    pd.DataFrame([{"audio": str(word_folder / "high" / "0.wav"), "label": "high"}]).to_csv(table, index=False)
    with pytest.raises(DataError, match="outside data.root"):
        load_data(DataSection(train=str(table), validation=None, test=None, root=str(inside)), TASK, seed=0)


@pytest.mark.parametrize("content, why", [(b"", "empty"), (b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "not a readable"),
                                          (None, "does not exist")])
def test_a_bad_file_is_an_error_naming_it(word_folder, content, why):
    bad = word_folder / "low" / "bad.wav"
    if content is not None:
        bad.write_bytes(content)
    table = pd.DataFrame({"audio": [str(word_folder / "high" / "0.wav"), str(bad)], "label": ["high", "low"]})
    with pytest.raises(DataError, match=why) as caught:
        load_data(DataSection(train=table, validation=None, test=None), TASK, seed=0)
    assert "bad.wav" in str(caught.value) and "row 2" in str(caught.value)


def test_an_empty_class_folder_tree_says_so(tmp_path):
    (tmp_path / "a").mkdir()
    soundfile.write(tmp_path / "loose.wav", sine(440, 0.1, 8000), 8000)
    with pytest.raises(DataError, match="directly in it"):
        read_audio_folder(tmp_path)


def test_long_clips_are_cut_and_the_cut_is_reported(word_folder):
    data = DataSection(train=str(word_folder), validation=None, test=None, max_seconds=0.3)
    bundle = load_data(data, TASK, seed=0)
    assert max(len(w) for w in bundle.train.inputs.waves) == 4800     # 0.3 s at 16 kHz
    assert bundle.description["audio"]["truncated"] == {"train": 6}  # 0.35 .. 0.45 s, three per class
    (note,) = bundle.description["notes"]
    assert "6 of 12 clips" in note and "data.max_seconds (0.3 s)" in note


def test_nothing_is_reported_when_nothing_is_cut(word_folder):
    bundle = load_data(DataSection(train=str(word_folder), validation=None, test=None, max_seconds=1.0), TASK, seed=0)
    assert "notes" not in bundle.description and bundle.description["audio"]["truncated"] == {"train": 0}


def test_in_memory_clips_and_the_model_rate():
    clips = decode_clips([{"array": sine(500, 0.5, 22050), "sampling_rate": 22050}], 16000, None, None, None, "mem")
    assert len(clips.waves[0]) == 8000
    again = at_rate(clips, 8000)
    assert again.rate == 8000 and len(again.waves[0]) == 4000
    assert peak_hz(again.waves[0], 8000) == pytest.approx(500, abs=4)
    with pytest.raises(DataError, match="'array' and 'sampling_rate'"):
        decode_clips([{"array": [0.1, 0.2]}], 16000, None, None, None, "mem")


def test_batches_are_padded_with_an_attention_mask(tmp_path):
    from transformers import Wav2Vec2FeatureExtractor

    extractor = Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=True)
    batch = audio_batch([sine(300, 0.1, 16000), sine(300, 0.25, 16000)], extractor)
    assert batch["input_values"].shape == (2, 4000)
    assert batch["attention_mask"].sum(dim=1).tolist() == [1600, 4000]
    first = batch["input_values"][0]
    assert float(first[1600:].abs().max()) == 0.0                                  # padding
    assert float(first[:1600].mean()) == pytest.approx(0, abs=1e-4)               # normalised per clip
    assert float(first[:1600].std()) == pytest.approx(1, abs=1e-2)
    no_mask = Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=False)
    assert "attention_mask" not in audio_batch([sine(300, 0.1, 16000)], no_mask)


def test_predict_inputs_are_cut_as_in_training_with_a_warning(word_folder):
    from tuneforge.data.modalities import MODALITIES

    data = DataSection(train="unused", max_seconds=0.25)
    paths = [str(word_folder / "high" / "0.wav"), str(word_folder / "high" / "5.wav")]   # 0.2 s and 0.45 s
    with pytest.warns(UserWarning, match=r"1 of 2 clips .* data.max_seconds \(0.25 s\) .*5.wav"):
        clips = MODALITIES.get("audio").raw_inputs(paths, data)
    assert [len(w) for w in clips.waves] == [3200, 4000]
