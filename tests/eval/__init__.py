"""The labelled evaluation on real mail (`make eval`): see run.py."""
