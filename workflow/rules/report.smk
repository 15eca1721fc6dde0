# The provenance record and the R Markdown paper, rendered to PDF with pdflatex.


rule provenance:
    input:
        config=PLAN.settings_file("resolved"),
        summaries=PLAN.run_outputs(("summary.json",)),
    output:
        PROVENANCE,
    log:
        f"{LOGS}/report/provenance.log",
    benchmark:
        f"{BENCHMARKS}/report/provenance.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        config=PLAN.settings_files["resolved"],
    script:
        "../scripts/provenance.py"


rule paper:
    input:
        sources=paper_sources,
        package=R_PACKAGE_SOURCES,
        provenance=PROVENANCE,
        data=PLAN.data_summaries(),
        runs=PLAN.run_outputs(("epochs.csv", "summary.json")),
        figures=PLAN.training_figures(),
        experiments=PLAN.experiment_summaries(),
        experiment_figures=PLAN.experiment_figures(),
    output:
        report(PAPER, caption="../report/paper.rst", category="Paper"),
    log:
        f"{LOGS}/report/paper.log",
    benchmark:
        f"{BENCHMARKS}/report/paper.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        # RESULTS/report/paper.pdf -> RESULTS
        results=lambda wildcards, output: str(Path(output[0]).parents[1]),
        scratch=lambda wildcards, output: str(Path(output[0]).parent / ".render"),
        package=r_package_source,
    shell:
        "Rscript --vanilla workflow/scripts/render_paper.R report/paper.Rmd {output:q}"
        " {params.results:q} {input.provenance:q} {params.scratch:q} {params.package:q}"
        " > {log:q} 2>&1"
