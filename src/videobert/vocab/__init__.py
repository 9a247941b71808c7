"""videobert.vocab."""
