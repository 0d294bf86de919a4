"""The library service: a Goodreads or StoryGraph export enriched by rate-limited book APIs into
a reading dashboard (the original Goodreads Stats API: ``/upload``, ``/status``, ``/data``)."""
