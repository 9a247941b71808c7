"""videobert.eval."""
