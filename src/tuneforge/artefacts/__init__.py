"""artefacts."""
