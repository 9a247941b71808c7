"""videobert.utils."""
