"""Serac's Processing provider and algorithms (thin: parameters in, core call, styled outputs out)."""
