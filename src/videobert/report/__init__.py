"""HTML report and plots."""

from videobert.report.html import build_report

__all__ = ["build_report"]
