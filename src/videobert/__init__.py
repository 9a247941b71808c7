"""VideoBERT: a joint model for video and language representation learning (Sun et al., ICCV 2019).

Stages talk through files under a work directory (see docs/ARCHITECTURE.md):
extract -> fit-vocab -> tokenize -> pretrain -> tasks -> report.
"""

__version__ = "0.1.0"
