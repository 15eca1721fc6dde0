# Data: one rule for every data set of pyode's registry. `pyode data prepare NAME` generates what
# the data set needs (a synthetic source), checks it by loading it and writes its summary.json.


rule data:
    input:
        settings=PLAN.data_settings_file(),
        source=lambda wildcards: PLAN.data_source_files(wildcards.dataset),
    output:
        f"{RESULTS}/data/{{dataset}}/summary.json",
    log:
        f"{LOGS}/data/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/data/{{dataset}}.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        out=lambda wildcards, output: str(Path(output[0]).parent),
    shell:
        "pyode data prepare {wildcards.dataset} --settings {input.settings:q}"
        " --out {params.out:q} > {log:q} 2>&1 || {{ cat {log:q} >&2; exit 1; }}"
