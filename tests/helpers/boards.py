"""A synthetic ``leaderboard.json`` content for tests of how leaderboards are shown."""


def synthetic_board(folds=None) -> dict:
    """Three strategies with long names, intervals (or fold std), a significant and a non-significant
    difference, and a missing retention: everything that makes a leaderboard wide."""
    def row(name, acc, f1, vs, retention):
        return {"strategy": name, "run_dir": f"/runs/{name}", "test": {"accuracy": acc, "macro_f1": f1,
                                                                     "roc_auc": 0.9012},
                "test_ci": None if folds else {"accuracy": [acc - 0.05, acc + 0.04], "macro_f1": [f1 - .06, f1 + .05],
                                               "roc_auc": [0.85, 0.95]},
                "test_std": {"accuracy": 0.012, "macro_f1": 0.02, "roc_auc": 0.01} if folds else None,
                "retention": retention, "train_seconds": 123.456, "peak_memory_mb": 1209.7109,
                "trainable_parameters": 22_713_216, "total_parameters": 22_714_371, "vs_best": vs}
    rows = [row("freeze:top_blocks=2", 0.8123, 0.8011, None, 0.97),
            row("linear-probe", 0.7234, 0.7012, {"difference": -0.0889, "p_value": 0.0123, "significant": True}, 1.0),
            row("gradual-unfreezing", 0.8001, 0.7999, {"difference": -0.0122, "p_value": 0.4321,
                                                       "significant": False}, None)]
    return {"model": "minilm-l6", "task": "text-classification", "kind": "classification", "metric": "macro_f1",
            "confidence": 0.95, "folds": folds, "rows": rows}
