"""The demo service: a job of N timed steps, in order or fanned out, to try the engine with."""
