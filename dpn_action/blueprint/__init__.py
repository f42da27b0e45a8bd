"""Blueprints: loading with positions and expansion into resources."""
