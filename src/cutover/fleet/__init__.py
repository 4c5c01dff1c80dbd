"""Fleets: one release to many orgs in waves (`cutover fleet ...`), run on Temporal (`cutover.temporal`)."""
