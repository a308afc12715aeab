"""COUNTERFACT from ParaRel: building, validating, statistics and tables, splits, zsRE,
known facts and reference texts (SPEC sections 1, 2, 3, 8). See docs/counterfact.md."""
from .errors import CorpusError, CounterfactError, DataError, DownloadError
from .records import load_records, write_records

__all__ = ["CounterfactError", "DataError", "CorpusError", "DownloadError", "load_records", "write_records"]
