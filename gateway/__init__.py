"""The HTTP surface of the training-data gateway."""
