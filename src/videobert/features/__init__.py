"""videobert.features."""
