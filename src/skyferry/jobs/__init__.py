"""Durable jobs: kinds, steps, the context a job runs with, fan-out, limits and the engine."""
