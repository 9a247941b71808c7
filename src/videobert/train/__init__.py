"""videobert.train: the pretraining loop (``pretrain``), its config, checkpoints and DDP helpers.

Import the pieces from their modules (``videobert.train.pretrain`` etc.); this package module stays
light so that ``import videobert.train.config`` does not pull in torch.
"""
