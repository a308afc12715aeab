"""What results are and where they live: cache keys, result folders and method names,
provenance records and their audit, the paper's published values, confidence intervals
and the per-prompt metrics. No model is loaded here and no torch is needed by the modules
that the rendering layer reads (``layout``, ``paper_values``, ``stats_util``,
``prompt_metrics``)."""
