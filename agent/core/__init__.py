"""The pure middle of the flow: stored records -> interactions -> people and their metrics.

model (the records connectors hand the store), identity and aliases (addresses -> people),
interactions (messages and meetings -> who started, who answered), stats and rhythm (per-person
metrics as of a date), metrics (their registry), person, and pipeline (store -> people).
"""
