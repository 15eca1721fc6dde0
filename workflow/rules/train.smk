# Training: one job per dataset x model (see `runs` in the config), each writing RESULTS/train/D/M/.


def data_path_flag(wildcards):
    """Iceberg runs read the file the data rules produced or checked; MNIST reads its source."""
    return f"--data-path '{ICEBERG_FILE}'" if wildcards.dataset == "iceberg" else ""


rule train:
    input:
        # ancient: editing one part of the config reruns only the runs whose settings changed
        # (tracked through params.run), not every run downstream of the rewritten file.
        config=ancient(RESOLVED_CONFIG),
        data=dataset_inputs,
    output:
        iterations=f"{RESULTS}/train/{{dataset}}/{{model}}/iterations.csv",
        epochs=f"{RESULTS}/train/{{dataset}}/{{model}}/epochs.csv",
        summary=f"{RESULTS}/train/{{dataset}}/{{model}}/summary.json",
        model=f"{RESULTS}/train/{{dataset}}/{{model}}/model.pt",
    log:
        f"{LOGS}/train/{{dataset}}/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/train/{{dataset}}/{{model}}.tsv"
    conda:
        SOFTWARE_ENV
    threads: run_threads
    resources:
        gpu=1 if USES_GPU else 0,
        mem_mb=8000,
        runtime=720 if USES_GPU else 240,
    params:
        run=run_fingerprint,
        out=lambda wildcards, output: str(Path(output.summary).parent),
        data_path=data_path_flag,
    shell:
        "pyode train --config {input.config} --dataset {wildcards.dataset}"
        " --model {wildcards.model} --out {params.out} {params.data_path}"
        " --threads {threads} --quiet > {log} 2>&1"
