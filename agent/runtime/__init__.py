"""Running over time: sync (all sources once), daemon (the schedule loop), lock (one writer),
notify (systemd), status (what ran, what failed, what is next)."""
