"""Reporters: one render function per format."""
