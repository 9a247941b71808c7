"""videobert.commands."""
