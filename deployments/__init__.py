"""Recipes as Prefect deployments: typed run forms, schedules, serving and work pools.

spec.py          RecipeDeployment: a recipe, its org and user, as a deployment carries them
schema.py        the recipe's inputs as the run form's JSON Schema
source.py        finding a recipe by name in a flow-run process (deployment, or folder)
entrypoint.py    `deployments.entrypoint.<recipe>`: the flow every deployment imports
register.py      creating or replacing a deployment, and saying what changed
serving.py       `byok serve`: Prefect's Runner serving recipe deployments
local_server.py  `byok server`: a Prefect server in the background for fast local runs
prefect.yaml     the same deployments written for `prefect deploy`

Only `spec`, `schema` and `local_server` are importable without Prefect;
`local_server` must stay that way, because `byok run` consults it before
Prefect is imported.
"""
