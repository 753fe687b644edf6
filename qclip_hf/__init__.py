"""qclip-hf: Q-CLIP video quality assessment on the Hugging Face stack."""

__version__ = "0.1.0"
