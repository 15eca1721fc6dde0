# Training: the configuration files the jobs read, then one job per dataset x model (see `runs`).


rule resolved_config:
    output:
        RESOLVED_CONFIG,
    log:
        f"{LOGS}/config/resolved_config.log",
    benchmark:
        f"{BENCHMARKS}/config/resolved_config.tsv"
    localrule: True
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        config=canonical(resolved_config()),
    run:
        write_yaml(output[0], json.loads(params.config), log[0])


rule run_config:
    output:
        run_settings_file("{dataset}", "{model}"),
    log:
        f"{LOGS}/config/runs/{{dataset}}/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/config/runs/{{dataset}}/{{model}}.tsv"
    localrule: True
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        config=run_fingerprint,
    run:
        write_yaml(output[0], json.loads(params.config), log[0])


rule experiment_config:
    output:
        experiment_settings_file("{name}"),
    log:
        f"{LOGS}/config/experiments/{{name}}.log",
    benchmark:
        f"{BENCHMARKS}/config/experiments/{{name}}.tsv"
    wildcard_constraints:
        name="|".join(EXPERIMENTS),
    localrule: True
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        config=experiment_fingerprint_of,
    run:
        write_yaml(output[0], json.loads(params.config), log[0])


rule train:
    input:
        # ancient: a config edit reruns only the runs whose own settings file changed (common.smk)
        config=ancient(RESOLVED_CONFIG),
        settings=lambda wildcards: run_settings_file(wildcards.dataset, wildcards.model),
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
        checkpoint=lambda wildcards, output: str(
            Path(output.summary).parent / "checkpoint.pt"
        ),
        data_path=data_path_flag,
    # A checkpoint newer than the run's settings file is from an interrupted run with the same
    # settings: --resume continues it. An older one was written with other settings: start afresh.
    shell:
        "if [ -e {params.checkpoint} ] && [ ! {params.checkpoint} -nt {input.settings} ];"
        " then rm -f {params.checkpoint}; fi;"
        " pyode train --config {input.config} --dataset {wildcards.dataset}"
        " --model {wildcards.model} --out {params.out} {params.data_path}"
        " --threads {threads} --resume --quiet > {log} 2>&1"
