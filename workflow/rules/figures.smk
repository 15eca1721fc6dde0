# Figures of the training runs, drawn by R/ggplot2 from the CSVs and summaries under RESULTS/train.
TRAINING_FIGURE_SCRIPTS = [
    "Rscripts/plot_training.R",
    "Rscripts/figures.R",
    "Rscripts/helpers.R",
]


rule training_figure:
    input:
        runs=run_outputs(["iterations.csv", "epochs.csv", "summary.json"]),
        scripts=TRAINING_FIGURE_SCRIPTS,
    output:
        pdf=report(
            f"{RESULTS}/figures/{{figure}}.pdf",
            caption="../report/training_figure.rst",
            category="Training",
            labels={"figure": "{figure}", "format": "pdf"},
        ),
        png=report(
            f"{RESULTS}/figures/{{figure}}.png",
            caption="../report/training_figure.rst",
            category="Training",
            labels={"figure": "{figure}", "format": "png"},
        ),
    log:
        f"{LOGS}/figures/{{figure}}.log",
    benchmark:
        f"{BENCHMARKS}/figures/{{figure}}.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        train_dir=f"{RESULTS}/train",
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
    shell:
        "Rscript --vanilla Rscripts/plot_training.R {wildcards.figure} {params.train_dir}"
        " {params.stem} > {log} 2>&1"
