"""Modalities: the input side of a task, in one place per kind of input (text, image, audio).

A modality says which recipe key names its input column and its default, whether a
folder can be a data source, how cleaned rows become model inputs (strings, or images
decoded at one common size, or mono waveforms at one rate), and how raw inputs given to
``predict`` become a split. Tasks pick a modality by name (``Task.modality``); the data
loader, the data checks and prediction ask it instead of testing the name.

The interface and its registry are in :mod:`.modality`; importing this module registers every
modality (text, image, audio here; ``lm-text`` from :mod:`.lm_examples`).

It also holds the model side of its inputs, one table per modality, which the layers above
read by a model's ``modality`` instead of testing the name: the batch keys the network reads
(ONNX inputs), the transformers class of its preprocessor (loading, export, model cards'
usage code), how the exported model's inputs are prepared (``export --onnx``), and whether
the network's features are token states (distillation, explanations) or come with an
original classifier (distillation's logits, retention's original-head agreement).

Example::

    MODALITIES.get("image").column(recipe.data)   # ("image_column", "image")
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

from ..errors import DataError
from .audio import DEFAULT_RATE, decode_clips, folder_has_audio, read_audio_folder, truncation_note
from .images import choose_geometry, decode_images, folder_has_images, probe_images, read_image_folder
from .modality import MODALITIES, Modality

PAIR_SEPARATOR = "|||"   # `tuneforge predict RUN "first text ||| second text"` for a text-pair run


class Text(Modality):
    """Strings; or, with ``data.text_column: [first, second]``, (first, second) tuples that the
    tokenizer encodes as one pair (``tokenizer(first, second)``: [CLS] a [SEP] b [SEP], segment ids)."""

    name, default_column, drops_duplicates = "text", "text", True
    hf_example_head = "AutoModelForSequenceClassification"
    token_states = True

    def card_example(self, data):
        if isinstance(data.get("text_column"), list):   # a text pair
            return ('inputs = tokenizer(["first text", "another"], ["its pair", "its pair"], padding=True, '
                    'truncation=True, return_tensors="pt")')
        return self.card_call

    def card_pipeline(self, data, load_args):
        lines = [f'classifier = pipeline("{self.pipeline_task}", model=MODEL{load_args})']
        if isinstance(data.get("text_column"), list):   # a text pair: the pipeline's text / text_pair dicts
            return lines + ['inputs = [{"text": "first text", "text_pair": "its pair"}, '
                            '{"text": "another", "text_pair": "its pair"}]']
        return lines + ['inputs = ["first text", "second text"]']

    def card_pipeline_args(self, data):
        return f", truncation=True, max_length={int(data.get('max_length') or 512)}"   # cut as in training

    def inputs(self, parts, column, data):
        if isinstance(column, str):
            return {role: p.df[column].astype(str).tolist() for role, p in parts.items()}
        first, second = column
        return {role: list(zip(p.df[first].astype(str), p.df[second].astype(str))) for role, p in parts.items()}

    def raw_inputs(self, values, data):
        if not isinstance(data.text_column, list):
            return [str(x) for x in values]
        return [_pair(x, data.text_column) for x in values]


def _pair(value, columns: list[str]) -> tuple[str, str]:
    """One prediction input of a text-pair run: (a, b), {first: a, second: b}, or "a ||| b"."""
    if isinstance(value, dict) and all(c in value for c in columns):
        return str(value[columns[0]]), str(value[columns[1]])
    if isinstance(value, dict) and {"text", "text_pair"} <= set(value):
        return str(value["text"]), str(value["text_pair"])
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return str(value[0]), str(value[1])
    if isinstance(value, str) and value.count(PAIR_SEPARATOR) == 1:
        a, b = value.split(PAIR_SEPARATOR)
        return a.strip(), b.strip()
    raise DataError(f"predict input {str(value)[:80]!r}: this model reads text pairs ({columns[0]}, {columns[1]}); "
                    f"give each input as \"first {PAIR_SEPARATOR} second\", a (first, second) pair, or a dict "
                    f"with keys {columns[0]!r} and {columns[1]!r}")


class Image(Modality):
    name, default_column, augments, reads_folders = "image", "image", True, True
    hf_example_head = "AutoModelForImageClassification"
    model_inputs, preprocessor_class, preprocessor_variable = ("pixel_values",), "AutoImageProcessor", "processor"
    card_imports = ("from PIL import Image",)
    card_call = ('inputs = processor(images=[Image.new("RGB", (64, 48), (200, 120, 40))], return_tensors="pt")'
                 '   # your photos: Image.open("photo.png").convert("RGB")')
    original_classifier = True
    pipeline_task = "image-classification"

    def card_pipeline(self, data, load_args):
        return [f'classifier = pipeline("{self.pipeline_task}", model=MODEL{load_args})',
                'inputs = [Image.new("RGB", (64, 48), (200, 120, 40)), Image.new("RGB", (32, 32), (10, 90, 220))]'
                '   # your photos: Image.open("photo.png").convert("RGB"), or file paths']

    def onnx_preprocessing(self, preprocessor):
        return {"image": {"size": preprocessor.size, "mean": list(preprocessor.mean), "std": list(preprocessor.std),
                          "resize": "bilinear squash to size x size, no crop; RGB scaled to [0, 1], then normalised",
                          "layout": "NCHW float32"}}

    def saved_spec(self, preprocessor):
        return {"image": {"size": preprocessor.size, "mean": list(preprocessor.mean), "std": list(preprocessor.std)}}


    def folder_problem(self, key, path):
        return None if folder_has_images(path) else f"{key}: {path} holds no images in class sub-folders"

    def read_folder(self, path):
        return read_image_folder(path)

    def inputs(self, parts, column, data):
        """Decode every split's images at one common size and channel count."""
        root = Path(data.root).expanduser().resolve() if data.root else None
        if root is not None and not root.is_dir():
            raise DataError(f"data.root: {data.root} is not a folder")
        args = {name: (p.df[column].tolist(), p.base_dir, root, p.source, [p.where(i) for i in p.df.index])
                for name, p in parts.items()}
        headers = [h for a in args.values() for h in probe_images(a[0], a[1], a[2], a[3], row_labels=a[4])]
        channels, size = choose_geometry(headers, data.image_size)
        return {name: decode_images(a[0], size, a[1], a[2], a[3], channels=channels, row_labels=a[4])
                for name, a in args.items()}

    def describe(self, inputs):
        return {"image_shape": list(inputs["train"].shape[1:])}

    def raw_inputs(self, values, data):
        return decode_images(values, data.image_size, None, None, "predict inputs")


