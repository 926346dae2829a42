"""One module per Serac algorithm; the provider discovers them (see provider.py)."""
