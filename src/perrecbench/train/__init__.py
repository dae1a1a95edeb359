"""Fine-tuning (SPEC 6): SFT data from a benchmark, LoRA training, adapter merging.

The heavy libraries (torch, transformers, TRL, PEFT, datasets) are the `train` extra
and are imported inside the functions that use them, never at import time.
"""
