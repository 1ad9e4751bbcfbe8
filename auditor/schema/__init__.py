"""JSON Schemas the project keeps for its own outputs."""
