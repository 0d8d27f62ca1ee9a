"""The end-of-run summary shows every result the run computed (random-init baseline, retention)."""
from rich.console import Console

from tuneforge.runs.summary import print_summary, retention_line


def _metrics(**extra):
    return {"columns": {"summary": ["accuracy", "macro_f1"]}, "model": "m", "task": "text-classification",
            "strategy": {"name": "full"}, "test": {"accuracy": 0.8, "macro_f1": 0.79}, "test_ci": {},
            "baseline": {"accuracy": 0.7, "macro_f1": 0.69}, "baseline_majority": {"accuracy": 0.4, "macro_f1": 0.2},
            "data": {"sizes": {"test": 10}}, "seconds_total": 3.0, "run_dir": "/tmp/x",
            "train": {"seconds": 1.0, "samples_per_second": 10.0, "trainable_parameters": 5, "total_parameters": 10,
                      "peak_memory_mb": 100.0}, **extra}


def test_summary_shows_random_init_and_retention():
    console = Console(record=True, width=250)
    print_summary(console, _metrics(baseline_random_init={"accuracy": 0.5, "macro_f1": 0.45, "train_seconds": 1},
                                    retention={"score": 0.91, "embedding_spearman": 0.91, "mean_cka": 0.8,
                                               "probe_examples": 64}))
    text = console.export_text()
    assert "same model from random weights" in text and "0.4500" in text
    assert "retention 0.910" in text and "embedding similarities" in text and "64 examples" in text


def test_retention_line_names_what_it_measured():
    src = retention_line({"score": 0.9, "source_task": {"before": 0.8, "after": 0.72, "after_refit": 0.79},
                          "probe_examples": 40})
    assert "source-task accuracy 0.720 after vs 0.800 before" in src
    assert "not measured" in retention_line({"error": "boom"})
    assert retention_line(None) == ""