class Audio(Modality):
    """Speech and sounds: files decoded once to mono waveforms at ``data.sampling_rate`` (16 kHz)."""

    name, default_column, reads_folders = "audio", "audio", True
    hf_example_head = "AutoModelForAudioClassification"
    extra = "audio"   # soundfile
    model_inputs, preprocessor_class = ("input_values", "attention_mask"), "AutoFeatureExtractor"
    preprocessor_variable = "processor"
    card_call = ('inputs = processor([waveform], sampling_rate=processor.sampling_rate, '
                 'return_tensors="pt")   # waveform: a 1-D float array')
    pipeline_task = "audio-classification"

    def card_pipeline(self, data, load_args):
        rate = int(data.get("sampling_rate") or DEFAULT_RATE)
        return ["import numpy",
                f'classifier = pipeline("{self.pipeline_task}", model=MODEL{load_args})',
                f"seconds = numpy.arange({rate}) / {rate}   # one second at the feature extractor's rate",
                f'inputs = [{{"raw": numpy.sin(2 * numpy.pi * 440 * seconds).astype("float32"), "sampling_rate": {rate}}},'
                f' {{"raw": numpy.sin(2 * numpy.pi * 880 * seconds[:{rate // 2}]).astype("float32"), "sampling_rate": {rate}}}]'
                '   # your clips: 1-D float arrays, mono (cut to data.max_seconds as in training), or file paths']

    def onnx_preprocessing(self, preprocessor):
        return {"audio": "the feature extractor in this folder (preprocessor_config.json)"}


    def folder_problem(self, key, path):
        return None if folder_has_audio(path) else f"{key}: {path} holds no audio files in class sub-folders"

    def read_folder(self, path):
        return read_audio_folder(path)

    def inputs(self, parts, column, data):
        """Decode every split's clips (mono, resampled, cut to ``data.max_seconds``)."""
        root = _root(data)
        rate = data.sampling_rate or DEFAULT_RATE
        return {name: decode_clips(p.df[column].tolist(), rate, data.max_seconds, p.base_dir, root, p.source,
                                   row_labels=[p.where(i) for i in p.df.index])
                for name, p in parts.items()}

    def describe(self, inputs):
        notes = [n for n in (truncation_note(split, clips) for split, clips in inputs.items()) if n]
        first = next(iter(inputs.values()))
        out = {"audio": {"sampling_rate": first.rate, "max_seconds": first.max_seconds,
                         "truncated": {split: clips.truncated for split, clips in inputs.items()},
                         "longest_seconds": round(max(float(c.seconds().max()) for c in inputs.values()), 3)}}
        if notes:
            out["notes"] = notes
        return out

    def raw_inputs(self, values, data):
        """Clips to predict, cut to ``data.max_seconds`` as in training (a warning says so when any is)."""
        clips = decode_clips(values, data.sampling_rate or DEFAULT_RATE, data.max_seconds, None, None, "input",
                             row_labels=[f"input {i + 1} ({v if isinstance(v, (str, Path)) else 'array'})"
                                         for i, v in enumerate(values)])
        note = truncation_note("predict", clips)
        if note:
            warnings.warn(note, stacklevel=2)
        return clips


def _root(data) -> Optional[Path]:
    root = Path(data.root).expanduser().resolve() if data.root else None
    if root is not None and not root.is_dir():
        raise DataError(f"data.root: {data.root} is not a folder")
    return root


for _m in (Text(), Image(), Audio()):
    MODALITIES.register(_m.name, f"{_m.name} inputs")(_m)

from . import lm_examples  # noqa: E402,F401  (registers the lm-text modality of causal language models)
