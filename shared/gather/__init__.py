"""gather: ARM reads for targets, returned as immutable Snapshots (see ``reader`` and ``snapshot``)."""
