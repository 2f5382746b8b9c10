"""Full systems assembled from blocks."""
