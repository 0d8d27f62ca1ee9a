from runs.conftest import text_csv  # noqa: F401  (fixture)
