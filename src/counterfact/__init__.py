"""COUNTERFACT from ParaRel: building, validating, statistics and tables, splits, zsRE,
reference texts for RS (the paper's section 3, appendix D, Table 2). Known-facts
selection rules are here too; the model-using command is ``rome known-facts``. See docs/counterfact.md."""
from .errors import CorpusError, CounterfactError, DataError, DownloadError
from .records import load_records, write_records

__all__ = ["CounterfactError", "DataError", "CorpusError", "DownloadError", "load_records", "write_records"]
