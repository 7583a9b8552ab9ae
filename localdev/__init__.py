"""Local development peers: the ARM simulator, estates, Azurite launcher, demo."""
