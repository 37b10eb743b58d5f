"""facelog.engines: inference backends behind one protocol (see ``engines.base``)."""
