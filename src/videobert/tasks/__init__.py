"""videobert.tasks."""
