# The ROME paper as one DAG: data -> COUNTERFACT -> statistics -> tracing -> editing ->
# evaluation -> every figure and table under figures/<run_name>/, with an HTML index.
#
#   snakemake --cores all                                     # embedded default (Gemma 3 270M, CPU)
#   snakemake --cores all --configfile config/paper-gpt2-xl.yaml   # the paper (GPU)
#   snakemake -n                                              # list what would run
#   snakemake --report report.html                            # Snakemake's report of a finished run
#
# Rules only call the console scripts `counterfact` and `rome` (or small scripts in
# workflow/scripts/); the science lives in src/. The configuration is checked against
# workflow/schemas/config.schema.yaml before anything runs (workflow/rules/common.smk).

configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/statistics.smk"
include: "workflow/rules/tracing.smk"
include: "workflow/rules/editing.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/localization.smk"
include: "workflow/rules/sequential.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        final_targets(),
        f"{FIG}/index.html",
    default_target: True
