"""Sub-commands of the `liverseg` console script: each module has configure(parser) and run(args) -> int."""
