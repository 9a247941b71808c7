"""videobert.features.backbones."""
