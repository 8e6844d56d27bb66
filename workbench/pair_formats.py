"""The names of the preference-file formats, in one place: `config` checks `FORMAT:PATH` sources against them and
`data/formats.py` maps each to its row parser (`workbench data prepare --format NAME`)."""

PAIR_FORMATS = ("hh-rlhf", "shp", "helpsteer", "pku-saferlhf", "ultrafeedback", "ultrafeedback-binarized",
                "ultrainteract", "capybara", "orca", "reward-bench", "pairs")
