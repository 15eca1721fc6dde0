# The per-job settings files: RESULTS/config/resolved.yaml (the whole config as pyode sees it),
# runs/DATASET/MODEL[/seed-N].yaml, data/NAME.yaml and experiments/NAME.yaml. A file is rewritten
# only when its content changes (the content is the rule's params), and each job's input is exactly
# the file its pyode command reads, so a config edit reruns only the jobs whose settings changed.


rule settings:
    output:
        PLAN.settings_file("{settings}"),
    log:
        f"{LOGS}/config/{{settings}}.log",
    benchmark:
        f"{BENCHMARKS}/config/{{settings}}.tsv"
    wildcard_constraints:
        settings="|".join(map(re.escape, PLAN.settings_files)),
    localrule: True
    conda:
        SOFTWARE_ENV
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        content=lambda wildcards: PLAN.settings_files[wildcards.settings],
    run:
        write_settings_file(output[0], params.content, log[0])
