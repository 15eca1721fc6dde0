# Training: the settings files the jobs read, then one job per dataset x model (see `runs`).
from pyode.train.run_folder import RunFolder


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
        config=canonical(PIPELINE_CONFIG),
    run:
        write_yaml(output[0], json.loads(params.config), log[0])


# Rewritten only when the run's resolved settings change (they are its params).
rule run_config:
    output:
        run_settings_file("{dataset}", "{model}", "{seed}"),
    log:
        f"{LOGS}/config/runs/{RUN_WILDCARDS}.log",
    benchmark:
        f"{BENCHMARKS}/config/runs/{RUN_WILDCARDS}.tsv"
    localrule: True
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        settings=run_settings_of,
    run:
        write_yaml(output[0], json.loads(params.settings), log[0])


rule train:
    input:
        settings=run_settings_file("{dataset}", "{model}", "{seed}"),
        data=dataset_inputs,
    # RUN_WILDCARDS: DATASET/MODEL, or DATASET/MODEL/seed-N when the profile has several seeds.
    output:
        iterations=f"{RESULTS}/train/{RUN_WILDCARDS}/iterations.csv",
        epochs=f"{RESULTS}/train/{RUN_WILDCARDS}/epochs.csv",
        summary=f"{RESULTS}/train/{RUN_WILDCARDS}/summary.json",
        model=f"{RESULTS}/train/{RUN_WILDCARDS}/model.pt",
    log:
        f"{LOGS}/train/{RUN_WILDCARDS}.log",
    benchmark:
        f"{BENCHMARKS}/train/{RUN_WILDCARDS}.tsv"
    conda:
        SOFTWARE_ENV
    threads: run_threads
    resources:
        gpu=1 if USES_GPU else 0,
        mem_mb=8000,
        runtime=720 if USES_GPU else 240,
    params:
        out=lambda wildcards, output: str(Path(output.summary).parent),
        checkpoint=lambda wildcards, output: str(
            RunFolder(Path(output.summary).parent).checkpoint
        ),
    # Only an interrupted run leaves a checkpoint (in the run's staging folder; a finished run has
    # none, so a forced rerun trains afresh). One newer than the run's settings file has the same
    # settings: --resume continues it. An older one was written with other settings: start afresh.
    # Errors go to the terminal as well as the log: on a full disk the log cannot take them.
    shell:
        "if [ -e {params.checkpoint} ] && [ ! {params.checkpoint} -nt {input.settings} ];"
        " then rm -f {params.checkpoint}; fi;"
        " pyode train --settings {input.settings} --out {params.out}"
        " --threads {threads} --resume --quiet > {log} 2> >(tee -a {log} >&2)"
