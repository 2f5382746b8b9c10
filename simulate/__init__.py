"""Room impulse responses, ASA2-style scenes and reproducible datasets."""
