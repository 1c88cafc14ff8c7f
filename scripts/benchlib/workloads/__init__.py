"""One module per group of workloads; each registers its workloads when imported."""
