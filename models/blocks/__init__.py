"""Building blocks shared by the systems."""
