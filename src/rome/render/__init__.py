"""Figures and tables, rendered from cached result files only (never loads a model)."""
