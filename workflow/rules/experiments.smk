# Continuous-time experiments (`pyode experiment NAME`) and their figures. Each rule's settings are
# the config's experiments.NAME block (plus seed and device): changing one block reruns that
# experiment only. `tolerance` evaluates the trained MNIST ODE-Net.
EXPERIMENT_CSVS = {
    "spiral": ["trajectories.csv", "training.csv", "fits.csv", "matrices.csv"],
    "latent": ["training.csv", "metrics.csv", "examples.csv"],
    "tolerance": ["tolerance.csv", "nfe_epochs.csv"],
    "memory": ["memory.csv"],
    "euler": [
        "exponential.csv",
        "convergence.csv",
        "relaxation.csv",
        "residual_check.csv",
    ],
}
EXPERIMENT_OUTPUTS = {
    name: [f"{RESULTS}/experiments/{name}/{file}" for file in ["summary.json", *files]]
    for name, files in EXPERIMENT_CSVS.items()
}
# Everything in the config that determines one experiment's results (a change reruns it).
EXPERIMENT_FINGERPRINTS = {
    name: {
        "settings": config["experiments"].get(name) or {},
        "seed": config["seed"],
        "device": config["device"],
    }
    for name in EXPERIMENTS
}
# The memory probes run side by side on CPU, one process each (experiments.memory.jobs).
MEMORY_JOBS = int((config["experiments"].get("memory") or {}).get("jobs", 1))
EXPERIMENT_FIGURE_SCRIPTS = ["Rscripts/plot_experiment.R", "Rscripts/helpers.R"]
TOLERANCE_RUN = run_dir("mnist", "odenet")
EXPERIMENT_SHELL = (
    "pyode experiment {params.name} --config {input.config} --out {params.out}"
    " {params.run_flag} --threads {threads} > {log} 2>&1"
)


rule experiment_spiral:
    input:
        config=ancient(RESOLVED_CONFIG),
        settings=experiment_settings_file("spiral"),
    output:
        EXPERIMENT_OUTPUTS["spiral"],
    log:
        f"{LOGS}/experiments/spiral.log",
    benchmark:
        f"{BENCHMARKS}/experiments/spiral.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        name="spiral",
        out=lambda wildcards, output: os.path.dirname(output[0]),
        run_flag="",
        run=EXPERIMENT_FINGERPRINTS["spiral"],
    shell:
        EXPERIMENT_SHELL


rule experiment_latent:
    input:
        config=ancient(RESOLVED_CONFIG),
        settings=experiment_settings_file("latent"),
    output:
        EXPERIMENT_OUTPUTS["latent"],
    log:
        f"{LOGS}/experiments/latent.log",
    benchmark:
        f"{BENCHMARKS}/experiments/latent.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        name="latent",
        out=lambda wildcards, output: os.path.dirname(output[0]),
        run_flag="",
        run=EXPERIMENT_FINGERPRINTS["latent"],
    shell:
        EXPERIMENT_SHELL


rule experiment_euler:
    input:
        config=ancient(RESOLVED_CONFIG),
        settings=experiment_settings_file("euler"),
    output:
        EXPERIMENT_OUTPUTS["euler"],
    log:
        f"{LOGS}/experiments/euler.log",
    benchmark:
        f"{BENCHMARKS}/experiments/euler.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        name="euler",
        out=lambda wildcards, output: os.path.dirname(output[0]),
        run_flag="",
        run=EXPERIMENT_FINGERPRINTS["euler"],
    shell:
        EXPERIMENT_SHELL


rule experiment_memory:
    input:
        config=ancient(RESOLVED_CONFIG),
        settings=experiment_settings_file("memory"),
    output:
        EXPERIMENT_OUTPUTS["memory"],
    log:
        f"{LOGS}/experiments/memory.log",
    benchmark:
        f"{BENCHMARKS}/experiments/memory.tsv"
    conda:
        SOFTWARE_ENV
    threads: MEMORY_JOBS
    resources:
        gpu=1 if USES_GPU else 0,
        mem_mb=4000,
        runtime=60,
    params:
        name="memory",
        out=lambda wildcards, output: os.path.dirname(output[0]),
        run_flag="",
        run=EXPERIMENT_FINGERPRINTS["memory"],
    shell:
        EXPERIMENT_SHELL


rule experiment_tolerance:
    input:
        config=ancient(RESOLVED_CONFIG),
        settings=experiment_settings_file("tolerance"),
        run=[f"{TOLERANCE_RUN}/{file}" for file in RUN_FILES],
    output:
        EXPERIMENT_OUTPUTS["tolerance"],
    log:
        f"{LOGS}/experiments/tolerance.log",
    benchmark:
        f"{BENCHMARKS}/experiments/tolerance.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        gpu=1 if USES_GPU else 0,
        mem_mb=8000,
        runtime=120,
    params:
        name="tolerance",
        out=lambda wildcards, output: os.path.dirname(output[0]),
        run_flag=lambda wildcards, input: f"--run-dir {os.path.dirname(input.run[0])}",
        run=EXPERIMENT_FINGERPRINTS["tolerance"],
    shell:
        EXPERIMENT_SHELL


rule experiment_figure:
    input:
        summary=f"{RESULTS}/experiments/{{name}}/summary.json",
        scripts=EXPERIMENT_FIGURE_SCRIPTS,
    output:
        pdf=report(
            f"{RESULTS}/figures/experiment_{{name}}.pdf",
            category="Experiments",
            labels={"experiment": "{name}", "format": "pdf"},
        ),
        png=report(
            f"{RESULTS}/figures/experiment_{{name}}.png",
            category="Experiments",
            labels={"experiment": "{name}", "format": "png"},
        ),
    log:
        f"{LOGS}/figures/experiment_{{name}}.log",
    benchmark:
        f"{BENCHMARKS}/figures/experiment_{{name}}.tsv"
    wildcard_constraints:
        name="|".join(EXPERIMENTS),
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        exp_dir=lambda wildcards, input: os.path.dirname(input.summary),
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
    shell:
        "Rscript --vanilla Rscripts/plot_experiment.R {wildcards.name} {params.exp_dir}"
        " {params.stem} > {log} 2>&1"
