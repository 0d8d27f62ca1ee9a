"""Terminal output that stays readable at 80 columns and uses the full width when there is room."""
from .fit_table import Column, fit_table, plan_columns, table_width
from .lines import pack_segments, print_path, print_segments

__all__ = ["Column", "fit_table", "plan_columns", "table_width", "pack_segments", "print_path", "print_segments"]
