"""Fake servers for third-party APIs, speaking their real wire formats."""
