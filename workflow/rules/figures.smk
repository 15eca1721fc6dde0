# Figures of the training runs, drawn by the R package pyode (installed by `make setup`) from the
# CSVs and summaries under RESULTS/train. Every figure rule checks that the installed package is
# the source below, and reruns when that source changes.
rule training_figure:
    input:
        runs=PLAN.run_outputs(("iterations.csv", "epochs.csv", "summary.json")),
        scripts=FIGURE_SCRIPTS,
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
        # RESULTS/figures/FIGURE.pdf -> RESULTS/train
        train_dir=lambda wildcards, output: str(Path(output.pdf).parents[1] / "train"),
        package=r_package_source,
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
    shell:
        "Rscript --vanilla Rscripts/figure.R training {wildcards.figure} {params.train_dir:q}"
        " {params.stem:q} {params.package:q} > {log:q} 2>&1"
