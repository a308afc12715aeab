"""Evaluation of editing methods (the paper's metric definitions, section 3.4): COUNTERFACT (Table 4) and zsRE (Table 1).

Modules: :mod:`scoring` (batched teacher-forced NLL / top-1), :mod:`generation` (seeded
top-k sampling), :mod:`fluency` (GE), :mod:`consistency` (RS), :mod:`counterfact_eval`,
:mod:`zsre_eval`, :mod:`metrics`, :mod:`runner` (per-record result files, resumable),
:mod:`summary`, :mod:`human_eval`; CLIs in :mod:`cli`, :mod:`summary_cli`,
:mod:`human_eval_cli`.
"""
