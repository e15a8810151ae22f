# peftdeck: parameter-efficient fine-tuning, from raw runs to a slide deck.
#   snakemake --cores 4 deck                                # the reference study (config/config.yaml)
#   snakemake --cores 2 deck --configfile config/demo.yaml  # the offline demo
#   snakemake --cores 1 fetch                               # downloads only (where there is internet)
# Each study's deck is slides/<study>/deck.md (figures in slides/<study>/figures/); `html` and `pdf`
# render it. A cell is addressed by its output path; asking for one metrics.json runs exactly that cell.
# profiles/default (picked up by Snakemake itself) shows a failed job's log and redoes interrupted jobs.
from snakemake.utils import min_version

min_version("8.20")


# The reference study unless --configfile names another (configs are not merged with it).
if not workflow.configfiles:

    configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/aggregate.smk"
include: "rules/deck.smk"


onstart:
    warm_worker_start()


onsuccess:
    warm_worker_stop()


onerror:
    warm_worker_stop()


rule all:
    default_target: True
    input:
        final_outputs(),
