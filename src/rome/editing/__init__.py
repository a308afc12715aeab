"""Editing methods (ROME and the baselines) behind one interface, see :mod:`rome.editing.base`."""
