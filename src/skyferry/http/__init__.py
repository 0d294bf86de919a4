"""What every service's routes share: problem+json errors, downloads, cursors, API keys."""
