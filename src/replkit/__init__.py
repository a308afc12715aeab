"""Small helpers shared by the ``counterfact`` and ``rome`` packages (no torch, no rome).

* :mod:`replkit.cli`      the command-line option groups both CLIs use (model, device,
  dtype, progress, ``--set``) and the one ``KEY=VALUE`` parser;
* :mod:`replkit.tables`   Markdown / CSV / LaTeX table writing with one LaTeX escaper;
* :mod:`replkit.wikitext` WikiText raw-format headings.
* :mod:`replkit.sentences` the one sentence splitter (spaCy's rule-based sentencizer).

Dependency rule: ``replkit`` (like ``atomicio``) imports neither ``counterfact`` nor ``rome``.
"""
