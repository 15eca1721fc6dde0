# Continuous-time experiments (`pyode experiment NAME`) and their figures: one rule each, for every
# experiment of pyode's registry. An experiment reads its own settings file (the config's
# experiments.NAME block plus seed and device: rule settings), so changing one block reruns that
# experiment only.


rule experiment:
    input:
        settings=PLAN.experiment_settings_file(),
        run=lambda wildcards: PLAN.experiment_run_files(wildcards.name),
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
    threads: lambda wildcards: PLAN.experiment_threads(wildcards.name)
    resources:
        gpu=lambda wildcards: PLAN.experiment_gpu(wildcards.name),
        mem_mb=lambda wildcards: registry.experiment(wildcards.name).mem_mb,
        runtime=lambda wildcards: registry.experiment(wildcards.name).runtime,
    params:
        out=lambda wildcards, output: str(Path(output.summary).parent),
        # --run-dir RUN for an experiment that evaluates a training run, else nothing
        run_flag=lambda wildcards, input: (
            ["--run-dir", str(Path(input.run[0]).parent)] if input.run else []
        ),
    shell:
        "pyode experiment {wildcards.name} --settings {input.settings:q} --out {params.out:q}"
        " {params.run_flag:q} --threads {threads} > {log:q} 2>&1"


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
        exp_dir=lambda wildcards, input: str(Path(input.summary).parent),
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
        package=r_package_source,
    shell:
        "Rscript --vanilla Rscripts/figure.R experiment {wildcards.name} {params.exp_dir:q}"
        " {params.stem:q} {params.package:q} > {log:q} 2>&1"
