"""Source banks: users' corpora and the built-in procedural bank."""
