"""Collectors: the only async, boto-calling code."""
