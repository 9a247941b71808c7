"""videobert.data."""
