"""Write the caption templates of `snakemake --report` (workflow/report/*.rst).

One template per paper item: the item and its title (rome.render.catalogue), the
configuration that produced it (filled in by Snakemake from the run's config when the
report is built) and the paper's value (catalogue and rome.results.paper_values). Rules whose
wildcard picks the item (tables, text figures, tracing variants) get one template that
selects by the wildcard. Run after changing the catalogue:  python workflow/scripts/make_captions.py
"""
from __future__ import annotations

from pathlib import Path

from rome.render.catalogue import CATALOGUE
from rome.results.paper_values import COUNTERFACT_COLUMNS, PAPER_TABLES, ZSRE_COLUMNS

OUT = Path(__file__).resolve().parents[1] / "report"
C = "snakemake.config"
RUN = (f"Configuration ``{{{{ {C}['run_name'] }}}}``: model ``{{{{ {C}['model']['name'] }}}}`` "
       f"({{{{ {C}['model']['dtype'] }}}}), seed {{{{ {C}['seed'] }}}}")
SIZES = {
    "tracing": f"{{{{ {C}['tracing']['n_facts'] }}}} traced facts, {{{{ {C}['tracing']['samples'] }}}} noise samples, "
               f"noise ``{{{{ {C}['tracing']['noise'] }}}}``, window {{{{ {C}['tracing']['window'] }}}}",
    "variants": f"{{{{ {C}['tracing']['variant_facts'] }}}} facts per variant",
    "sweep": f"{{{{ {C}['sweep']['n_records'] }}}} records, layers ``{{{{ {C}['sweep']['layers'] }}}}``",
    "baselines": f"{{{{ {C}['baseline_sweeps']['n_records'] }}}} records, FT layers "
                 f"``{{{{ {C}['baseline_sweeps']['ft_layers'] }}}}``, epsilons {{{{ {C}['baseline_sweeps']['epsilons'] }}}}",
    "counterfact": f"{{{{ {C}['evaluation']['n_records'] }}}} COUNTERFACT eval records, "
                   f"{{{{ {C}['evaluation']['generation_tokens'] }}}}-token generations",
    "zsre": f"{{{{ {C}['evaluation']['zsre_records'] }}}} zsRE records; KE-zsRE/MEND-zsRE trained on "
            "{{ snakemake.params.get('zsre_train', 'the configured zsRE training records') }}",
    "localization": f"{{{{ {C}['localization']['n_facts'] }}}} known facts joined to their COUNTERFACT records, "
                    f"edit layers ``{{{{ {C}['localization']['layers'] }}}}``, tracing window "
                    f"{{{{ {C}['tracing']['window'] }}}}, {{{{ {C}['tracing']['samples'] }}}} noise samples",
    "dataset": f"relations {{{{ {C}['dataset']['relations'] or 'all 33 of the paper' }}}}",
    "sequential": f"methods {{{{ {C}['sequential']['methods'] }}}}, {{{{ {C}['sequential']['n_edits'] }}}} edits in "
                  f"batches of {{{{ {C}['sequential']['batch_size'] }}}}, measured every "
                  f"{{{{ {C}['sequential']['eval_every'] }}}} edits, {{{{ {C}['sequential']['probe_records'] }}}} "
                  "probe records",
    "none": "",
}
SIZE_OF = {
    "fig01": "tracing", "fig02": "tracing", "fig03": "tracing", "fig07": "tracing", "fig08": "tracing",
    "fig09": "tracing", "fig10": "tracing", "fig11": "tracing", "fig12": "variants", "fig13": "variants",
    "fig14": "tracing", "fig15": "variants", "fig16": "none", "fig05": "sweep", "fig17": "baselines",
    "fig18": "baselines", "fig23": "baselines", "fig24": "baselines", "fig06": "counterfact", "fig19": "counterfact",
    "fig20": "counterfact", "fig25": "counterfact", "fig26": "counterfact", "fig27": "counterfact",
    "fig30": "none", "fig21": "dataset", "fig22": "none", "table1": "zsre", "table2": "dataset",
    "table3": "none", "table4": "counterfact", "table5": "counterfact", "table6": "zsre",
    "table4-strict": "counterfact",
    "localization": "localization",
    "sequential": "sequential",
}
EXTRA = {
    "fig01": "Drawn for the paper's prompt when this run traced it, else for the first of ``tracing.examples``.",
    "fig11": "Atypical facts: ranked by how far the strongest MLP effect away from the last subject token "
             "exceeds the strongest effect at it (workflow/scripts/render_traces.py).",
    "fig12": "The facts of ``tracing.examples`` with the token after the subject corrupted too.",
    "table5": "Rows of the runs named in ``evaluation.compare_runs``.",
    "table6": "Rows of the runs named in ``evaluation.compare_runs``.",
    "table4-strict": "Not in the paper: Table 4's records, N and intervals, with CounterFact+ (NS+, NM+) and NKL "
                     "(Hoelscher-Obermaier et al. 2023), greedy generation efficacy ES-gen/PS-gen (Yang et al. 2025) "
                     "and EasyEdit's token accuracy beside the paper's metrics (docs/evaluation.md).",
    "localization": "Per edited layer, each fact's rewrite score under ROME against the MLP "
                    "tracing effect at its last subject token (fraction of the corruption effect restored), "
                    "with Spearman's rho; the bars: R² of the rewrite score on the edit layer and what the "
                    "tracing effect adds (docs/evaluation.md).",
    "sequential": "Not in the ROME paper: its successors' setting (docs/sequential.md); disabling edits by "
                  "r-ROME's two measures (Gupta et al., 2024).",
}
PAPER_MODEL = {"table1": ["gpt2-xl"], "table4": ["gpt2-xl"], "table5": ["gpt2-medium", "gpt2-large"],
               "table6": ["gpt2-medium", "gpt2-large"]}
