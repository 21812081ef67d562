"""`liverseg compare`: every method's default variant on one common patient split (or K patient folds),
scored by one scorer, with paired statistics (`runs`: the runs; `report`: the report and its figures)."""
