"""Result objects of the engines, immutable and independent of how they are rendered:
`count.CountResult`, `laws.Law`, `laws.Family`, `laws.LawsResult`, each with `to_json()` (the
documented schema of `--json`)."""
