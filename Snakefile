# peftdeck: parameter-efficient fine-tuning, from raw runs to a slide deck.
#   snakemake --cores 4 slides/deck.md                               # the reference study (config/config.yaml)
#   snakemake --cores 2 --configfile config/demo.yaml slides/deck.md  # the offline demo
# A cell is addressed by its output path; asking for one metrics.json runs exactly that cell.
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


rule all:
    input:
        final_outputs(),
