"""Estate files for the Azure simulator: the hand-made demo estate and a generator for large ones."""
