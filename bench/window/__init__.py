"""`python -m bench window`: the deployment window of the seed's literal `sf` path against `cutover run`, measured in
one run on orgsim orgs started from the same scenario with the same timings (issue 8.5)."""
