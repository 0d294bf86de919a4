"""The services skyferry ships; each package's ``service.py`` exposes ``service``."""
