"""videobert.model."""
