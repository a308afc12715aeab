# The HTML index of every figure and table with its provenance, and the audit.

rule report:
    input:
        final_targets(),
    output:
        f"{FIG}/index.html",
    shell:
        "rome report --figures {FIG} --provenance {PROV} --out {output}"
        " --title 'ROME replication: {RUN} ({MODEL})' > /dev/null"


rule audit:
    shell:
        "rome audit --dir {PROV}"
