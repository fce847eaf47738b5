"""National registry backends behind one interface (private; see ``optout.registries``)."""
