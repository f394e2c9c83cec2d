"""Turning recipes into Prefect deployments: schedules, typed run forms, workers.

Empty until deployments land (issue 8); the package exists so the layout in
DESIGN.md holds from the first commit.
"""
