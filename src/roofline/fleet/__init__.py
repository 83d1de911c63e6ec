"""Many ranks: find the per-rank traces of a directory, classify each (the map, on a local
process pool or on Dask), and reduce the small per-rank figures to the fleet summary
(:mod:`roofline.analysis.fleet`)."""
