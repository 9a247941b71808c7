"""videobert.video."""
