"""PEFT tuners defined by qclip-hf."""
