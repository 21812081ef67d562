"""The `liverseg` console script (`liverseg.cli.main:main`) and its sub-commands: each module has configure(parser) and run(args) -> int."""
