"""Host implementations whose logic is domain logic (traffic states, revision naming) over a
small cloud API port; genaiops_cli/wiring.py maps each manifest `host:` kind to one."""
