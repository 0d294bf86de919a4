"""The books service."""
