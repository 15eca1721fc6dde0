# Data: one rule for every data set of pyode's registry. `pyode data prepare NAME` generates what
# the data set needs (a synthetic source), checks it by loading it and writes its summary.json.


# Rewritten only when the data set's resolved settings change (they are its params).
rule data_config:
    output:
        data_settings_file("{dataset}"),
    log:
        f"{LOGS}/config/data/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/config/data/{{dataset}}.tsv"
    localrule: True
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        settings=data_settings_of,
    run:
        write_yaml(output[0], json.loads(params.settings), log[0])


rule data:
    input:
        settings=data_settings_file("{dataset}"),
        source=data_source_files,
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
        "pyode data prepare {wildcards.dataset} --settings {input.settings} --out {params.out}"
        " > {log} 2>&1 || {{ cat {log} >&2; exit 1; }}"
