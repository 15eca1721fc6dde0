# Continuous-time experiments (`pyode experiment NAME`) and their figures: one rule each, for every
# experiment of pyode's registry. An experiment reads its own settings file (the config's
# experiments.NAME block plus seed and device), so changing one block reruns that experiment only.


# Rewritten only when the experiment's resolved settings change (they are its params).
rule experiment_config:
    output:
        experiment_settings_file("{name}"),
    log:
        f"{LOGS}/config/experiments/{{name}}.log",
    benchmark:
        f"{BENCHMARKS}/config/experiments/{{name}}.tsv"
    localrule: True
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        settings=experiment_settings_of,
    run:
        write_yaml(output[0], json.loads(params.settings), log[0])


rule experiment:
    input:
        settings=experiment_settings_file("{name}"),
        run=experiment_run_files,
    # summary.json is written last, after the experiment's CSVs (registry: outputs); the figure
    # script stops with "missing experiment output" if one of those is absent.
    output:
        summary=f"{RESULTS}/experiments/{{name}}/summary.json",
    log:
        f"{LOGS}/experiments/{{name}}.log",
    benchmark:
        f"{BENCHMARKS}/experiments/{{name}}.tsv"
    conda:
        SOFTWARE_ENV
    threads: experiment_threads
    resources:
        gpu=experiment_gpu,
        mem_mb=experiment_mem_mb,
        runtime=experiment_runtime,
    params:
        out=lambda wildcards, output: os.path.dirname(output.summary),
        run_flag=experiment_run_flag,
    shell:
        "pyode experiment {wildcards.name} --settings {input.settings} --out {params.out}"
        " {params.run_flag} --threads {threads} > {log} 2>&1"


rule experiment_figure:
    input:
        summary=f"{RESULTS}/experiments/{{name}}/summary.json",
        scripts=FIGURE_SCRIPTS,
    output:
        pdf=report(
            f"{RESULTS}/figures/experiment_{{name}}.pdf",
            caption="../report/experiment_figure.rst",
            category="Experiments",
            labels={"experiment": "{name}", "format": "pdf"},
        ),
        png=report(
            f"{RESULTS}/figures/experiment_{{name}}.png",
            caption="../report/experiment_figure.rst",
            category="Experiments",
            labels={"experiment": "{name}", "format": "png"},
        ),
    log:
        f"{LOGS}/figures/experiment_{{name}}.log",
    benchmark:
        f"{BENCHMARKS}/figures/experiment_{{name}}.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        exp_dir=lambda wildcards, input: os.path.dirname(input.summary),
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
        package=r_package_source,
    shell:
        "Rscript --vanilla Rscripts/figure.R experiment {wildcards.name} {params.exp_dir}"
        " {params.stem} {params.package} > {log} 2>&1"
