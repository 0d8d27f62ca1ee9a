"""Models: pre-trained networks with a task head, their layer maps, and saving them.

Example::

    from tuneforge.models import load_task_model
    model = load_task_model(recipe.model, "text", num_outputs=2, label_names=["neg", "pos"], regression=False)
    model.layer_map.names()   # ['embeddings', 'encoder.layer.0', ..., 'head']
"""
from .aliases import MODELS, ModelSpec
from .export import load_saved_model, save_task_model
from .families import build_layer_map
from .layer_map import Block, LayerMap
from .loading import ModelInfo, load_task_model, peek_model
from .task_model import ImageSpec, TaskModel

__all__ = ["load_task_model", "peek_model", "ModelInfo", "save_task_model", "load_saved_model", "MODELS",
           "ModelSpec", "LayerMap", "Block", "TaskModel", "ImageSpec", "build_layer_map"]
