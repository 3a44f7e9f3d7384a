"""One thin module per subcommand. Each exposes `register(app)`; heavy imports stay inside
command bodies so that building the command tree (and `--help`) loads no SDK."""

# Order here is the order in `genaiops --help`.
COMMAND_MODULES = [
    "init",
    "validate",
    "schema",
    "config",
    "provision",
    "build",
    "push",
    "deploy",
    "smoke",
    "swap",
    "canary",
    "watch",
    "rollback",
    "restart",
    "status",
    "repair",
    "promote",
    "plan",
    "history",
    "diff",
    "eval",
    "data",
    "job",
    "monitor",
    "pipeline",
    "sandbox",
    "completion",
]
