"""videobert.train."""
