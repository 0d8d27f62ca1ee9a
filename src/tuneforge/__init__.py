"""tuneforge: fine-tune pre-trained models from one recipe, and know what you got."""
__version__ = "0.1.0"
