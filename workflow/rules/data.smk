# Data: MNIST from the configured source; iceberg either generated (synthetic) or Kaggle's file checked.


rule mnist_data:
    output:
        f"{RESULTS}/data/mnist/summary.json",
    log:
        f"{LOGS}/data/mnist.log",
    benchmark:
        f"{BENCHMARKS}/data/mnist.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=config["data"]["mnist"]["source"],
        path=mnist_path_flag(),
        out=lambda wildcards, output: str(Path(output[0]).parent),
    shell:
        "pyode data prepare-mnist --source {params.source} {params.path} --out {params.out}"
        " > {log} 2>&1 || {{ cat {log} >&2; exit 1; }}"


rule iceberg_synthetic:
    output:
        f"{RESULTS}/data/iceberg/train.json",
    log:
        f"{LOGS}/data/iceberg_synthetic.log",
    benchmark:
        f"{BENCHMARKS}/data/iceberg_synthetic.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seed=config["data"]["iceberg"].get("seed", 0),
        n=config["data"]["iceberg"].get("n", 1604),
    shell:
        "pyode data iceberg-synthetic --out {output} --seed {params.seed} --n {params.n}"
        " > {log} 2>&1 || {{ cat {log} >&2; exit 1; }}"


rule iceberg_check:
    input:
        iceberg_file_if_present,
    output:
        f"{RESULTS}/data/iceberg/check.json",
    log:
        f"{LOGS}/data/iceberg_check.log",
    benchmark:
        f"{BENCHMARKS}/data/iceberg_check.tsv"
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        path=ICEBERG_FILE,
    shell:
        "pyode data check '{params.path}' --json > {output}.tmp 2> {log}"
        " && mv {output}.tmp {output}"
        " || {{ rm -f {output}.tmp; cat {log} >&2; exit 1; }}"
