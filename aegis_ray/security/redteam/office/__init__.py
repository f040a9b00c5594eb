"""The office red-team world: an office suite (email, calendar, drive, banking, team chat, travel,
the user's profile, a small web) mounted as Aegis tools, with user tasks and attacker goals, each
judged by the state afterwards, and a frozen dev/test split.

Modules, one job each:
- `state`: the world's state (pydantic, deep-copyable) and how tools print an item;
- `people`, `attacker`: the world's inhabitants and accounts, and the attacker's identities;
- `seed`, `seed_comms`, `seed_assets`: the realistic seeded state every run starts from;
- `tools_*`, `toolset`: the 60+ tools over it (`office_tools(state, gate, transport)`) and the web;
- `diff`: what changed between two states, and the expectations that judge it (the labels);
- `plans`, `tasks_kit`, `tasks_*`, `tasks`: what a user task is, and the tasks;
- `carriers`, `attacks_data`, `attacks`: where attacker text can sit, and the attacker's goals;
- `split`, `split.json`: which (task, attack) pair is dev and which is test, frozen;
- `obey`, `reader`, `planner`: the simulated models (the always-obey planner, behind the
  quarantine or leaky; an honest or a compromised quarantined reader);
- `runner`, `report`, `bench`: one run, the figures, and the whole benchmark
  (`benchmarks/redteam.py --world office`).

Written before the defences that will be measured on it (issue 14, phase 1): nothing here is
fitted to what the current defences catch.
"""
