"""videobert.text."""
