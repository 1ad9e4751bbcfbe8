"""Rule packs (TOML data): what each vendor requires."""
