"""videobert.report."""
