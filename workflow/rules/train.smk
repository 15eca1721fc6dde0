# Training: one job per dataset x model (x seed) of the config's `runs`, reading its settings file
# (rule settings).
from pyode.train.run_folder import RunFolder


rule train:
    input:
        settings=PLAN.run_settings_file(),
        data=f"{RESULTS}/data/{{dataset}}/summary.json",
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
    threads: lambda w: PLAN.run_threads(w.dataset, w.model, w.get("seed"))
    resources:
        gpu=1 if PLAN.uses_gpu else 0,
        mem_mb=8000,
        runtime=720 if PLAN.uses_gpu else 240,
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
        "if [ -e {params.checkpoint:q} ] && [ ! {params.checkpoint:q} -nt {input.settings:q} ];"
        " then rm -f {params.checkpoint:q}; fi;"
        " pyode train --settings {input.settings:q} --out {params.out:q}"
        " --threads {threads} --resume --quiet > {log:q} 2> >(tee -a {log:q} >&2)"
