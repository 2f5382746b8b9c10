"""DeepASA, SoundCompass and baselines in PyTorch."""
