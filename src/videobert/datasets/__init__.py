"""videobert.datasets."""
