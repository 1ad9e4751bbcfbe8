"""Report templates and their assets."""