NAMES = {"table4-strict": "Table 4, strict"}


def paper_value(item: str) -> str:
    text = CATALOGUE[item]["paper"]
    rows = []
    for model in PAPER_MODEL.get(item, []):
        for _label, method, values in PAPER_TABLES[(item, model)]:
            if method == "ROME":
                cols = ZSRE_COLUMNS if item in ("table1", "table6") else COUNTERFACT_COLUMNS
                rows.append(f"{model} ROME " + ", ".join(f"{c} {values[c]}" for c in cols))
    return "; ".join(x for x in [text, *rows] if x)


def caption(item: str) -> str:
    if item in NAMES:
        name = NAMES[item]
    elif item.startswith(("fig", "table")):
        number = int(item[3:]) if item.startswith("fig") else int(item[5:])
        name = f"Fig. {number}" if item.startswith("fig") else f"Table {number}"
    else:  # not a paper item: work after the paper (localization, the successors' sequential editing)
        name = "After the paper"
    parts = [f"**{name}: {CATALOGUE[item]['title']}.** {EXTRA.get(item, '')}".rstrip(),
             RUN + (f"; {SIZES[SIZE_OF[item]]}" if SIZES[SIZE_OF.get(item, 'none')] else "") + "."]
    value = paper_value(item)
    parts.append(f"Paper: {value}." if value else "Paper: no published value for this item.")
    return "\n\n".join(parts) + "\n"


def by_wildcard(wildcard: str, items: dict[str, str]) -> str:
    out = []
    for k, (value, item) in enumerate(items.items()):
        out.append(("{% if " if k == 0 else "{% elif ") + f"snakemake.wildcards.{wildcard} == '{value}' %}}")
        out.append(caption(item))
    out.append("{% endif %}")
    return "\n".join(out) + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for item in CATALOGUE:
        if item != "fig04":
            (OUT / f"{item}.rst").write_text(caption(item), encoding="utf-8")
    (OUT / "table.rst").write_text(by_wildcard("table", {t: t for t in ("table1", "table4", "table5", "table6", "table4-strict")}))
    (OUT / "text_figure.rst").write_text(by_wildcard("figure", {f: f for f in ("fig06", "fig19", "fig25")}))
    (OUT / "tracing_variant.rst").write_text(by_wildcard("number", {"13": "fig13", "15": "fig15"}))


if __name__ == "__main__":
    main()
