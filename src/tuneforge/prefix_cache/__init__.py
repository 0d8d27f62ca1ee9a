"""prefix_cache."""
