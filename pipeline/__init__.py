"""facelog.pipeline: sources -> detect -> crop -> batch -> engine -> track -> sinks."""
