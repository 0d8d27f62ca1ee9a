"""Reports: one self-contained ``report.html`` per run and per comparison (plots embedded, no network)."""
from .compare_report import build_comparison_report, write_comparison_report
from .run_report import build_run_report, write_report_quietly, write_run_report

__all__ = ["build_run_report", "write_run_report", "write_report_quietly", "build_comparison_report",
           "write_comparison_report"]
